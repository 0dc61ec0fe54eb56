package cluster

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/oncall"
)

// onCallSync is what the member replicates of on call: the roster
// overrides (both ways, as silences) and the call results a standby
// received, which the active member applies.
type onCallSync struct {
	overrides *oncall.Store
	path      string
	apply     func(callID, result string)
	applied   map[string]bool // call records applied, by key
}

// SetOnCall tells the member the override file and how the engine applies
// a call result; call before Begin.
func (m *Member) SetOnCall(overrides *oncall.Store, path string, apply func(callID, result string)) {
	m.onCall = onCallSync{overrides: overrides, path: path, apply: apply, applied: map[string]bool{}}
}

// ForwardCall appends a call result this member received while standing
// by: the active member applies it within a tick.
func (m *Member) ForwardCall(ctx context.Context, callID, result string) error {
	actx, cancel := context.WithTimeout(ctx, time.Duration(m.cfg.SessionTimeout)/2)
	defer cancel()
	return m.clog.AppendCall(actx, CallRecord{CallID: callID, Result: result, At: time.Now()})
}

func (m *Member) syncOnCall(ctx context.Context, now time.Time) {
	s := &m.onCall
	if m.clog == nil || (s.overrides == nil && s.apply == nil) {
		return
	}
	rep := m.clog.Replica()
	if s.overrides != nil {
		local := s.overrides.List()
		logged := make([]oncall.Override, 0, len(rep.Overrides))
		for _, o := range rep.Overrides {
			logged = append(logged, o)
		}
		sort.Slice(logged, func(i, j int) bool { return logged[i].Created.Before(logged[j].Created) })
		merged := oncall.Merge(local, logged)
		for _, o := range merged {
			if old, ok := rep.Overrides[o.ID]; ok && old.Same(o) {
				continue
			}
			actx, cancel := context.WithTimeout(ctx, time.Duration(m.cfg.SessionTimeout)/2)
			err := m.clog.AppendOverride(actx, o)
			cancel()
			if err != nil {
				m.log.Errorf("Cluster: replicating roster override %s: %v", o.ID, err)
			}
		}
		if !slices.EqualFunc(local, merged, oncall.Override.Same) {
			if err := oncall.SaveOverrides(s.path, merged); err != nil {
				m.log.Errorf("Cluster: writing replicated roster overrides to %s: %v", s.path, err)
			} else {
				s.overrides.Refresh(now)
			}
		}
	}
	if s.apply == nil || !m.Acting() {
		return
	}
	for _, c := range rep.Calls {
		if s.applied[c.key()] {
			continue
		}
		s.applied[c.key()] = true
		s.apply(c.CallID, c.Result)
	}
}
