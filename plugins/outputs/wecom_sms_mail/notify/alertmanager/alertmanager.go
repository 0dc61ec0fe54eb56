// Package alertmanager posts our alerts to a Prometheus Alertmanager
// cluster (POST /api/v2/alerts to every member, as HA clients must), so that
// its routing, grouping, repeats and silences take over. It is not a
// dispatcher channel: Alertmanager wants the alerts themselves, re-posted
// while they fire, and an end time when they resolve.
package alertmanager

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/webhook"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
)

// Config is [outputs.wecom_sms_mail.alertmanager].
type Config struct {
	URLs           []string        `toml:"urls"`
	ResendInterval config.Duration `toml:"resend_interval"`
	GeneratorURL   string          `toml:"generator_url"`
	MinLevel       string          `toml:"min_level"`
}

// postable is an alert as POST /api/v2/alerts takes it.
type postable struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Client keeps Alertmanager up to date.
type Client struct {
	cfg       *Config
	urls      []string
	shown     map[string]string // url → the same without a password, for logs
	minLevel  alert.Level
	resend    time.Duration
	generator *template.Template
	tpls      *render.Templates
	lang      string
	client    *http.Client
	log       telegraf.Logger

	mu       sync.Mutex
	posted   map[string]posted // alert key → what Alertmanager last got
	resolved []postable        // ends still to post
}

type posted struct {
	at       time.Time
	severity string
}

// New validates the table.
func New(cfg *Config, tpls *render.Templates, lang string, client *http.Client, log telegraf.Logger) (*Client, error) {
	if len(cfg.URLs) == 0 {
		return nil, errors.New("alertmanager.urls: at least one Alertmanager URL is required")
	}
	c := &Client{cfg: cfg, tpls: tpls, lang: lang, client: client, log: log, posted: map[string]posted{}, shown: map[string]string{}}
	for i, raw := range cfg.URLs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("alertmanager.urls[%d]: not an http(s) URL", i)
		}
		full := strings.TrimRight(raw, "/") + "/api/v2/alerts"
		c.urls = append(c.urls, full)
		if parsed, err := url.Parse(full); err == nil {
			c.shown[full] = parsed.Redacted()
		}
	}
	c.resend = time.Duration(cfg.ResendInterval)
	if c.resend <= 0 {
		c.resend = time.Minute
	}
	if cfg.MinLevel == "" {
		cfg.MinLevel = "warning"
	}
	var err error
	if c.minLevel, err = alert.ParseMinLevel("alertmanager.min_level", cfg.MinLevel); err != nil {
		return nil, err
	}
	if cfg.GeneratorURL != "" {
		if c.generator, err = render.ParseDashboardURL(cfg.GeneratorURL); err != nil {
			return nil, fmt.Errorf("alertmanager.generator_url: %w", err)
		}
	}
	return c, nil
}

// view renders one alert for labels and annotations.
func (c *Client) view(n alert.Notification) render.AlertView {
	d := render.BuildData([]alert.Notification{n}, c.lang, 0)
	_ = d.LinkDashboards(c.generator)
	return d.Alerts[0]
}

func (c *Client) postable(n alert.Notification, severity string, ends time.Time) postable {
	v := c.view(n)
	ann, err := webhook.Annotations(v, c.tpls)
	if err != nil {
		ann = map[string]string{"summary": v.Subject}
	}
	return postable{Labels: webhook.Labels(v, severity), Annotations: ann, StartsAt: v.StartedAt, EndsAt: ends, GeneratorURL: v.DashboardURL}
}

// Sync posts the firing alerts that are new, changed level, or were last
// posted resend_interval ago, and the ends still owed, to every member.
func (c *Client) Sync(ctx context.Context, firing []alert.Alert, now time.Time) {
	var batch []postable
	c.mu.Lock()
	batch = append(batch, c.resolved...)
	c.resolved = nil
	seen := map[string]bool{}
	for _, a := range firing {
		if a.Level < c.minLevel {
			continue
		}
		seen[a.Key] = true
		severity := a.Level.String()
		p, ok := c.posted[a.Key]
		if ok && p.severity != severity {
			// A new severity is a new label set: end the old one.
			batch = append(batch, c.postable(alert.Notification{Kind: alert.KindResolved, Alert: a, At: now}, p.severity, now))
		}
		if ok && p.severity == severity && now.Sub(p.at) < c.resend {
			continue
		}
		batch = append(batch, c.postable(alert.Notification{Kind: alert.KindFiring, Alert: a, At: now}, severity, time.Time{}))
		c.posted[a.Key] = posted{at: now, severity: severity}
	}
	c.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if err := c.post(ctx, batch); err != nil {
		c.mu.Lock()
		for _, p := range batch {
			if !p.EndsAt.IsZero() {
				c.resolved = append(c.resolved, p) // ends are owed until posted
			}
		}
		for key := range seen {
			delete(c.posted, key) // firing ones go again next tick
		}
		c.mu.Unlock()
		c.log.Errorf("alertmanager: %v", err)
	}
}

// Resolve owes Alertmanager the end of an alert it was told about.
func (c *Client) Resolve(n alert.Notification) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.posted[n.Alert.Key]
	if !ok {
		return
	}
	delete(c.posted, n.Alert.Key)
	c.resolved = append(c.resolved, c.postable(n, p.severity, n.At))
}

// post sends the batch to every member; it fails if any member failed.
func (c *Client) post(ctx context.Context, batch []postable) error {
	var errs []error
	for _, u := range c.urls {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := notify.PostJSON(ctx, c.client, u, batch, nil, func(s string) string { return s })
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Shown(u), err))
		}
	}
	return errors.Join(errs...)
}

// TestNotify posts a test alert that ends in five minutes to every
// member, and reports per member.
func (c *Client) TestNotify(ctx context.Context, now time.Time) map[string]error {
	d := render.SampleData(c.lang, now)
	v := d.Alerts[0]
	labels := webhook.Labels(v, v.Level)
	labels["test"] = "true"
	p := postable{Labels: labels, Annotations: map[string]string{"summary": d.Title, "description": d.Words.TestNote},
		StartsAt: now, EndsAt: now.Add(5 * time.Minute)}
	out := map[string]error{}
	for _, u := range c.urls {
		_, out[u] = notify.PostJSON(ctx, c.client, u, []postable{p}, nil, func(s string) string { return s })
	}
	return out
}

// WatchdogName is the alertname of the always-firing alert that proves
// the pipeline alive, for an Alertmanager route to a dead-man's switch.
const WatchdogName = "Watchdog"

// Watchdog posts the always-firing heartbeat alert to every member. It
// ends 3 × every after now unless posted again: when the pipeline dies,
// Alertmanager resolves it and the dead-man's switch hears nothing.
func (c *Client) Watchdog(ctx context.Context, now time.Time, every time.Duration, labels map[string]string) error {
	l := map[string]string{"alertname": WatchdogName, "severity": "none", "source": "ckafka_lag"}
	for k, v := range labels {
		l[k] = v
	}
	summary := "The CKafka lag alerting pipeline is alive: collection, flagging and alerting all work."
	if c.lang == "zh" {
		summary = "CKafka 积压告警链路正常：采集、判定、告警均在工作。"
	}
	p := postable{Labels: l, Annotations: map[string]string{"summary": summary},
		StartsAt: now, EndsAt: now.Add(3 * every)}
	return c.post(ctx, []postable{p})
}

// URLs are the members' alert endpoints.
func (c *Client) URLs() []string { return c.urls }

// Shown is an endpoint as logs may show it: without a password.
func (c *Client) Shown(u string) string {
	if s, ok := c.shown[u]; ok {
		return s
	}
	return u
}
