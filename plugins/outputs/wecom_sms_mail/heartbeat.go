package wecom_sms_mail

import (
	"context"
	"time"
)

// heartbeatLoop proves the pipeline alive each heartbeat interval (to the
// heartbeat URLs and, with the Alertmanager channel, as the Watchdog
// alert) while the collectors report cleanly: a heartbeat says collect →
// flag → alert works, not only that a process runs.
func (p *WeComSMSMail) heartbeatLoop(ctx context.Context) {
	every := time.Minute
	if p.beat != nil {
		every = p.beat.Interval()
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			p.mu.Lock()
			healthy := p.health.Healthy(now)
			p.mu.Unlock()
			if !healthy {
				p.Log.Debug("Heartbeat held: no collector is reporting cleanly")
				continue
			}
			if p.beat != nil {
				p.beat.Beat(ctx)
			}
			if p.am != nil {
				if err := p.am.Watchdog(ctx, now, every, nil); err != nil {
					p.Log.Warnf("alertmanager watchdog: %v", err)
				}
			}
		}
	}
}
