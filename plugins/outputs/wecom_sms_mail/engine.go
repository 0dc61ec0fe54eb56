package wecom_sms_mail

import (
	"context"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/health"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
)

// newEngine builds the alert state, the collector tracker and the
// dispatcher, empty. A takeover of the HA pair builds them afresh before it
// restores the replicated state; p.mu is held or nothing runs yet.
func (p *WeComSMSMail) newEngine() {
	p.health = health.New(health.Policy{FailingAfter: p.CollectFailingAfter, SilentAfter: time.Duration(p.CollectorSilentAfter)})
	p.alerts = alert.NewAlerts(alert.Policy{StaleAfter: time.Duration(p.StaleAfter),
		History: alert.History{Window: time.Duration(p.ChartWindow), Max: chartPoints}})
	var mayDeliver func() bool
	if p.pair != nil {
		mayDeliver = p.pair.mayDeliver
	}
	var links func(string, render.AlertView) []render.Link
	if p.web != nil {
		links = p.links
	}
	p.dispatcher = notify.New(p.channels, p.Log, notify.Options{
		Lang:         p.Language,
		Dashboard:    p.dashboard,
		GroupWait:    time.Duration(p.GroupWait),
		StaleAfter:   time.Duration(p.StaleAfter),
		Repeat:       time.Duration(p.RepeatInterval),
		SendResolved: p.SendResolved,
		MaxRetries:   p.MaxRetries,
		RetryBase:    p.retryBase,
		Timeout:      time.Duration(p.Timeout),
		Route:        p.dests.routeOf,
		Silenced:     p.silenced,
		Quiet:        p.dests.quietOf,
		Charts:       p.charts,
		Location:     p.location,
		History:      p.history,
		OnChange:     p.changed,
		OnDelivered:  p.delivered,
		MayDeliver:   mayDeliver,
		Links:        links,
	})
}

// builder builds every message's data: deliveries, -preview, -test-notify,
// the page and the notices.
func (p *WeComSMSMail) builder() render.Builder {
	return render.Builder{Lang: p.Language, StaleAfter: time.Duration(p.StaleAfter), Location: p.location}
}

// restoreFile loads the state file and its delivery journal.
func (p *WeComSMSMail) restoreFile(now time.Time) error {
	if p.StateFile == "" {
		return nil
	}
	s, quarantined, err := readState(p.StateFile, now)
	if err != nil && quarantined == "" {
		return err
	}
	if err != nil {
		p.Log.Error(err)
	}
	records, err := readJournal(p.journal.path)
	if err != nil {
		return err
	}
	p.restore(s, records, now)
	if len(s.Alerts) > 0 || len(s.Queues) > 0 {
		p.Log.Infof("Restored %d firing alert(s) and %d channel queue(s) from %s", len(s.Alerts), len(s.Queues), p.StateFile)
	}
	return nil
}

// restore loads a saved state and the deliveries recorded after it into
// the engine, which has not run yet.
func (p *WeComSMSMail) restore(s *savedState, records []notify.Delivered, now time.Time) {
	p.mu.Lock()
	p.alerts.Restore(s.Alerts, now)
	p.health.Restore(s.Collectors, now)
	p.usedLinks = map[string]usedLink{}
	for id, u := range s.UsedLinks {
		p.usedLinks[id] = u
	}
	d := p.dispatcher
	p.mu.Unlock()
	d.Restore(s.State)
	if len(records) > 0 {
		d.Replay(records)
		p.dirty.Store(true)
	}
}

// tickLoop is the engine's clock: reminders, staleness and collector
// silence each tick, the HA pair's sync, and the save of a changed state.
func (p *WeComSMSMail) tickLoop(ctx context.Context) {
	t := time.NewTicker(p.tickEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			p.silences.refresh(now)
			if p.pair != nil {
				p.pair.tick(ctx, now)
			}
			p.mu.Lock()
			if p.pair != nil && !p.pair.acting() {
				p.mu.Unlock()
				continue
			}
			d := p.dispatcher
			for _, obs := range p.health.Tick(now) {
				p.observe(obs, now)
			}
			stale := p.alerts.Tick(now, p.health.Judge)
			firing := p.alerts.Snapshot()
			p.mu.Unlock()
			d.Add(stale...)
			d.Remind(firing, now)
			if p.am != nil {
				for _, n := range stale {
					p.am.Resolve(n)
				}
				p.am.Sync(ctx, firing, now)
			}
			if p.dirty.Load() {
				p.save()
			}
		}
	}
}
