// Package webhook posts each message as JSON to generic receivers: in the
// payload Alertmanager sends to its webhook receivers (version 4, which hubs
// such as PrometheusAlert accept), or in our own shape with every template
// field.
package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/influxdata/telegraf/config"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/secrets"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
)

// AlertName is the alertname label of our alerts.
const AlertName = "CKafkaConsumerLag"

// Config is [outputs.wecom_sms_mail.webhook].
type Config struct {
	URLs        []string          `toml:"urls"`
	Format      string            `toml:"format"`
	Headers     map[string]string `toml:"headers"`
	BearerToken config.Secret     `toml:"bearer_token"`
	MinLevel    string            `toml:"min_level"`

	// Label prefixes the receivers' IDs ("route 2"); empty for the table's.
	Label string `toml:"-"`
}

type receiver struct {
	cfg      *Config
	index    int
	url      string
	token    string
	minLevel alert.Level
	tpls     *render.Templates
	client   *http.Client
}

// New returns one channel per receiver URL.
func New(cfg *Config, tpls *render.Templates, client *http.Client) ([]notify.Channel, error) {
	if len(cfg.URLs) == 0 {
		return nil, errors.New("webhook.urls: at least one URL is required")
	}
	if cfg.Format == "" {
		cfg.Format = "alertmanager"
	}
	if cfg.Format != "alertmanager" && cfg.Format != "json" {
		return nil, fmt.Errorf("webhook.format: %q is not alertmanager or json", cfg.Format)
	}
	if cfg.MinLevel == "" {
		cfg.MinLevel = "warning"
	}
	minLevel, err := alert.ParseMinLevel("webhook.min_level", cfg.MinLevel)
	if err != nil {
		return nil, err
	}
	token, err := secrets.Reveal(cfg.BearerToken)
	if err != nil {
		return nil, fmt.Errorf("webhook.bearer_token: %w", err)
	}
	out := make([]notify.Channel, 0, len(cfg.URLs))
	for i, raw := range cfg.URLs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("webhook.urls[%d]: not an http(s) URL", i)
		}
		out = append(out, &receiver{cfg: cfg, index: i + 1, url: raw, token: token, minLevel: minLevel, tpls: tpls, client: client})
	}
	return out, nil
}

func (*receiver) Kind() string            { return "webhook" }
func (r *receiver) MinLevel() alert.Level { return r.minLevel }

func (r *receiver) ID() string {
	id := fmt.Sprintf("webhook %d (%s)", r.index, r.Destination())
	if r.cfg.Label != "" {
		id = r.cfg.Label + " " + id
	}
	return id
}

// Destination is the receiver's scheme, host and path: a query may hold a
// token.
func (r *receiver) Destination() string {
	u, err := url.Parse(r.url)
	if err != nil {
		return "?"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// URL is the receiver's URL; it may hold a token.
func (r *receiver) URL() string { return r.url }

func (r *receiver) redact(s string) string {
	if u, err := url.Parse(r.url); err == nil && u.RawQuery != "" {
		s = strings.ReplaceAll(s, u.RawQuery, "***")
	}
	if r.token != "" {
		s = strings.ReplaceAll(s, r.token, notify.RedactSecret(r.token))
	}
	return s
}

func (r *receiver) Prepare(d *render.TemplateData) ([]notify.Delivery, error) {
	var payload any
	var err error
	if r.cfg.Format == "json" {
		payload = d
	} else {
		payload, err = Payload(d, r.tpls, time.Now())
		if err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	return []notify.Delivery{{Text: string(b)}}, nil
}

func (r *receiver) Deliver(ctx context.Context, d *notify.Delivery) error {
	headers := map[string]string{}
	for k, v := range r.cfg.Headers {
		headers[k] = v
	}
	if r.token != "" {
		headers["Authorization"] = "Bearer " + r.token
	}
	_, err := notify.PostJSON(ctx, r.client, r.url, json.RawMessage(d.Text), headers, r.redact)
	return err
}

// Message is the payload Alertmanager sends to webhook receivers.
type Message struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []Alert           `json:"alerts"`
}

// Alert is one alert of a Message.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Labels are an alert's identity as Alertmanager sees it: alertname,
// severity and the alert's tags.
func Labels(v render.AlertView, severity string) map[string]string {
	labels := make(map[string]string, len(v.Tags)+2)
	for k, val := range v.Tags {
		labels[k] = val
	}
	labels["alertname"] = AlertName
	switch v.Check {
	case alert.CheckFailing:
		labels["alertname"] = "CKafkaCollectionFailing"
	case alert.CheckSilent:
		labels["alertname"] = "CKafkaCollectorSilent"
	}
	labels["severity"] = severity
	return labels
}

// Annotations are the alert's summary and description in our words.
func Annotations(v render.AlertView, tpls *render.Templates) (map[string]string, error) {
	line, err := tpls.RenderLine(v)
	if err != nil {
		return nil, err
	}
	return map[string]string{"summary": v.Subject, "description": line}, nil
}

// Fingerprint identifies a label set, as Alertmanager's does (not the
// same hash).
func Fingerprint(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s\xff%s\xff", k, labels[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Payload builds Alertmanager's webhook message for a message's alerts.
func Payload(d *render.TemplateData, tpls *render.Templates, now time.Time) (*Message, error) {
	m := &Message{Version: "4", Status: "resolved", Receiver: "wecom_sms_mail", GroupLabels: map[string]string{"alertname": AlertName}}
	var labelSets []map[string]string
	for _, v := range d.Alerts {
		severity := v.Level
		if v.Resolved {
			severity = v.NotifiedLevel
		}
		labels := Labels(v, severity)
		ann, err := Annotations(v, tpls)
		if err != nil {
			return nil, err
		}
		a := Alert{Status: "firing", Labels: labels, Annotations: ann, StartsAt: v.StartedAt, GeneratorURL: v.DashboardURL, Fingerprint: Fingerprint(labels)}
		if v.Resolved {
			a.Status, a.EndsAt = "resolved", now
		} else {
			m.Status = "firing"
		}
		m.Alerts = append(m.Alerts, a)
		labelSets = append(labelSets, labels)
	}
	m.CommonLabels = common(labelSets)
	m.CommonAnnotations = map[string]string{}
	m.GroupKey = fmt.Sprintf("{}:{alertname=%q}", AlertName)
	return m, nil
}

// common is the labels every set shares.
func common(sets []map[string]string) map[string]string {
	out := map[string]string{}
	if len(sets) == 0 {
		return out
	}
	for k, v := range sets[0] {
		shared := true
		for _, s := range sets[1:] {
			if s[k] != v {
				shared = false
				break
			}
		}
		if shared {
			out[k] = v
		}
	}
	return out
}
