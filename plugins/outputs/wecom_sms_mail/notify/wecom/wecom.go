package wecom

import (
	"context"
	"crypto/md5" //nolint:gosec // the robot API asks for md5
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
)

const (
	wecomDefaultBase = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
	// Limits of the group robot API (developer.work.weixin.qq.com/document/path/91770).
	wecomMarkdownLimit = 4096
	wecomTextLimit     = 2048
	wecomPerMinute     = 20
	imageLimit         = 2 << 20 // an image message's PNG, at most 2 MB
)

// mainlandMobile is what mentioned_mobile_list takes besides @all.
var mainlandMobile = regexp.MustCompile(`^1[3-9]\d{9}$`)

// Config is [outputs.wecom_sms_mail.wecom].
type Config struct {
	WebhookURLs         []string `toml:"webhook_urls"`
	MsgType             string   `toml:"msgtype"`
	MentionedMobileList []string `toml:"mentioned_mobile_list"`
	MentionedList       []string `toml:"mentioned_list"`
	MinLevel            string   `toml:"min_level"`
	Template            string   `toml:"template"`
	// SendChart follows a first firing or escalation with the lag chart
	// as an image message (counted in the robot's 20 a minute).
	SendChart bool `toml:"send_chart"`

	// Label prefixes the robots' IDs ("route 2"); empty for the table's.
	Label string `toml:"-"`
}

// robot is one group robot.
type robot struct {
	notify.Robot // its Token is the robot's key
	cfg          *Config
}

// robotURL accepts a full webhook URL or just its key.
var endpoint = notify.Endpoint{
	Name:     "robot key (key= parameter)",
	Complete: func(key string) string { return wecomDefaultBase + "?key=" + url.QueryEscape(key) },
	Secret:   func(u *url.URL) string { return u.Query().Get("key") },
}

// New returns one channel per robot of [outputs.wecom_sms_mail.wecom].
func New(cfg *Config, tpls *render.Templates, lang string, client *http.Client) ([]notify.Channel, error) {
	if len(cfg.WebhookURLs) == 0 {
		return nil, errors.New("wecom.webhook_urls: at least one robot URL or key is required")
	}
	switch cfg.MsgType {
	case "markdown", "text":
	default:
		return nil, fmt.Errorf("wecom.msgtype: %q is not markdown or text", cfg.MsgType)
	}
	for i, m := range cfg.MentionedMobileList {
		if m != "@all" && !mainlandMobile.MatchString(m) {
			return nil, fmt.Errorf("wecom.mentioned_mobile_list[%d]: %q is not an 11-digit mobile number or @all", i, m)
		}
	}
	return notify.NewRobots(notify.RobotTable{Kind: "wecom", URLs: cfg.WebhookURLs, MinLevel: cfg.MinLevel,
		Template: cfg.Template, Endpoint: endpoint, Limits: []notify.Limit{{N: wecomPerMinute, Window: time.Minute}}},
		tpls, lang, client,
		func(r notify.Robot) notify.Channel { return &robot{Robot: r, cfg: cfg} })
}

func (*robot) Kind() string { return "wecom" }

// ID names the robot by its position and host; the key stays out of logs.
var _ notify.Paced = (*robot)(nil)

func (r *robot) ID() string {
	return notify.Labeled(r.cfg.Label, fmt.Sprintf("wecom robot %d (%s, key %s)", r.Index, notify.Host(r.Hook), redactKey(r.Token)))
}

// Destination is the robot's host and key suffix.
func (r *robot) Destination() string {
	return fmt.Sprintf("robot %s key %s", notify.Host(r.Hook), redactKey(r.Token))
}

func redactKey(key string) string { return notify.RedactSecret(key) }

func (r *robot) Prepare(d *render.TemplateData) ([]notify.Delivery, error) {
	if r.cfg.MsgType == "markdown" {
		d = d.Escaped(render.EscapeMarkdown)
	} else {
		d = d.Escaped(render.EscapeText)
	}
	var content string
	var err error
	switch {
	case r.UserTemplate != nil:
		content, err = render.Execute(r.UserTemplate, d)
	case r.cfg.MsgType == "text":
		content, err = r.Templates.Render("wecom_text", d)
	default:
		content, err = r.Templates.Render("wecom_markdown", d)
	}
	if err != nil {
		return nil, fmt.Errorf("rendering the wecom message: %w", err)
	}
	limit := wecomMarkdownLimit
	if r.cfg.MsgType == "text" {
		limit = wecomTextLimit
	}
	mobiles, users := notify.Mentions(d)
	mentions := ""
	if r.cfg.MsgType == "markdown" {
		// Markdown mentions by user ID only.
		for _, u := range append(slices.Clone(r.cfg.MentionedList), users...) {
			mentions += "<@" + u + ">"
		}
	}
	parts := notify.SplitMessage(strings.TrimRight(content, "\n"), limit-len(mentions)-1)
	out := make([]notify.Delivery, len(parts))
	for i, p := range parts {
		if i == 0 && mentions != "" {
			p += "\n" + mentions
		}
		out[i] = notify.Delivery{Text: p}
		if i == 0 && r.cfg.MsgType == "text" {
			out[i].MentionMobiles, out[i].MentionUsers = mobiles, users
		}
	}
	// Reminders and resolutions would spend the robot's 20 a minute.
	if r.cfg.SendChart && len(d.Chart) > 0 && len(d.Chart) <= imageLimit && news(d) {
		out = append(out, notify.Delivery{Chart: d.Chart})
	}
	return out, nil
}

type wecomResponse struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// news reports whether a message carries a first firing or an escalation.
func news(d *render.TemplateData) bool {
	for _, a := range d.Alerts {
		if a.Kind == string(alert.KindFiring) || a.Kind == string(alert.KindEscalated) {
			return true
		}
	}
	return false
}

func (r *robot) Deliver(ctx context.Context, d *notify.Delivery) error {
	if err := r.Pace.Wait(ctx); err != nil {
		return err
	}
	body := map[string]any{"msgtype": r.cfg.MsgType}
	switch {
	case len(d.Chart) > 0:
		sum := md5.Sum(d.Chart)
		body = map[string]any{"msgtype": "image", "image": map[string]any{
			"base64": base64.StdEncoding.EncodeToString(d.Chart), "md5": hex.EncodeToString(sum[:])}}
	case r.cfg.MsgType == "text":
		text := map[string]any{"content": d.Text}
		if users := append(slices.Clone(r.cfg.MentionedList), d.MentionUsers...); len(users) > 0 {
			text["mentioned_list"] = users
		}
		if mobiles := append(slices.Clone(r.cfg.MentionedMobileList), d.MentionMobiles...); len(mobiles) > 0 {
			text["mentioned_mobile_list"] = mobiles
		}
		body["text"] = text
	default:
		body["markdown"] = map[string]any{"content": d.Text}
	}
	raw, err := notify.PostJSON(ctx, r.Client, r.Hook, body, nil, r.Redact)
	if err != nil {
		return err
	}
	var answer wecomResponse
	if err := json.Unmarshal(raw, &answer); err != nil {
		return notify.Retryable(fmt.Errorf("unreadable answer %q: %v", notify.Snippet(raw), err), 0)
	}
	r.Pace.Record()
	switch answer.ErrCode {
	case 0:
		return nil
	case 45009:
		// Rate limited (others may share the robot): retry when our
		// window frees a slot.
		return notify.RetryWithin(fmt.Errorf("rate limited (errcode 45009): %s", answer.ErrMsg), r.Pace.UntilFree())
	case 93000:
		return notify.Permanent(errors.New("invalid webhook key (errcode 93000): check wecom.webhook_urls; give the robot's whole webhook URL or only its key"))
	case -1:
		return notify.Retryable(fmt.Errorf("robot busy (errcode -1): %s", answer.ErrMsg), 0)
	default:
		return notify.Permanent(fmt.Errorf("errcode %d: %s", answer.ErrCode, r.Redact(answer.ErrMsg)))
	}
}
