package wecom_sms_mail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/heartbeat"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
)

// TestNotify sends one test message to every distinct destination, one
// attempt each, and prints a line per destination: its route ("default" or
// "route N"), channel kind, redacted destination, and "ok" or the error.
func (p *WeComSMSMail) TestNotify(ctx context.Context, out io.Writer) error {
	data := p.engine.Builder().Sample(time.Now())
	pt := p.parts
	failed := false
	if p.member != nil {
		actx, cancel := context.WithTimeout(ctx, time.Duration(p.Cluster.SessionTimeout))
		result, err := p.member.Status(actx)
		cancel()
		if err != nil {
			failed = true
			result = err.Error()
		}
		fmt.Fprintf(out, "cluster %s/%s: %s\n", p.Cluster.Topic, p.Cluster.Group, result)
	}
	for _, ch := range pt.channels {
		result := "ok"
		if err := notify.Try(ctx, ch, data, time.Duration(p.Timeout)); err != nil {
			failed = true
			result = err.Error()
		}
		fmt.Fprintf(out, "%s %s %s: %s\n", pt.dests.labels[ch.ID()], ch.Kind(), ch.Destination(), result)
	}
	if pt.am != nil {
		results := pt.am.TestNotify(ctx, time.Now())
		for _, u := range pt.am.URLs() {
			result := "ok"
			if err := results[u]; err != nil {
				failed = true
				result = err.Error()
			}
			fmt.Fprintf(out, "default alertmanager %s: %s\n", pt.am.Shown(u), result)
		}
	}
	if p.web != nil {
		result := "ok"
		actx, cancel := context.WithTimeout(ctx, time.Duration(p.Timeout))
		if err := p.checkWeb(actx); err != nil {
			failed = true
			result = err.Error()
		}
		cancel()
		fmt.Fprintf(out, "web %s: %s\n", p.Web.ExternalURL, result)
	}
	if pt.beat != nil {
		for _, u := range pt.beat.URLs() {
			result := "ok"
			actx, cancel := context.WithTimeout(ctx, time.Duration(p.Timeout))
			if err := pt.beat.Ping(actx, u); err != nil {
				failed = true
				result = err.Error()
			}
			cancel()
			fmt.Fprintf(out, "heartbeat %s: %s\n", heartbeat.Shown(u), result)
		}
	}
	if failed {
		return errors.New("at least one destination failed")
	}
	return nil
}
