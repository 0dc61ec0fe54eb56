package wecom_sms_mail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/heartbeat"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/sms"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/oncall"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
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
		if ch.Kind() == "voice" {
			continue // a test calls nobody unless -call asks (below)
		}
		result := "ok"
		if err := notify.Try(ctx, ch, data, time.Duration(p.Timeout)); err != nil {
			failed = true
			result = err.Error()
		}
		fmt.Fprintf(out, "%s %s %s: %s\n", pt.dests.labels[ch.ID()], ch.Kind(), ch.Destination(), result)
	}
	if pt.voice != nil {
		result, err := p.testVoice(ctx, data)
		if err != nil {
			failed = true
			result = err.Error()
		}
		dest := pt.voice.Destination()
		if dest == "" {
			dest = "(escalation calls)"
		}
		fmt.Fprintf(out, "voice %s: %s\n", dest, result)
	}
	if pt.oncall != nil {
		now := time.Now()
		for _, r := range pt.oncall.Book.Rosters {
			s := r.At(now, pt.overrides.List())
			result := fmt.Sprintf("%s on call until %s", s.Person.Name, s.Ends.In(r.Location).Format("2006-01-02 15:04:05 -07:00"))
			if s.Person.Phone == "" {
				result += " (no phone: calls and SMS cannot reach them)"
			}
			fmt.Fprintf(out, "oncall %s: %s\n", r.Name, result)
		}
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

// testVoice checks the voice credentials with a signed request that
// places no call; with -call (TestCall) it places exactly one, to the
// first of voice.phone_numbers, else the first roster's person on call.
func (p *WeComSMSMail) testVoice(ctx context.Context, data *render.TemplateData) (string, error) {
	pt := p.parts
	actx, cancel := context.WithTimeout(ctx, time.Duration(p.Timeout))
	defer cancel()
	if !p.TestCall {
		if err := pt.voice.Check(actx); err != nil {
			return "", err
		}
		return "ok (credentials checked, no call placed; -call places one)", nil
	}
	phone := ""
	if len(p.Voice.PhoneNumbers) > 0 {
		phone, _ = sms.NormalizePhone(p.Voice.PhoneNumbers[0])
	} else if pt.oncall != nil && len(pt.oncall.Book.Rosters) > 0 {
		r := pt.oncall.Book.Rosters[0]
		phone = r.At(time.Now(), pt.overrides.List()).Person.Phone
	}
	if phone == "" {
		return "", errors.New("-call: no number to call: set voice.phone_numbers or a roster with phones")
	}
	params, err := pt.voice.Params(data)
	if err != nil {
		return "", err
	}
	id, err := pt.voice.Call(actx, phone, params, "test")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("ok (called %s: call %s)", oncall.MaskPhone(phone), id), nil
}
