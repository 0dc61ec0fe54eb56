// Package feishu is the Feishu (飞书) / Lark custom bot channel: interactive
// cards with a colour by level, or text; signed requests; its limits of 5
// a second and 100 a minute.
package feishu

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/influxdata/telegraf/config"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
)

const (
	defaultBase = "https://open.feishu.cn/open-apis/bot/v2/hook/"
	// A body is at most 20 KB; the card's frame takes some of it.
	contentLimit = 15000
)

// Config is [outputs.wecom_sms_mail.feishu].
type Config struct {
	WebhookURLs []string      `toml:"webhook_urls"`
	Secret      config.Secret `toml:"secret"`
	MsgType     string        `toml:"msg_type"`
	MinLevel    string        `toml:"min_level"`
	Template    string        `toml:"template"`

	// Label prefixes the bots' IDs ("route 2"); empty for the table's.
	Label string `toml:"-"`
}

type bot struct {
	notify.Robot
	cfg *Config
}

// New returns one channel per bot of the table.
func New(cfg *Config, tpls *render.Templates, lang string, client *http.Client) ([]notify.Channel, error) {
	if len(cfg.WebhookURLs) == 0 {
		return nil, errors.New("feishu.webhook_urls: at least one bot URL or token is required")
	}
	if cfg.MsgType == "" {
		cfg.MsgType = "interactive"
	}
	if cfg.MsgType != "interactive" && cfg.MsgType != "text" {
		return nil, fmt.Errorf("feishu.msg_type: %q is not interactive or text", cfg.MsgType)
	}
	return notify.NewRobots(notify.RobotTable{Kind: "feishu", URLs: cfg.WebhookURLs, MinLevel: cfg.MinLevel,
		Secret: cfg.Secret, Template: cfg.Template, Endpoint: endpoint,
		Limits: []notify.Limit{{N: 5, Window: time.Second}, {N: 100, Window: time.Minute}}}, tpls, lang, client,
		func(r notify.Robot) notify.Channel { return &bot{Robot: r, cfg: cfg} })
}

// endpoint takes a whole hook URL (Feishu or Lark) or only its token.
var endpoint = notify.Endpoint{
	Name:     "bot token (/hook/TOKEN)",
	Complete: func(token string) string { return defaultBase + token },
	Secret: func(u *url.URL) string {
		i := strings.LastIndex(u.Path, "/hook/")
		if i < 0 {
			return ""
		}
		return u.Path[i+len("/hook/"):]
	},
}

func (*bot) Kind() string { return "feishu" }

var _ notify.Paced = (*bot)(nil)

func (b *bot) ID() string {
	return notify.Labeled(b.cfg.Label, fmt.Sprintf("feishu bot %d (token %s)", b.Index, notify.RedactSecret(b.Token)))
}

func (b *bot) Destination() string {
	return fmt.Sprintf("bot %s token %s", notify.Host(b.Hook), notify.RedactSecret(b.Token))
}

// colour of the card's header: red while anything is critical, orange for
// warnings, green when everything resolved.
func colour(d *render.TemplateData) string {
	switch {
	case d.Counts.Critical > 0:
		return "red"
	case d.Counts.Warning > 0:
		return "orange"
	}
	return "green"
}

func (b *bot) Prepare(d *render.TemplateData) ([]notify.Delivery, error) {
	var content string
	var err error
	switch {
	case b.UserTemplate != nil:
		content, err = render.Execute(b.UserTemplate, d.Escaped(render.EscapeMarkdown))
	case b.cfg.MsgType == "text":
		content, err = b.Templates.Render("wecom_text", d.Escaped(render.EscapeText))
	default:
		content, err = b.Templates.Render("feishu_markdown", d.Escaped(render.EscapeMarkdown))
	}
	if err != nil {
		return nil, fmt.Errorf("rendering the feishu message: %w", err)
	}
	parts := notify.SplitMessage(strings.TrimRight(content, "\n"), contentLimit)
	out := make([]notify.Delivery, len(parts))
	for i, p := range parts {
		out[i] = notify.Delivery{Subject: d.Title, Text: p, Style: colour(d)}
	}
	return out, nil
}

// Sign is Feishu's signature: base64 of HMAC-SHA256 over an empty message,
// keyed with "timestamp\nsecret"; timestamp in seconds.
func Sign(secret string, timestamp int64) string {
	mac := hmac.New(sha256.New, []byte(strconv.FormatInt(timestamp, 10)+"\n"+secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

type answer struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
}

func (b *bot) Deliver(ctx context.Context, d *notify.Delivery) error {
	if err := b.Pace.Wait(ctx); err != nil {
		return err
	}
	var body map[string]any
	if b.cfg.MsgType == "text" {
		body = map[string]any{"msg_type": "text", "content": map[string]any{"text": d.Text}}
	} else {
		body = map[string]any{"msg_type": "interactive", "card": map[string]any{
			"config":   map[string]any{"wide_screen_mode": true},
			"header":   map[string]any{"template": cmp.Or(d.Style, "red"), "title": map[string]any{"tag": "plain_text", "content": d.Subject}},
			"elements": []any{map[string]any{"tag": "div", "text": map[string]any{"tag": "lark_md", "content": d.Text}}},
		}}
	}
	if b.Secret != "" {
		ts := b.Now().Unix()
		body["timestamp"] = strconv.FormatInt(ts, 10)
		body["sign"] = Sign(b.Secret, ts)
	}
	raw, postErr := notify.PostJSON(ctx, b.Client, b.Hook, body, nil, b.Redact)
	if raw == nil {
		return postErr // no answer: the network, or a request we could not build
	}
	b.Pace.Record()
	// Feishu's JSON code decides, whatever the HTTP status: its rate limit
	// has been seen answered as 9499 "too many request" inside HTTP 400.
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil || a.Code == 0 && a.Msg == "" {
		if postErr != nil {
			return postErr
		}
		return notify.Retryable(fmt.Errorf("unreadable answer %q", notify.Snippet(raw)), 0)
	}
	switch {
	case a.Code == 0 && postErr == nil:
		return nil
	case a.Code == 0:
		return postErr
	}
	switch a.Code {
	case 11232:
		return notify.RetryWithin(fmt.Errorf("throttled (code %d): %s", a.Code, a.Msg), b.Pace.UntilFree())
	case 9499:
		if strings.Contains(strings.ToLower(a.Msg), "too many request") {
			return notify.RetryWithin(fmt.Errorf("throttled (code 9499): %s", a.Msg), b.Pace.UntilFree())
		}
		if size := len(mustJSON(body)); size > bodyLimit {
			return notify.Permanent(fmt.Errorf("bad request (code 9499): %s: the body is %d bytes, over Feishu's 20 KB limit", b.Redact(a.Msg), size))
		}
		return notify.Permanent(fmt.Errorf("bad request (code 9499): %s", b.Redact(a.Msg)))
	case 19021:
		return notify.Permanent(fmt.Errorf("signature rejected (code 19021): %s: check feishu.secret and this host's clock (the timestamp must be within an hour)", b.Redact(a.Msg)))
	case 19022:
		return notify.Permanent(fmt.Errorf("IP not allowed (code 19022): %s: check the bot's IP allowlist", a.Msg))
	case 19024:
		return notify.Permanent(fmt.Errorf("keywords not found (code 19024): %s: the bot's keywords must appear in the message", a.Msg))
	default:
		return notify.Permanent(fmt.Errorf("code %d: %s", a.Code, b.Redact(a.Msg)))
	}
}

// bodyLimit is Feishu's limit on a request body.
const bodyLimit = 20 << 10

func mustJSON(v any) []byte {
	raw, _ := json.Marshal(v)
	return raw
}
