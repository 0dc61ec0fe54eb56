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
	beat, am := p.parts.beat, p.parts.am
	if beat != nil {
		every = beat.Interval()
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if !p.engine.Healthy(now) {
				p.Log.Debug("Heartbeat held: no collector is reporting cleanly")
				continue
			}
			if beat != nil {
				beat.Beat(ctx)
			}
			if am != nil {
				if err := am.Watchdog(ctx, now, every, nil); err != nil {
					p.Log.Warnf("alertmanager watchdog: %v", err)
				}
			}
		}
	}
}
