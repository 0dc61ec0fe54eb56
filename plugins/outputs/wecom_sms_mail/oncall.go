package wecom_sms_mail

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/secrets"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/engine"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/sms"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/voice"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/oncall"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/route"
)

// minCallbackToken is the shortest callback_token accepted: the token is
// the only thing that protects the callback URL (VMS does not sign).
const minCallbackToken = 16

// initVoice builds the voice channel of [outputs.wecom_sms_mail.voice],
// with its defaults; nil without the table.
func (p *WeComSMSMail) initVoice(timeout time.Duration) (*voice.Channel, error) {
	v := p.Voice
	if v == nil {
		return nil, nil
	}
	setDefault(&v.Region, "ap-guangzhou")
	setDefault(&v.Endpoint, "vms.tencentcloudapi.com")
	setDefault(&v.MinLevel, "critical")
	setDefault(&v.AckKey, "1")
	if v.PlayTimes == 0 {
		v.PlayTimes = 2
	}
	token, err := secrets.Reveal(v.CallbackToken)
	if err != nil {
		return nil, fmt.Errorf("voice.callback_token: %w", err)
	}
	if token != "" && len(token) < minCallbackToken {
		return nil, fmt.Errorf("voice.callback_token must be at least %d bytes (it is the callback URL's only protection)", minCallbackToken)
	}
	return voice.New(v, p.Language, timeout)
}

// OverridePath is where roster overrides live: beside the silences.
func (p *WeComSMSMail) OverridePath() (string, error) {
	path, err := p.SilencePath()
	if err != nil {
		return "", errors.New("roster overrides need a file: set silence_file (or state_file) in [[outputs.wecom_sms_mail]]")
	}
	return path + ".oncall", nil
}

// Rosters parses the [[outputs.wecom_sms_mail.oncall]] tables.
func (p *WeComSMSMail) Rosters() ([]oncall.Roster, error) {
	var out []oncall.Roster
	for _, c := range p.OnCall {
		r, err := oncall.ParseRoster(c, sms.NormalizePhone)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// initOnCall builds the rosters and escalations; nil when none is
// configured.
func (p *WeComSMSMail) initOnCall(channels []notify.Channel, defaults []string, voiceCh *voice.Channel) (*engine.OnCall, error) {
	if len(p.OnCall) == 0 && len(p.Escalations) == 0 {
		return nil, nil
	}
	rosters, err := p.Rosters()
	if err != nil {
		return nil, err
	}
	oc := &engine.OnCall{Voice: voiceCh, Channels: map[string][]notify.Channel{}}
	var kinds []string
	for _, ch := range channels {
		if !slices.Contains(defaults, ch.ID()) {
			continue
		}
		if !slices.Contains(kinds, ch.Kind()) {
			kinds = append(kinds, ch.Kind())
		}
		if ch.Kind() != "voice" {
			oc.Channels[ch.Kind()] = append(oc.Channels[ch.Kind()], ch)
		}
	}
	if voiceCh != nil && !slices.Contains(kinds, "voice") {
		kinds = append(kinds, "voice")
	}
	if oc.Book, err = oncall.NewBook(rosters, p.Escalations, kinds); err != nil {
		return nil, err
	}
	if path, err := p.OverridePath(); err == nil {
		p.parts.overrides = oncall.NewStore(path, p.Log)
		oc.Overrides = p.parts.overrides.List
	}
	quiet, err := route.ParseQuiet(p.QuietHours, p.QuietHoursMinLevel, p.Timezone)
	if err != nil {
		return nil, err
	}
	if quiet != nil {
		oc.Quiet = quiet
	}
	return oc, nil
}
