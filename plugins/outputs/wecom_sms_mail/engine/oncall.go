package engine

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/voice"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/oncall"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
)

// OnCall is on call as the engine runs it: the rosters and escalations
// (package oncall), the overrides in force, and the channels the steps
// use.
type OnCall struct {
	Book *oncall.Book
	// Overrides returns the roster overrides (the override file); nil:
	// none.
	Overrides func() []oncall.Override
	// Voice places the calls; nil without [outputs.wecom_sms_mail.voice].
	Voice *voice.Channel
	// Channels are the channels a step's notify names, by kind: the
	// default route's.
	Channels map[string][]notify.Channel
	// Quiet are the quiet hours that hold a step whose level does not pass
	// quiet_hours_min_level; nil: none.
	Quiet notify.QuietHours
}

func (o *OnCall) overrides() []oncall.Override {
	if o.Overrides == nil {
		return nil
	}
	return o.Overrides()
}

// mentioner is the engine as its dispatcher's notify.Mentioner.
type mentioner struct{ o *OnCall }

var mobile = regexp.MustCompile(`^\+?\d{6,15}$`)

// Mentions are the people on call for the alerts, each once: by
// wecom_mention (a mobile or a user ID), else by phone.
func (m mentioner) Mentions(keys []string, now time.Time) []render.Mention {
	overrides := m.o.overrides()
	var out []render.Mention
	for _, key := range keys {
		r, ok := m.o.Book.RosterFor(alert.KeyTags(key))
		if !ok {
			continue
		}
		p := r.At(now, overrides).Person
		mention := render.Mention{Name: p.Name, Mobile: p.Phone}
		if p.WeComMention != "" {
			if mobile.MatchString(p.WeComMention) {
				mention.Mobile = p.WeComMention
			} else {
				mention.UserID, mention.Mobile = p.WeComMention, ""
			}
		}
		if !slices.Contains(out, mention) {
			out = append(out, mention)
		}
	}
	return out
}

// escalate brings the escalations to now and places the steps that came
// due; on an acting member, each tick. A step is recorded (and the state
// saved, so replicated) before it is placed: after a takeover the new
// active continues from the next step and never repeats one.
func (e *Engine) escalate(ctx context.Context, firing []alert.Alert, now time.Time) {
	oc := e.cfg.OnCall
	if oc == nil {
		return
	}
	overrides := oc.overrides()
	fs := make([]oncall.Firing, len(firing))
	byKey := make(map[string]alert.Alert, len(firing))
	for i, a := range firing {
		byKey[a.Key] = a
		fs[i] = oncall.Firing{Key: a.Key, Tags: alert.KeyTags(a.Key), Level: a.Level, Since: a.StartedAt,
			Claimed: a.ClaimedBy != "", Silenced: e.cfg.Silences != nil && e.cfg.Silences.Silenced(a.Key, now)}
	}
	held := func(_ oncall.Step, level alert.Level) bool { return oc.Quiet != nil && oc.Quiet.Holds(level, now) }
	e.mu.Lock()
	actions, ended := oc.Book.Advance(fs, overrides, now, held)
	e.mu.Unlock()
	if len(actions) == 0 && len(ended) == 0 {
		return
	}
	e.Save()
	for _, a := range actions {
		e.log.Infof("Escalation: step %d of %s (%v to %s)", a.Step+1, a.Key, a.Notify, names(a.People))
		e.spawn(func() { e.place(ctx, a, byKey[a.Key]) })
	}
}

func names(ps []oncall.Person) string {
	out := ""
	for i, p := range ps {
		if i > 0 {
			out += ", "
		}
		out += p.Name
	}
	return out
}

// spawn runs f beside the engine's other work; WaitSteps waits for it.
func (e *Engine) spawn(f func()) {
	e.steps.Add(1)
	go func() {
		defer e.steps.Done()
		f()
	}()
}

// WaitSteps waits for the steps being placed (they end with the context
// the engine runs in).
func (e *Engine) WaitSteps() { e.steps.Wait() }

// place places one action: a call to each person, or a message on each
// of the step's other channels.
func (e *Engine) place(ctx context.Context, a oncall.Action, al alert.Alert) {
	oc := e.cfg.OnCall
	now := time.Now()
	data := e.Builder().Build([]alert.Notification{{Kind: alert.KindRepeat, Alert: al, At: now}})
	for _, p := range a.People {
		data.Mentions = append(data.Mentions, render.Mention{Name: p.Name, Mobile: p.Phone})
	}
	for _, kind := range a.Notify {
		if kind == oncall.VoiceKind {
			for _, p := range a.People {
				e.call(ctx, a, p, al, data)
			}
			continue
		}
		for _, ch := range oc.Channels[kind] {
			linked := *data
			linked.Alerts = slices.Clone(data.Alerts)
			if e.cfg.Links != nil && kind != "sms" {
				// The step's message carries the claim link like any other.
				for i := range linked.Alerts {
					linked.Alerts[i].Links = e.cfg.Links.Links(ch.ID(), linked.Alerts[i])
				}
				linked.First = linked.Alerts[0]
			}
			deliveries, err := ch.Prepare(&linked)
			if err != nil {
				e.log.Errorf("Escalation: %s: %v", ch.ID(), err)
				continue
			}
			for i := range deliveries {
				switch kind {
				case "sms":
					deliveries[i].Phones = phones(a.People)
					if len(deliveries[i].Phones) == 0 {
						continue
					}
				case "email":
					deliveries[i].To = emails(a.People) // none: the channel's own recipients
				}
				if err := e.attempt(ctx, func(ctx context.Context) error { return ch.Deliver(ctx, &deliveries[i]) }); err != nil {
					e.log.Errorf("Escalation: step %d of %s on %s: %v", a.Step+1, a.Key, ch.ID(), err)
				}
			}
		}
	}
}

func emails(ps []oncall.Person) []string {
	var out []string
	for _, p := range ps {
		if p.Email != "" {
			out = append(out, p.Email)
		}
	}
	return out
}

func phones(ps []oncall.Person) []string {
	var out []string
	for _, p := range ps {
		if p.Phone != "" {
			out = append(out, p.Phone)
		}
	}
	return out
}

// attempt tries f a few times (the escalation's own steps are not queued
// in the dispatcher: a later step, not a retry an hour later, is what
// follows a failure), while this member may deliver.
func (e *Engine) attempt(ctx context.Context, f func(context.Context) error) error {
	var err error
	for i := 0; i < 3; i++ {
		if !e.member.MayDeliver() {
			return fmt.Errorf("this member may not deliver (fenced)")
		}
		actx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
		err = f(actx)
		cancel()
		retry, wait := notify.Classify(err, e.cfg.RetryBase<<i)
		if err == nil || !retry {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
	return err
}

// call places one call and records it with the escalation; a call the
// API refused counts as failed: the next person is called at once.
func (e *Engine) call(ctx context.Context, a oncall.Action, p oncall.Person, al alert.Alert, data *render.TemplateData) {
	oc := e.cfg.OnCall
	if oc.Voice == nil || p.Phone == "" {
		e.log.Warnf("Escalation: step %d of %s: %s has no phone or no voice channel is configured", a.Step+1, a.Key, p.Name)
		return
	}
	var id string
	err := e.attempt(ctx, func(ctx context.Context) error {
		params, err := oc.Voice.Params(data)
		if err != nil {
			return notify.Permanent(err)
		}
		id, err = oc.Voice.Call(ctx, p.Phone, params, a.Key)
		return err
	})
	now := time.Now()
	if err != nil {
		// Unique across restarts and takeovers: a callback never names it.
		id = fmt.Sprintf("failed-%d", now.UnixNano())
		e.log.Errorf("Escalation: calling %s (%s) for %s: %v", p.Name, oncall.MaskPhone(p.Phone), a.Key, err)
	} else {
		e.log.Infof("Escalation: called %s (%s) for %s, step %d: call %s", p.Name, oncall.MaskPhone(p.Phone), a.Key, a.Step+1, id)
	}
	e.mu.Lock()
	esc := e.cfg.OnCall.Book.Escalations[a.Key]
	var out oncall.Outcome
	if esc != nil {
		oncall.Placed(esc, a.Step, p, id, now)
		if err != nil {
			_, out, _ = oc.Book.CallResult(id, oncall.CallFailed)
		}
	}
	e.mu.Unlock()
	e.dirty.Store(true)
	if out.Next != nil {
		e.place(ctx, *out.Next, al)
	}
}

// CallResult applies a VMS callback: a press of the ack key claims the
// alert by phone; a call not answered or failed calls the next person at
// once. A callback for a call no escalation placed changes nothing.
func (e *Engine) CallResult(cb voice.Callback, now time.Time) error {
	oc := e.cfg.OnCall
	if oc == nil || oc.Voice == nil {
		return oncall.ErrUnknownCall
	}
	return e.ApplyCallResult(cb.CallID, cb.Outcome(oc.Voice.AckKey()), now)
}

// ApplyCallResult applies a call's result (an oncall Call* result): from
// a callback, or one the HA pair's standby received and replicated.
func (e *Engine) ApplyCallResult(callID, result string, now time.Time) error {
	oc := e.cfg.OnCall
	if oc == nil {
		return oncall.ErrUnknownCall
	}
	e.mu.Lock()
	key, out, err := oc.Book.CallResult(callID, result)
	al, firing := e.alerts.Get(key)
	ctx := e.runCtx
	e.mu.Unlock()
	if err != nil {
		return err
	}
	e.dirty.Store(true)
	e.log.Infof("Escalation: call %s for %s: %s", callID, key, result)
	if out.ClaimBy != "" && firing {
		if err := e.claim(key, al.StartedAt.Unix(), out.ClaimBy, alert.ClaimedByPhone, now); err != nil {
			return err
		}
		e.log.Infof("Alert claimed by %q by phone: %s", out.ClaimBy, key)
	}
	if out.Next != nil && firing && ctx != nil {
		e.spawn(func() { e.place(ctx, *out.Next, al) })
	}
	return nil
}

// Plan is the escalation an alert would walk (for -preview).
func (e *Engine) Plan(a alert.Alert) []oncall.PlannedStep {
	oc := e.cfg.OnCall
	if oc == nil {
		return nil
	}
	return oc.Book.Plan(oncall.Firing{Key: a.Key, Tags: alert.KeyTags(a.Key), Level: a.Level, Since: a.StartedAt}, oc.overrides())
}

func mentionerOf(o *OnCall) notify.Mentioner {
	if o == nil {
		return nil
	}
	return mentioner{o}
}

// Mentions are the people on call for the alerts with these keys (for
// -preview).
func (e *Engine) Mentions(keys []string, now time.Time) []render.Mention {
	if e.cfg.OnCall == nil {
		return nil
	}
	return mentioner{e.cfg.OnCall}.Mentions(keys, now)
}
