package cluster

import (
	"context"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/silence"
)

// syncSilences makes the silence file and the log agree, on every member:
// `-silence add` or `expire` on any host writes the local file; this
// appends what the log lacks and writes into the file what it lacks
// (silence.Reconcile).
func (m *Member) syncSilences(ctx context.Context, now time.Time) {
	s := m.silences
	if s == nil {
		return
	}
	// The tick refreshed the store from the file just before.
	toAppend, merged := silence.Reconcile(s.List(), m.clog.Replica().Silences, now)
	for _, l := range toAppend {
		actx, cancel := context.WithTimeout(ctx, time.Duration(m.cfg.SessionTimeout)/2)
		err := m.clog.AppendSilence(actx, l)
		cancel()
		if err != nil {
			m.log.Errorf("Cluster: replicating silence %s: %v", l.ID, err)
		}
	}
	if merged == nil {
		return
	}
	if err := s.Replace(merged, now); err != nil {
		m.log.Errorf("Cluster: writing replicated silences to %s: %v", s.Path(), err)
	}
}
