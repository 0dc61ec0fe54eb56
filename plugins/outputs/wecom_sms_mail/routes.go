package wecom_sms_mail

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/dingtalk"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/email"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/feishu"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/sms"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/voice"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/webhook"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/wecom"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/route"
)

// destinations are the channels of the default route and of each route,
// each destination built once however many routes name it.
type destinations struct {
	channels []notify.Channel
	labels   map[string]string // channel ID → "default" or "route N", for -test-notify
	quiet    map[string]*route.Quiet
	router   route.Router
}

// buildRoutes adds the routes' destinations to the channel tables' (the
// default route's) and builds the router. A route names destinations only;
// accounts, servers and templates come from the channel tables.
func (p *WeComSMSMail) buildRoutes(defaults []notify.Channel, timeout time.Duration) (*destinations, error) {
	top, err := route.ParseQuiet(p.QuietHours, p.QuietHoursMinLevel, p.Timezone)
	if err != nil {
		return nil, err
	}
	d := &destinations{labels: map[string]string{}, quiet: map[string]*route.Quiet{}}
	for _, ch := range defaults {
		d.add(ch, "default", top)
		d.router.Defaults = append(d.router.Defaults, ch.ID())
	}
	byURL, byPhones, byMail, byVoice := map[string]string{}, map[string]string{}, map[string]string{}, map[string]string{}
	for _, ch := range defaults {
		switch c := ch.(type) {
		case interface{ URL() string }:
			byURL[c.URL()] = ch.ID()
		}
	}
	if p.SMS != nil {
		byPhones[listKey(p.SMS.PhoneNumbers)] = "sms"
	}
	if p.Email != nil {
		byMail[listKey(p.Email.To)] = defaultsID(defaults, "email")
	}
	if p.Voice != nil && len(p.Voice.PhoneNumbers) > 0 {
		byVoice[listKey(p.Voice.PhoneNumbers)] = "voice"
	}
	for i, rc := range p.Routes {
		label := fmt.Sprintf("route %d", i+1)
		key := fmt.Sprintf("route[%d]", i)
		ms, err := route.ParseMatchers(rc.Match)
		if err != nil {
			return nil, fmt.Errorf("%s.match: %w", key, err)
		}
		rt := route.Route{Index: i + 1, Matchers: ms, Continue: rc.Continue}
		if rc.MinLevel != "" {
			if rt.MinLevel, err = alert.ParseMinLevel(key+".min_level", rc.MinLevel); err != nil {
				return nil, err
			}
		}
		quiet := top
		if len(rc.QuietHours) > 0 {
			if quiet, err = route.ParseQuiet(rc.QuietHours, rc.QuietHoursMinLevel, p.Timezone); err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
		}
		if len(rc.WeComWebhookURLs) > 0 {
			if p.WeCom == nil {
				return nil, fmt.Errorf("%s.wecom_webhook_urls: [outputs.wecom_sms_mail.wecom] is absent", key)
			}
			cfg := *p.WeCom
			cfg.WebhookURLs, cfg.Label = rc.WeComWebhookURLs, label
			robots, err := wecom.New(&cfg, p.parts.tpls, p.Language, &http.Client{Timeout: timeout})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			rt.Dests = append(rt.Dests, d.byURL(byURL, robots, label, quiet)...)
		}
		for _, robots := range []struct {
			key   string
			urls  []string
			table bool
			build func(urls []string) ([]notify.Channel, error)
		}{
			{"dingtalk_webhook_urls", rc.DingTalkWebhookURLs, p.DingTalk != nil, func(urls []string) ([]notify.Channel, error) {
				cfg := *p.DingTalk
				cfg.WebhookURLs, cfg.Label = urls, label
				return dingtalk.New(&cfg, p.parts.tpls, p.Language, &http.Client{Timeout: timeout})
			}},
			{"feishu_webhook_urls", rc.FeishuWebhookURLs, p.Feishu != nil, func(urls []string) ([]notify.Channel, error) {
				cfg := *p.Feishu
				cfg.WebhookURLs, cfg.Label = urls, label
				return feishu.New(&cfg, p.parts.tpls, p.Language, &http.Client{Timeout: timeout})
			}},
			{"webhook_urls", rc.WebhookURLs, p.Webhook != nil, func(urls []string) ([]notify.Channel, error) {
				cfg := *p.Webhook
				cfg.URLs, cfg.Label = urls, label
				return webhook.New(&cfg, p.parts.tpls, &http.Client{Timeout: timeout})
			}},
		} {
			if len(robots.urls) == 0 {
				continue
			}
			if !robots.table {
				table := strings.TrimSuffix(strings.TrimSuffix(robots.key, "_webhook_urls"), "_urls")
				return nil, fmt.Errorf("%s.%s: [outputs.wecom_sms_mail.%s] is absent", key, robots.key, table)
			}
			chs, err := robots.build(robots.urls)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			rt.Dests = append(rt.Dests, d.byURL(byURL, chs, label, quiet)...)
		}
		if len(rc.PhoneNumbers) > 0 {
			if p.SMS == nil {
				return nil, fmt.Errorf("%s.phone_numbers: [outputs.wecom_sms_mail.sms] is absent", key)
			}
			id, err := d.shared(byPhones, listKey(rc.PhoneNumbers), func() (notify.Channel, error) {
				cfg := *p.SMS
				cfg.PhoneNumbers, cfg.Label = rc.PhoneNumbers, label
				return sms.New(&cfg, p.Language, timeout)
			}, label, quiet)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			rt.Dests = append(rt.Dests, id)
		}
		if len(rc.VoicePhoneNumbers) > 0 {
			if p.Voice == nil {
				return nil, fmt.Errorf("%s.voice_phone_numbers: [outputs.wecom_sms_mail.voice] is absent", key)
			}
			id, err := d.shared(byVoice, listKey(rc.VoicePhoneNumbers), func() (notify.Channel, error) {
				cfg := *p.Voice
				cfg.PhoneNumbers, cfg.Label = rc.VoicePhoneNumbers, label
				return voice.New(&cfg, p.Language, timeout)
			}, label, quiet)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			rt.Dests = append(rt.Dests, id)
		}
		if len(rc.EmailTo) > 0 {
			if p.Email == nil {
				return nil, fmt.Errorf("%s.email_to: [outputs.wecom_sms_mail.email] is absent", key)
			}
			id, err := d.shared(byMail, listKey(rc.EmailTo), func() (notify.Channel, error) {
				cfg := *p.Email
				cfg.To, cfg.Label = rc.EmailTo, label
				return email.New(&cfg, p.parts.tpls, p.Language, timeout)
			}, label, quiet)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			rt.Dests = append(rt.Dests, id)
		}
		if len(rt.Dests) == 0 {
			return nil, fmt.Errorf("%s names no destination: set wecom_webhook_urls, phone_numbers, voice_phone_numbers, email_to, dingtalk_webhook_urls, feishu_webhook_urls or webhook_urls", key)
		}
		d.router.Routes = append(d.router.Routes, rt)
	}
	return d, nil
}

// byURL returns the IDs of URL-addressed destinations (robots, bots,
// receivers), each built once: a URL already known is the same
// destination.
func (d *destinations) byURL(known map[string]string, chs []notify.Channel, label string, quiet *route.Quiet) []string {
	ids := make([]string, 0, len(chs))
	for _, ch := range chs {
		u := ch.(interface{ URL() string }).URL()
		if id, ok := known[u]; ok {
			ids = append(ids, id)
			continue
		}
		known[u] = ch.ID()
		d.add(ch, label, quiet)
		ids = append(ids, ch.ID())
	}
	return ids
}

func (d *destinations) add(ch notify.Channel, label string, quiet *route.Quiet) {
	d.channels = append(d.channels, ch)
	d.labels[ch.ID()] = label
	d.quiet[ch.ID()] = quiet
}

// shared returns the destination for a list (of phones, of mailboxes),
// building it the first time.
func (d *destinations) shared(known map[string]string, key string, build func() (notify.Channel, error), label string, quiet *route.Quiet) (string, error) {
	if id, ok := known[key]; ok {
		return id, nil
	}
	ch, err := build()
	if err != nil {
		return "", err
	}
	known[key] = ch.ID()
	d.add(ch, label, quiet)
	return ch.ID(), nil
}

func listKey(list []string) string {
	sorted := slices.Clone(list)
	for i := range sorted {
		sorted[i] = strings.TrimSpace(sorted[i])
	}
	slices.Sort(sorted)
	return strings.Join(sorted, "\x00")
}

func defaultsID(chs []notify.Channel, kind string) string {
	for _, ch := range chs {
		if ch.Kind() == kind {
			return ch.ID()
		}
	}
	return ""
}

// Route is the destinations of an alert (engine.Routes).
func (d *destinations) Route(a alert.Alert) []string {
	if len(d.router.Routes) == 0 {
		return d.router.Defaults
	}
	return d.router.Destinations(alert.KeyTags(a.Key), a.Level)
}

// Quiet is a destination's quiet hours, or nil.
func (d *destinations) Quiet(dest string) notify.QuietHours {
	if q := d.quiet[dest]; q != nil {
		return q
	}
	return nil
}

// Defaults are the default route's destinations.
func (d *destinations) Defaults() []string { return d.router.Defaults }

// SilencePath is where silences live: silence_file, else state_file +
// ".silences".
func (p *WeComSMSMail) SilencePath() (string, error) {
	switch {
	case p.SilenceFile != "":
		return p.SilenceFile, nil
	case p.StateFile != "":
		return p.StateFile + ".silences", nil
	}
	return "", errors.New("silences need a file: set silence_file (or state_file) in [[outputs.wecom_sms_mail]]")
}
