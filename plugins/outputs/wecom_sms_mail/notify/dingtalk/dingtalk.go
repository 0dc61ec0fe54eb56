// Package dingtalk is the DingTalk (钉钉) custom robot channel: markdown or
// text messages, 加签 signatures, @mentions, its 20-a-minute limit.
package dingtalk

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/influxdata/telegraf/config"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
)

const (
	defaultBase = "https://oapi.dingtalk.com/robot/send"
	// Limits of the custom robot: 20 messages a minute (exceeding it
	// blocks the robot for 10 minutes), 20,000 bytes a body.
	perMinute    = 20
	blocked      = 10 * time.Minute
	contentLimit = 18000 // leaves room for the JSON around it
)

// Config is [outputs.wecom_sms_mail.dingtalk].
type Config struct {
	WebhookURLs []string      `toml:"webhook_urls"`
	Secret      config.Secret `toml:"secret"`
	MsgType     string        `toml:"msgtype"`
	AtMobiles   []string      `toml:"at_mobiles"`
	AtAll       bool          `toml:"at_all"`
	MinLevel    string        `toml:"min_level"`
	Template    string        `toml:"template"`

	// Label prefixes the robots' IDs ("route 2"); empty for the table's.
	Label string `toml:"-"`
}

type robot struct {
	notify.Robot
	cfg *Config
}

// New returns one channel per robot of the table.
func New(cfg *Config, tpls *render.Templates, lang string, client *http.Client) ([]notify.Channel, error) {
	if len(cfg.WebhookURLs) == 0 {
		return nil, errors.New("dingtalk.webhook_urls: at least one robot URL or access_token is required")
	}
	if cfg.MsgType == "" {
		cfg.MsgType = "markdown"
	}
	if cfg.MsgType != "markdown" && cfg.MsgType != "text" {
		return nil, fmt.Errorf("dingtalk.msgtype: %q is not markdown or text", cfg.MsgType)
	}
	return notify.NewRobots(notify.RobotTable{Kind: "dingtalk", URLs: cfg.WebhookURLs, MinLevel: cfg.MinLevel,
		Secret: cfg.Secret, Template: cfg.Template, Endpoint: endpoint, Limits: []notify.Limit{{N: perMinute, Window: time.Minute}}},
		tpls, lang, client,
		func(r notify.Robot) notify.Channel { return &robot{Robot: r, cfg: cfg} })
}

var endpoint = notify.Endpoint{
	Name:     "access_token",
	Complete: func(token string) string { return defaultBase + "?access_token=" + url.QueryEscape(token) },
	Secret:   func(u *url.URL) string { return u.Query().Get("access_token") },
}

func (*robot) Kind() string { return "dingtalk" }

var _ notify.Paced = (*robot)(nil)

func (r *robot) ID() string {
	return notify.Labeled(r.cfg.Label, fmt.Sprintf("dingtalk robot %d (token %s)", r.Index, notify.RedactSecret(r.Token)))
}

func (r *robot) Destination() string {
	return fmt.Sprintf("robot %s token %s", notify.Host(r.Hook), notify.RedactSecret(r.Token))
}

func (r *robot) Prepare(d *render.TemplateData) ([]notify.Delivery, error) {
	var content string
	var err error
	switch {
	case r.UserTemplate != nil:
		content, err = render.Execute(r.UserTemplate, d.Escaped(render.EscapeMarkdown))
	case r.cfg.MsgType == "text":
		content, err = r.Templates.Render("wecom_text", d.Escaped(render.EscapeText))
	default:
		content, err = r.Templates.Render("dingtalk_markdown", d.Escaped(render.EscapeMarkdown))
	}
	if err != nil {
		return nil, fmt.Errorf("rendering the dingtalk message: %w", err)
	}
	// A mention shows only if the text names the number too.
	mobiles, _ := notify.Mentions(d)
	mentions := ""
	for _, m := range append(slices.Clone(r.cfg.AtMobiles), mobiles...) {
		mentions += " @" + m
	}
	parts := notify.SplitMessage(strings.TrimRight(content, "\n"), contentLimit-len(mentions))
	out := make([]notify.Delivery, len(parts))
	for i, p := range parts {
		out[i] = notify.Delivery{Subject: d.Title, Text: p}
		if i == 0 {
			out[i].Text += mentions
			out[i].MentionMobiles = mobiles
		}
	}
	return out, nil
}

// Sign is DingTalk's 加签: base64 of HMAC-SHA256 over "timestamp\nsecret",
// keyed with the secret; timestamp in milliseconds.
func Sign(secret string, timestampMillis int64) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestampMillis, 10) + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

type answer struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

func (r *robot) Deliver(ctx context.Context, d *notify.Delivery) error {
	if err := r.Pace.Wait(ctx); err != nil {
		return err
	}
	target := r.Hook
	if r.Secret != "" {
		ts := r.Now().UnixMilli()
		target += "&timestamp=" + strconv.FormatInt(ts, 10) + "&sign=" + url.QueryEscape(Sign(r.Secret, ts))
	}
	body := map[string]any{"msgtype": r.cfg.MsgType,
		"at": map[string]any{"atMobiles": nonNil(append(slices.Clone(r.cfg.AtMobiles), d.MentionMobiles...)), "isAtAll": r.cfg.AtAll}}
	if r.cfg.MsgType == "text" {
		body["text"] = map[string]any{"content": d.Text}
	} else {
		title := d.Subject
		if title == "" {
			title = "CKafka"
		}
		body["markdown"] = map[string]any{"title": title, "text": d.Text}
	}
	raw, err := notify.PostJSON(ctx, r.Client, target, body, nil, r.Redact)
	if err != nil {
		return err
	}
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil {
		return notify.Retryable(fmt.Errorf("unreadable answer %q: %v", notify.Snippet(raw), err), 0)
	}
	r.Pace.Record()
	switch a.ErrCode {
	case 0:
		return nil
	case 130101:
		// Over the limit the robot is blocked for ten minutes.
		return notify.Retryable(fmt.Errorf("sending too fast (errcode 130101): %s; the robot is blocked for 10 minutes", a.ErrMsg), blocked)
	case 310000:
		return notify.Permanent(fmt.Errorf("security check failed (errcode 310000): %s: check dingtalk.secret and this host's clock (signature, timestamp), the robot's keywords (they must appear in the message), or its IP allowlist", r.Redact(a.ErrMsg)))
	case 300001:
		return notify.Permanent(errors.New("invalid access_token (errcode 300001): check dingtalk.webhook_urls"))
	case 460101:
		return notify.Permanent(fmt.Errorf("message too long (errcode 460101): %s", a.ErrMsg))
	default:
		return notify.Permanent(fmt.Errorf("errcode %d: %s", a.ErrCode, r.Redact(a.ErrMsg)))
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
