package wecom_sms_mail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/heartbeat"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
)

// TestNotify sends one test message to every distinct destination, one
// attempt each, and prints a line per destination: its route ("default" or
// "route N"), channel kind, redacted destination, and "ok" or the error.
func (p *WeComSMSMail) TestNotify(ctx context.Context, out io.Writer) error {
	data := p.builder().Sample(time.Now())
	failed := false
	if p.pair != nil {
		actx, cancel := context.WithTimeout(ctx, time.Duration(p.Cluster.SessionTimeout))
		result, err := p.pair.status(actx)
		cancel()
		if err != nil {
			failed = true
			result = err.Error()
		}
		fmt.Fprintf(out, "cluster %s/%s: %s\n", p.Cluster.Topic, p.Cluster.Group, result)
	}
	for _, ch := range p.channels {
		result := "ok"
		if err := p.testChannel(ctx, ch, data); err != nil {
			failed = true
			result = err.Error()
		}
		fmt.Fprintf(out, "%s %s %s: %s\n", p.dests.labels[ch.ID()], ch.Kind(), ch.Destination(), result)
	}
	if p.am != nil {
		results := p.am.TestNotify(ctx, time.Now())
		for _, u := range p.am.URLs() {
			result := "ok"
			if err := results[u]; err != nil {
				failed = true
				result = err.Error()
			}
			fmt.Fprintf(out, "default alertmanager %s: %s\n", p.am.Shown(u), result)
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
	if p.beat != nil {
		for _, u := range p.beat.URLs() {
			result := "ok"
			actx, cancel := context.WithTimeout(ctx, time.Duration(p.Timeout))
			if err := p.beat.Ping(actx, u); err != nil {
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

func (p *WeComSMSMail) testChannel(ctx context.Context, ch notify.Channel, data *render.TemplateData) error {
	deliveries, err := ch.Prepare(data)
	if err != nil {
		return err
	}
	for i := range deliveries {
		actx, cancel := context.WithTimeout(ctx, time.Duration(p.Timeout))
		err := ch.Deliver(actx, &deliveries[i])
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}
