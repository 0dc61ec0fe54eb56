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
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/route"
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
	if p.silences == nil {
		return errors.New("web: the silence links need a silence file: set silence_file or state_file")
	}
	secret, err := secrets.Reveal(p.Web.LinkSecret)
	if err != nil {
		return fmt.Errorf("web.link_secret: %w", err)
	}
	if p.Web.LinkTTL == 0 {
		p.Web.LinkTTL = config.Duration(24 * time.Hour)
	}
	p.web, err = web.New(web.Config{Listen: p.Web.Listen, ExternalURL: p.Web.ExternalURL, Secret: []byte(secret),
		TTL: time.Duration(p.Web.LinkTTL), UsersFile: p.Web.BasicAuthUsersFile, Lang: p.Language, Location: p.location,
		Ready: func() bool { return p.pair == nil || p.pair.acting() }}, webStore{p})
	return err
}

// links are the dispatcher's Links: one signed link per action.
func (p *WeComSMSMail) links(dest string, v render.AlertView) []render.Link {
	now := time.Now()
	out := make([]render.Link, 0, len(web.Actions))
	for _, a := range web.Actions {
		out = append(out, render.Link{Label: p.web.Label(a), URL: p.web.LinkURL(a, v.Key, v.StartedAt, dest, now)})
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
func (s webStore) view(a alert.Alert, silences route.Silences, now time.Time) web.Alert {
	p := s.p
	d := p.builder().Build([]alert.Notification{{Kind: alert.KindRepeat, Alert: a, At: now}})
	v := d.Alerts[0]
	out := web.Alert{Key: a.Key, Level: a.Level.String(), LevelText: v.LevelText, Subject: v.Subject, Lag: v.ValueText, Trend: v.Trend,
		Since: a.StartedAt, ClaimedBy: a.ClaimedBy, HasChart: len(a.History) > 1}
	if v.HasLagSeconds {
		out.Behind = v.LagSecondsText
	}
	if v.Collector != "" {
		out.Subject = v.Collector
	}
	tags := tagsOf(a.Key)
	for _, sl := range silences {
		if sl.Active(now) && (route.Silences{sl}).Silenced(tags, now) && sl.EndsAt.After(out.SilencedUntil) {
			out.SilencedUntil = sl.EndsAt
		}
	}
	return out
}

func (s webStore) Firing(now time.Time) []web.Alert {
	s.p.mu.Lock()
	firing := s.p.alerts.Snapshot()
	s.p.mu.Unlock()
	silences := s.silences(now)
	out := make([]web.Alert, 0, len(firing))
	for _, a := range firing {
		out = append(out, s.view(a, silences, now))
	}
	return out
}

func (s webStore) Alert(key string, now time.Time) (web.Alert, bool) {
	s.p.mu.Lock()
	a, ok := s.p.alerts.Get(key)
	s.p.mu.Unlock()
	if !ok {
		return web.Alert{}, false
	}
	return s.view(a, s.silences(now), now), true
}

// silences are the store's, with what the CLI or a link wrote since the
// last tick.
func (s webStore) silences(now time.Time) route.Silences {
	s.p.silences.refresh(now)
	return s.p.silences.list()
}

// errStandby: the member of an HA pair that stands by does not act; the
// proxy in front of the pair sends links to the active one (/healthz).
var errStandby = errors.New("this host is the standby of the HA pair: open the link on the active host")

func (s webStore) Claim(key string, since int64, by string, now time.Time) error {
	p := s.p
	if p.pair != nil && !p.pair.acting() {
		return errStandby
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n, err := p.alerts.Claim(key, since, by, now)
	if err != nil {
		return err
	}
	p.dispatcher.Add(n)
	p.dirty.Store(true)
	p.Log.Infof("Alert claimed by %q through a link: %s", by, key)
	return nil
}

func (s webStore) Silence(key string, until time.Time, by, comment string, now time.Time) (string, error) {
	_, tags := alert.ParseKey(key)
	matchers := make([]route.Matcher, 0, len(tags))
	for _, t := range tags {
		m, err := route.NewMatcher(t.Key, route.Literal(t.Value))
		if err != nil {
			return "", err
		}
		matchers = append(matchers, m)
	}
	id, err := route.AddSilence(s.p.silences.path, route.Silence{Matchers: matchers, StartsAt: now, EndsAt: until,
		CreatedBy: by, Comment: comment}, now)
	if err == nil {
		s.p.silences.refresh(now)
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
	err := route.ExpireSilence(s.p.silences.path, id, now)
	if err == nil {
		s.p.silences.refresh(now)
		s.p.Log.Infof("Silence %s expired through the page", id)
	}
	return err
}

func (s webStore) Chart(key string) ([]byte, error) {
	p := s.p
	p.mu.Lock()
	a, ok := p.alerts.Get(key)
	p.mu.Unlock()
	if !ok {
		return nil, alert.ErrNotFiring
	}
	d := p.builder().Build([]alert.Notification{{Kind: alert.KindRepeat, Alert: a, At: time.Now()}})
	return p.charts.Render(d)
}

func (s webStore) Used(id string) (string, time.Time, bool) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	u, ok := s.p.usedLinks[id]
	return u.By, u.At, ok
}

func (s webStore) MarkUsed(id, by string, at, expires time.Time) {
	s.p.mu.Lock()
	s.p.usedLinks[id] = usedLink{By: by, At: at, Expires: expires}
	s.p.mu.Unlock()
	s.p.dirty.Store(true)
}

// usedLink records a link that acted, until it expires, so that it acts
// once; kept in the state file (and the HA pair's log).
type usedLink struct {
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Expires time.Time `json:"expires"`
}

// liveLinks drops the used links that expired; p.mu is held.
func (p *WeComSMSMail) liveLinks(now time.Time) map[string]usedLink {
	out := make(map[string]usedLink, len(p.usedLinks))
	for id, u := range p.usedLinks {
		if u.Expires.After(now) {
			out[id] = u
		} else {
			delete(p.usedLinks, id)
		}
	}
	return out
}
