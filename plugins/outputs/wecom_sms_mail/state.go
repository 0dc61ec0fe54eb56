package wecom_sms_mail

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/atomicfile"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/health"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
)

// stateVersion 2 replaced version 1's "told" (alert → channels told) with
// the delivery log; version 1 files are migrated on load.
const stateVersion = 2

// savedState is the state file: what must survive a kill -9.
type savedState struct {
	Version int           `json:"version"`
	SavedAt time.Time     `json:"saved_at"`
	Alerts  []alert.Alert `json:"alerts"`
	// Collectors are what the output knows of its collectors, so that one
	// that stays silent across a restart is still noticed.
	Collectors []health.Collector `json:"collectors,omitempty"`
	// UsedLinks are the signed links that acted, until they expire.
	UsedLinks map[string]usedLink `json:"used_links,omitempty"`
	notify.State

	Told map[string][]string `json:"told,omitempty"` // version 1 only
}

// migrate turns a version 1 state into the current one: each channel told
// about an alert counts as delivered when the file was saved, the best
// bound the file holds.
func (s *savedState) migrate() {
	if s.Version != 1 {
		return
	}
	started := map[string]alert.Alert{}
	for _, a := range s.Alerts {
		started[a.Key] = a
	}
	s.Sent = notify.Log{}
	for key, ids := range s.Told {
		a, firing := started[key]
		if !firing {
			continue
		}
		s.Sent[key] = map[string]*notify.LogEntry{}
		for _, id := range ids {
			s.Sent[key][id] = &notify.LogEntry{Since: a.StartedAt, Delivered: s.SavedAt, Level: a.NotifiedLevel}
		}
	}
	s.Told, s.Version = nil, stateVersion
}

// readState loads path. A missing file is an empty state. A corrupt one
// is moved aside (quarantined) and reported; the plugin starts empty.
func readState(path string, now time.Time) (s *savedState, quarantined string, err error) {
	data, found, err := atomicfile.ReadPrivate(path)
	if err != nil {
		return nil, "", fmt.Errorf("state file: %w", err)
	}
	if !found {
		return &savedState{}, "", nil
	}
	s = &savedState{}
	decodeErr := json.Unmarshal(data, s)
	if decodeErr == nil {
		s.migrate()
	}
	if decodeErr == nil && s.Version != stateVersion {
		decodeErr = fmt.Errorf("version %d, want %d", s.Version, stateVersion)
	}
	if decodeErr == nil {
		return s, "", nil
	}
	aside := fmt.Sprintf("%s.corrupt-%s", path, now.UTC().Format("20060102T150405"))
	if err := os.Rename(path, aside); err != nil {
		return nil, "", fmt.Errorf("state file %s is corrupt (%v) and could not be moved aside: %w", path, decodeErr, err)
	}
	return &savedState{}, aside, fmt.Errorf("state file %s is corrupt (%v); moved it to %s and started empty", path, decodeErr, aside)
}

// changed is the dispatcher's hook: after a delivery the state is saved at
// once (a kill must not cause a duplicate); other changes within a tick.
func (p *WeComSMSMail) changed(urgent bool) {
	p.dirty.Store(true)
	if urgent {
		p.save()
	}
}

func (p *WeComSMSMail) save() {
	standalone := p.pair == nil
	if (standalone && p.StateFile == "") || (!standalone && !p.pair.acting()) {
		// Nothing to keep, or a standby's: its state file is the cache
		// of the log (pair.tick).
		p.dirty.Store(false)
		return
	}
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	p.dirty.Store(false)
	var mark, replicated uint64
	if p.journal != nil {
		mark = p.journal.mark()
	}
	if !standalone {
		replicated = p.pair.deliveryMark()
	}
	s := &savedState{Version: stateVersion, SavedAt: time.Now()}
	p.mu.Lock()
	s.Alerts = p.alerts.Snapshot()
	s.Collectors = p.health.Snapshot()
	s.UsedLinks = p.liveLinks(s.SavedAt)
	d := p.dispatcher
	p.mu.Unlock()
	s.State = d.Snapshot()
	data, err := json.Marshal(s)
	if err == nil && p.StateFile != "" {
		err = atomicfile.Write(p.StateFile, data)
	}
	if err != nil {
		p.dirty.Store(true)
		p.Log.Errorf("Saving state: %v", err)
	}
	if !standalone {
		// Replicated even when the local file failed: the log is what the
		// other member takes over from.
		p.pair.appendState(data, s.SavedAt, replicated)
	}
	if err == nil && p.journal != nil {
		p.journal.truncate(mark)
	}
}
