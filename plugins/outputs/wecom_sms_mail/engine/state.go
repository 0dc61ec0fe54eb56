package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/atomicfile"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/health"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/oncall"
)

// stateVersion 2 replaced version 1's "told" (alert → channels told) with
// the delivery log; version 1 files are migrated on load.
const stateVersion = 2

// State is the state file: what must survive a kill -9.
type State struct {
	Version int           `json:"version"`
	SavedAt time.Time     `json:"saved_at"`
	Alerts  []alert.Alert `json:"alerts"`
	// Collectors are what the output knows of its collectors, so that one
	// that stays silent across a restart is still noticed.
	Collectors []health.Collector `json:"collectors,omitempty"`
	// UsedLinks are the signed links that acted, until they expire.
	UsedLinks map[string]UsedLink `json:"used_links,omitempty"`
	// Escalations are the escalations under way: the step reached and the
	// calls placed.
	Escalations []oncall.Escalation `json:"escalations,omitempty"`
	notify.State

	Told map[string][]string `json:"told,omitempty"` // version 1 only
}

// Migrate turns a version 1 state into the current one: each channel told
// about an alert counts as delivered when the file was saved, the best
// bound the file holds.
func (s *State) Migrate() {
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

// ReadState loads path. A missing file is an empty state. A corrupt one
// is moved aside (quarantined) and reported; the plugin starts empty.
func ReadState(path string, now time.Time) (s *State, quarantined string, err error) {
	data, found, err := atomicfile.ReadPrivate(path)
	if err != nil {
		return nil, "", fmt.Errorf("state file: %w", err)
	}
	if !found {
		return &State{}, "", nil
	}
	s = &State{}
	decodeErr := json.Unmarshal(data, s)
	if decodeErr == nil {
		s.Migrate()
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
	return &State{}, aside, fmt.Errorf("state file %s is corrupt (%v); moved it to %s and started empty", path, decodeErr, aside)
}

// changed is the dispatcher's hook: after a delivery the state is saved at
// once (a kill must not cause a duplicate); other changes within a tick.
func (e *Engine) changed(urgent bool) {
	e.dirty.Store(true)
	if urgent {
		e.Save()
	}
}

// Save writes the state file and tells the member. A member that does not
// act saves nothing: a standby's state file is the cache of the pair's log.
func (e *Engine) Save() {
	standalone := isStandalone(e.member)
	if (standalone && e.cfg.StateFile == "") || !e.member.Acting() {
		e.dirty.Store(false)
		return
	}
	e.saveMu.Lock()
	defer e.saveMu.Unlock()
	e.dirty.Store(false)
	var mark uint64
	if e.journal != nil {
		mark = e.journal.mark()
	}
	replicated := e.member.DeliveryMark()
	s := &State{Version: stateVersion, SavedAt: time.Now()}
	e.mu.Lock()
	s.Alerts = e.alerts.Snapshot()
	s.Collectors = e.health.Snapshot()
	s.UsedLinks = e.liveLinks(s.SavedAt)
	if e.cfg.OnCall != nil {
		s.Escalations = e.cfg.OnCall.Book.Snapshot()
	}
	d := e.dispatcher
	e.mu.Unlock()
	s.State = d.Snapshot()
	data, err := json.Marshal(s)
	if err == nil && e.cfg.StateFile != "" {
		err = atomicfile.Write(e.cfg.StateFile, data)
	}
	if err != nil {
		e.dirty.Store(true)
		e.log.Errorf("Saving state: %v", err)
	}
	// Replicated even when the local file failed: the log is what the
	// other member takes over from.
	e.member.Saved(data, s.SavedAt, replicated)
	if err == nil && e.journal != nil {
		e.journal.truncate(mark)
	}
}

// MarkDirty asks for a save at the next tick.
func (e *Engine) MarkDirty() { e.dirty.Store(true) }

// RestoreFile loads the state file and its delivery journal.
func (e *Engine) RestoreFile(now time.Time) error {
	if e.cfg.StateFile == "" {
		return nil
	}
	s, quarantined, err := ReadState(e.cfg.StateFile, now)
	if err != nil && quarantined == "" {
		return err
	}
	if err != nil {
		e.log.Error(err)
	}
	records, err := ReadJournal(e.journal.path)
	if err != nil {
		return err
	}
	e.Restore(s, records, now)
	if len(s.Alerts) > 0 || len(s.Queues) > 0 {
		e.log.Infof("Restored %d firing alert(s) and %d channel queue(s) from %s", len(s.Alerts), len(s.Queues), e.cfg.StateFile)
	}
	return nil
}

// LocalJournal returns what the state file's delivery journal holds (a
// takeover replays it too: it may hold this member's last delivery,
// accepted before a kill cut the replication).
func (e *Engine) LocalJournal() ([]notify.Delivered, error) {
	if e.journal == nil {
		return nil, nil
	}
	return ReadJournal(e.journal.path)
}

// Restore replaces the engine's state with a saved one and the deliveries
// recorded after it, as at a start (a takeover restores the pair's log
// this way); the dispatcher has not run yet.
func (e *Engine) Restore(s *State, records []notify.Delivered, now time.Time) {
	e.mu.Lock()
	e.reset()
	e.alerts.Restore(s.Alerts, now)
	e.health.Restore(s.Collectors, now)
	e.usedLinks = map[string]UsedLink{}
	for id, u := range s.UsedLinks {
		e.usedLinks[id] = u
	}
	if e.cfg.OnCall != nil {
		e.cfg.OnCall.Book.Restore(s.Escalations)
	}
	d := e.dispatcher
	e.mu.Unlock()
	d.Restore(s.State)
	if len(records) > 0 {
		d.Replay(records)
		e.dirty.Store(true)
	}
}

// Kept is an input a member kept while it did not act.
type Kept struct {
	At time.Time
	Input
}

// Resume makes the engine act, under its lock so that no input slips
// between: it applies the inputs the member kept (drain) that the
// restored state may lack — those from since on, an observation only when
// newer than its alert's last — then calls activate (after which the
// member acts) and starts the dispatcher's workers. It returns how many
// inputs it applied.
func (e *Engine) Resume(ctx context.Context, wg *sync.WaitGroup, since time.Time, drain func() []Kept, activate func()) int {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	seen := map[string]time.Time{}
	for _, a := range e.alerts.Snapshot() {
		seen[a.Key] = a.SeenAt
	}
	replayed := 0
	for _, k := range drain() {
		if k.At.Before(since) {
			continue
		}
		if k.Gather != nil {
			for _, obs := range e.health.Observe(*k.Gather, now) {
				e.observe(obs, now)
			}
		} else if at, ok := seen[k.Obs.Key]; !ok || k.Obs.At.After(at) {
			e.observe(k.Obs, now)
		}
		replayed++
	}
	activate()
	e.runCtx = ctx
	e.dispatcher.Run(ctx, wg)
	return replayed
}
