package wecom_sms_mail

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/influxdata/telegraf/config"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/secrets"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/voice"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/oncall"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/silence"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/web"
)

// WebConfig is [outputs.wecom_sms_mail.web]: the signed links and the page
// that serves them (package web).
type WebConfig struct {
	Listen             string          `toml:"listen"`
	ExternalURL        string          `toml:"external_url"`
	LinkSecret         config.Secret   `toml:"link_secret"`
	LinkTTL            config.Duration `toml:"link_ttl"`
	BasicAuthUsersFile string          `toml:"basic_auth_users_file"`
}

// initWeb builds the page's server; without the table or listen nothing
// is served and messages carry no links.
func (p *WeComSMSMail) initWeb() error {
	p.web = nil
	if p.Web == nil || p.Web.Listen == "" {
		return nil
	}
	if p.parts.silences == nil {
		return errors.New("web: the silence links need a silence file: set silence_file or state_file")
	}
	secret, err := secrets.Reveal(p.Web.LinkSecret)
	if err != nil {
		return fmt.Errorf("web.link_secret: %w", err)
	}
	var token string
	if p.Voice != nil {
		if token, err = secrets.Reveal(p.Voice.CallbackToken); err != nil {
			return fmt.Errorf("voice.callback_token: %w", err)
		}
	}
	if p.Web.LinkTTL == 0 {
		p.Web.LinkTTL = config.Duration(24 * time.Hour)
	}
	p.web, err = web.New(web.Config{Listen: p.Web.Listen, ExternalURL: p.Web.ExternalURL, Secret: []byte(secret),
		TTL: time.Duration(p.Web.LinkTTL), UsersFile: p.Web.BasicAuthUsersFile, Lang: p.Language, Location: p.parts.location,
		Ready: func() bool { return p.engine.Acting() }, VoiceToken: []byte(token), OnVoice: p.voiceCallback}, webStore{p})
	return err
}

// voiceCallback applies one VMS callback; a malformed body is an error
// (answered 400), a callback for a call this output did not place changes
// nothing.
func (p *WeComSMSMail) voiceCallback(body []byte) error {
	cb, err := voice.ParseCallback(body)
	if err != nil {
		p.Log.Warnf("VMS callback rejected: %v", err)
		return err
	}
	if p.member != nil && !p.engine.Acting() && p.parts.voice != nil {
		// The standby forwards it through the pair's log: the active
		// member applies it within a tick.
		if err := p.member.ForwardCall(context.Background(), cb.CallID, cb.Outcome(p.parts.voice.AckKey())); err != nil {
			p.Log.Errorf("VMS callback for call %s on the standby: replicating it: %v", cb.CallID, err)
			return fmt.Errorf("the standby could not pass the callback on: %w", err)
		}
		p.Log.Infof("VMS callback for call %s passed to the active member", cb.CallID)
		return nil
	}
	if err := p.engine.CallResult(cb, time.Now()); err != nil {
		if errors.Is(err, oncall.ErrUnknownCall) {
			p.Log.Infof("VMS callback for call %s, which no escalation here placed: nothing changes", cb.CallID)
			return nil
		}
		p.Log.Warnf("VMS callback for call %s: %v", cb.CallID, err)
	}
	return nil
}

// actionLinks are the dispatcher's notify.Linker: one signed link per
// action.
type actionLinks struct{ web *web.Server }

func (l actionLinks) Links(dest string, v render.AlertView) []render.Link {
	now := time.Now()
	out := make([]render.Link, 0, len(web.Actions))
	for _, a := range web.Actions {
		out = append(out, render.Link{Label: l.web.Label(a), URL: l.web.LinkURL(a, v.Key, v.StartedAt, dest, now)})
	}
	return out
}

// checkWeb is -test-notify's line: does external_url answer?
func (p *WeComSMSMail) checkWeb(ctx context.Context) error {
	url := strings.TrimRight(p.Web.ExternalURL, "/") + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: time.Duration(p.Timeout)}).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}

// webStore is the page's view of the plugin: the same alert state,
// silence file and dispatcher the rest of the output uses.
type webStore struct{ p *WeComSMSMail }

// view is a firing alert as the pages show it; silences is the store's
// list, refreshed by the caller.
func (s webStore) view(a alert.Alert, silences silence.Silences, now time.Time) web.Alert {
	d := s.p.engine.Builder().Build([]alert.Notification{{Kind: alert.KindRepeat, Alert: a, At: now}})
	v := d.Alerts[0]
	out := web.Alert{Key: a.Key, Level: a.Level.String(), LevelText: v.LevelText, Subject: v.Subject, Lag: v.ValueText, Trend: v.Trend,
		Since: a.StartedAt, ClaimedBy: a.ClaimedBy, HasChart: len(a.History) > 1}
	if v.HasLagSeconds {
		out.Behind = v.LagSecondsText
	}
	if v.Collector != "" {
		out.Subject = v.Collector
	}
	out.SilencedUntil = silences.MutedUntil(alert.KeyTags(a.Key), now)
	return out
}

func (s webStore) Firing(now time.Time) []web.Alert {
	firing := s.p.engine.Firing()
	silences := s.silences(now)
	out := make([]web.Alert, 0, len(firing))
	for _, a := range firing {
		out = append(out, s.view(a, silences, now))
	}
	return out
}

func (s webStore) Alert(key string, now time.Time) (web.Alert, bool) {
	a, ok := s.p.engine.Alert(key)
	if !ok {
		return web.Alert{}, false
	}
	return s.view(a, s.silences(now), now), true
}

// silences are the store's, with what the CLI or a link wrote since the
// last tick.
func (s webStore) silences(now time.Time) silence.Silences {
	s.p.parts.silences.Refresh(now)
	return s.p.parts.silences.List()
}

// errStandby: the member of an HA pair that stands by does not act; the
// proxy in front of the pair sends links to the active one (/healthz).
var errStandby = errors.New("this host is the standby of the HA pair: open the link on the active host")

func (s webStore) Claim(key string, since int64, by string, now time.Time) error {
	p := s.p
	if !p.engine.Acting() {
		return errStandby
	}
	if err := p.engine.Claim(key, since, by, now); err != nil {
		return err
	}
	p.Log.Infof("Alert claimed by %q through a link: %s", by, key)
	return nil
}

func (s webStore) Silence(key string, until time.Time, by, comment string, now time.Time) (string, error) {
	matchers, err := silence.ForAlert(key)
	if err != nil {
		return "", err
	}
	id, err := s.p.parts.silences.Add(silence.Silence{Matchers: matchers, StartsAt: now, EndsAt: until,
		CreatedBy: by, Comment: comment}, now)
	if err == nil {
		s.p.Log.Infof("Silence %s added by %q through a link, until %s: %s", id, by, until.Format(time.RFC3339), key)
	}
	return id, err
}

func (s webStore) Silences(now time.Time) []web.Silence {
	var out []web.Silence
	for _, sl := range s.silences(now) {
		if !sl.EndsAt.After(now) {
			continue
		}
		var ms []string
		for _, m := range sl.Matchers {
			ms = append(ms, m.Tag+"="+m.Glob)
		}
		out = append(out, web.Silence{ID: sl.ID, Matchers: strings.Join(ms, " "), CreatedBy: sl.CreatedBy, Comment: sl.Comment,
			StartsAt: sl.StartsAt, EndsAt: sl.EndsAt})
	}
	return out
}

func (s webStore) Expire(id string, now time.Time) error {
	err := s.p.parts.silences.Expire(id, now)
	if err == nil {
		s.p.Log.Infof("Silence %s expired through the page", id)
	}
	return err
}

func (s webStore) Chart(key string) ([]byte, error) {
	a, ok := s.p.engine.Alert(key)
	if !ok {
		return nil, alert.ErrNotFiring
	}
	d := s.p.engine.Builder().Build([]alert.Notification{{Kind: alert.KindRepeat, Alert: a, At: time.Now()}})
	return s.p.parts.charts.Render(d)
}

func (s webStore) Used(id string) (string, time.Time, bool) { return s.p.engine.Used(id) }

func (s webStore) MarkUsed(id, by string, at, expires time.Time) {
	s.p.engine.MarkUsed(id, by, at, expires)
}
