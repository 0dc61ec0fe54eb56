package wecom_sms_mail

import (
	"context"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/cluster"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/route"
)

// silenceKeep is how long an ended silence stays in the file (as
// route.AddSilence prunes).
const silenceKeep = 7 * 24 * time.Hour

// syncSilences makes the silence file and the log agree, on every member:
// `-silence add` or `expire` on any host writes the local file; this
// appends what the log lacks and writes into the file what it lacks. Both
// sides merge the same way (cluster.MergeSilence), so they converge.
func (pr *pair) syncSilences(ctx context.Context, now time.Time) {
	s := pr.p.silences
	if s == nil {
		return
	}
	// The tick refreshed the store from the file just before.
	local := s.list()
	logged := pr.clog.Replica().Silences
	byID := make(map[string]route.Silence, len(local))
	for _, l := range local {
		byID[l.ID] = l
		if have, ok := logged[l.ID]; ok && cluster.MergeSilence(have, l).EndsAt.Equal(have.EndsAt) {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, time.Duration(pr.cfg.SessionTimeout)/2)
		err := pr.clog.AppendSilence(actx, l)
		cancel()
		if err != nil {
			pr.log.Errorf("Cluster: replicating silence %s: %v", l.ID, err)
		}
	}
	changed := false
	for id, r := range logged {
		l, ok := byID[id]
		if now.Sub(r.EndsAt) >= silenceKeep || (ok && cluster.MergeSilence(l, r).EndsAt.Equal(l.EndsAt)) {
			continue
		}
		byID[id] = r
		changed = true
	}
	if !changed {
		return
	}
	merged := make(route.Silences, 0, len(byID))
	for _, l := range local {
		merged = append(merged, byID[l.ID])
		delete(byID, l.ID)
	}
	for _, r := range byID {
		merged = append(merged, r)
	}
	if err := route.SaveSilences(s.path, merged); err != nil {
		pr.log.Errorf("Cluster: writing replicated silences to %s: %v", s.path, err)
		return
	}
	s.refresh(now)
}
