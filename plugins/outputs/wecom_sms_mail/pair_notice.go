package wecom_sms_mail

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
)

// noticeKinds are the channels a takeover is announced on: those that
// carry free text. SMS templates are fixed, and webhooks and Alertmanager
// take alerts, not news about the alerting.
var noticeKinds = []string{"wecom", "email", "dingtalk", "feishu"}

// TakeoverNotice is the announcement's text.
func TakeoverNotice(lang, member, previous string) string {
	if lang == "en" {
		return fmt.Sprintf("Alerting host changed: %s took over from %s", member, previous)
	}
	return fmt.Sprintf("告警主机切换：%s 接替 %s", member, previous)
}

// announce tells the default destinations, once, that this member took
// over, with the counts of the alerts still firing. A failed attempt is retried a few
// times; a lost lease ends it.
func (pr *pair) announce(ctx context.Context, previous string) {
	p := pr.p
	p.mu.Lock()
	firing := p.alerts.Snapshot()
	p.mu.Unlock()
	now := time.Now()
	notes := make([]alert.Notification, len(firing))
	for i, a := range firing {
		notes[i] = alert.Notification{Kind: alert.KindRepeat, Alert: a, At: now}
	}
	data := p.builder().Notice(TakeoverNotice(p.Language, pr.cfg.MemberName, previous), notes)
	for _, ch := range p.channels {
		if !slices.Contains(p.dests.router.Defaults, ch.ID()) || !slices.Contains(noticeKinds, ch.Kind()) {
			continue
		}
		var err error
		for attempt := 0; attempt < 3; attempt++ {
			if !pr.mayDeliver() || ctx.Err() != nil {
				return
			}
			if err = p.testChannel(ctx, ch, data); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(p.retryBase << attempt):
			}
		}
		if err != nil {
			pr.log.Errorf("Cluster: announcing the takeover on %s: %v", ch.ID(), err)
		}
	}
}
