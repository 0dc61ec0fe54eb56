package notify

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/influxdata/telegraf/config"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/secrets"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
)

// Pacer keeps a destination within N messages per window (the chat robots'
// limits: WeCom and DingTalk 20 a minute, Feishu 5 a second and 100 a
// minute). Now is its clock; tests replace it.
type Pacer struct {
	Limits []Limit
	Now    func() time.Time

	mu   sync.Mutex
	sent []time.Time // our sends within the longest window
}

// Limit is at most N messages per Window.
type Limit struct {
	N      int
	Window time.Duration
}

// NewPacer returns a pacer with the given limits.
func NewPacer(limits ...Limit) *Pacer { return &Pacer{Limits: limits, Now: time.Now} }

// Wait blocks until a message may go; the error is retryable.
func (p *Pacer) Wait(ctx context.Context) error {
	for {
		wait := p.untilFree(false)
		if wait <= 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return Retryable(fmt.Errorf("waiting for the rate limit's window: %w", ctx.Err()), 0)
		case <-t.C:
		}
	}
}

// Record counts a message sent now.
func (p *Pacer) Record() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prune()
	p.sent = append(p.sent, p.Now())
}

// Sent returns our sends still inside the longest window, for the state
// file.
func (p *Pacer) Sent() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prune()
	return append([]time.Time(nil), p.sent...)
}

// Restore reloads sends from the state file, so that a restart does not
// forget them and run into the destination's limit.
func (p *Pacer) Restore(sent []time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(append([]time.Time(nil), sent...), p.sent...)
	slices.SortFunc(p.sent, time.Time.Compare)
	p.prune()
}

// UntilFree is when a slot frees if the destination said we are over its
// limit (others may share it): when our oldest send in the window leaves
// it, at least a second.
func (p *Pacer) UntilFree() time.Duration { return max(p.untilFree(true), time.Second) }

func (p *Pacer) untilFree(overLimit bool) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prune()
	now := p.Now()
	var wait time.Duration
	for _, l := range p.Limits {
		var inWindow []time.Time
		for _, t := range p.sent {
			if t.After(now.Add(-l.Window)) {
				inWindow = append(inWindow, t)
			}
		}
		if len(inWindow) == 0 || (!overLimit && len(inWindow) < l.N) {
			continue
		}
		wait = max(wait, inWindow[0].Add(l.Window).Sub(now))
	}
	return wait
}

func (p *Pacer) prune() {
	var longest time.Duration
	for _, l := range p.Limits {
		longest = max(longest, l.Window)
	}
	cutoff := p.Now().Add(-longest)
	i := 0
	for i < len(p.sent) && !p.sent[i].After(cutoff) {
		i++
	}
	p.sent = p.sent[i:]
}

// PostJSON posts body as JSON and returns the answer's body. Network
// failures, 429 and 5xx are retryable, other non-2xx answers permanent;
// redact removes secrets from any error text.
func PostJSON(ctx context.Context, client *http.Client, url string, body any, headers map[string]string, redact func(string) string) ([]byte, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return nil, Permanent(errors.New(redact(err.Error())))
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, Retryable(errors.New(redact(err.Error())), 0)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, Retryable(fmt.Errorf("reading the answer: %v", err), 0)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		err := fmt.Errorf("HTTP %d: %s", resp.StatusCode, redact(Snippet(raw)))
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return raw, Retryable(err, 0)
		}
		return raw, Permanent(err)
	}
	return raw, nil
}

// Snippet is the start of an answer, for error messages.
func Snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// RedactSecret keeps the last four characters of a secret, enough to tell
// destinations apart.
func RedactSecret(secret string) string {
	if len(secret) <= 8 {
		return "***"
	}
	return "***" + secret[len(secret)-4:]
}

// Endpoint says how a robot's webhook entry is read: a whole URL, whose
// secret (key, access_token, token) Secret extracts, or only the secret,
// which Complete turns into the URL. Name is what the secret is called in
// errors.
type Endpoint struct {
	Name     string
	Complete func(secret string) string
	Secret   func(u *url.URL) string
}

// Parse reads an entry; errors never quote it (it may be the secret).
func (e Endpoint) Parse(entry string) (u, secret string, err error) {
	entry = strings.TrimSpace(entry)
	if entry == "" {
		return "", "", errors.New("empty entry")
	}
	if !strings.Contains(entry, "://") {
		if strings.ContainsAny(entry, "/?&= ") {
			return "", "", fmt.Errorf("neither a URL nor a %s", e.Name)
		}
		return e.Complete(entry), entry, nil
	}
	parsed, err := url.Parse(entry)
	if err != nil || (parsed.Scheme != "https" && parsed.Scheme != "http") || parsed.Host == "" {
		return "", "", errors.New("not an http(s) URL")
	}
	if secret = e.Secret(parsed); secret == "" {
		return "", "", fmt.Errorf("URL has no %s", e.Name)
	}
	return entry, secret, nil
}

// Host is the host of a URL, for IDs and destinations.
func Host(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return ""
}

// Labeled prefixes a destination's ID with its route's label.
func Labeled(label, id string) string {
	if label == "" {
		return id
	}
	return label + " " + id
}

// Robot is what the chat robots (WeCom, DingTalk, Feishu) share: one
// endpoint of a table, whose URL holds a secret token, the table's level,
// template and signing secret, the HTTP client and the robot's rate limit.
// A channel package embeds it and adds its message format and answers.
type Robot struct {
	Index        int    // 1-based position in webhook_urls
	Hook         string // the webhook URL: it holds Token, never log it
	Token        string
	Secret       string // signing secret; "" when unsigned
	Level        alert.Level
	Templates    *render.Templates
	UserTemplate *template.Template // the user's template, or nil
	Client       *http.Client
	Pace         *Pacer
	Now          func() time.Time
}

// RobotTable is the keys every chat robot table has, and what its kind of
// robot takes.
type RobotTable struct {
	Kind     string // the table: wecom, dingtalk, feishu
	URLs     []string
	MinLevel string // default warning
	Secret   config.Secret
	Template string
	Endpoint Endpoint
	Limits   []Limit
}

// NewRobots validates a chat table's min_level, secret and template, and
// returns one channel per webhook URL: wrap makes the table's kind of
// robot around each base. Errors name the table's keys and never echo an
// entry (it may be a token).
func NewRobots(t RobotTable, tpls *render.Templates, lang string, client *http.Client, wrap func(Robot) Channel) ([]Channel, error) {
	level, err := alert.ParseMinLevel(t.Kind+".min_level", cmp.Or(t.MinLevel, "warning"))
	if err != nil {
		return nil, err
	}
	secret, err := secrets.Reveal(t.Secret)
	if err != nil {
		return nil, fmt.Errorf("%s.secret: %w", t.Kind, err)
	}
	var userTpl *template.Template
	if t.Template != "" {
		if userTpl, err = render.ParseUserTemplate(t.Kind+".template", t.Template, lang); err != nil {
			return nil, err
		}
	}
	out := make([]Channel, 0, len(t.URLs))
	for i, raw := range t.URLs {
		u, token, err := t.Endpoint.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("%s.webhook_urls[%d]: %v", t.Kind, i, err)
		}
		out = append(out, wrap(Robot{Index: i + 1, Hook: u, Token: token, Secret: secret, Level: level, Templates: tpls,
			UserTemplate: userTpl, Client: client, Pace: NewPacer(t.Limits...), Now: time.Now}))
	}
	return out, nil
}

// MinLevel is the table's min_level.
func (r *Robot) MinLevel() alert.Level { return r.Level }

// Pacer is the robot's rate limit, kept across restarts (Paced).
func (r *Robot) Pacer() *Pacer { return r.Pace }

// URL is the webhook URL: it holds the token, never log it.
func (r *Robot) URL() string { return r.Hook }

// Redact hides the token (as is and URL-escaped) and the signing secret.
func (r *Robot) Redact(s string) string {
	for _, secret := range []string{r.Token, url.QueryEscape(r.Token), r.Secret} {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, RedactSecret(secret))
		}
	}
	return s
}
