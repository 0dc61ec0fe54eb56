// Package voice is the phone-call channel: Tencent Cloud Voice Message
// Service (VMS) API 3.0 SendTtsVoice, which reads an approved template
// aloud to one number per request. Call results come back as callbacks
// (see Callback), configured in the VMS console.
package voice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/influxdata/telegraf/config"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/secrets"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/tcloud"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/sms"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/oncall"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
)

const (
	version = "2020-09-02"
	// maxContent is the documented bound on a message's variables, all
	// together, in characters.
	maxContent = 350
	// perSecond is the API's limit per action, region and sub-account.
	perSecond = 20
)

// Config is [outputs.wecom_sms_mail.voice].
type Config struct {
	SecretID       string        `toml:"secret_id"`
	SecretKey      config.Secret `toml:"secret_key"`
	Region         string        `toml:"region"`
	Endpoint       string        `toml:"endpoint"`
	VoiceSdkAppID  string        `toml:"voice_sdk_app_id"`
	TemplateID     string        `toml:"template_id"`
	TemplateParams []string      `toml:"template_params"`
	PlayTimes      int           `toml:"play_times"`
	PhoneNumbers   []string      `toml:"phone_numbers"`
	MinLevel       string        `toml:"min_level"`
	// CallbackToken is the secret path of the callbacks' URL:
	// POST /vms/<callback_token> on the web table's listener.
	CallbackToken config.Secret `toml:"callback_token"`
	// AckKey is the key that claims the alert (default "1").
	AckKey string `toml:"ack_key"`

	// Label names a route's copy of the account ("route 2").
	Label string `toml:"-"`
}

// defaultParams: what is behind, and by how much.
var defaultParams = []string{"{{.First.Group}}", "{{.First.Topic}}", "{{.First.ValueText}}"}

// Channel places calls.
type Channel struct {
	cfg      *Config
	client   *tcloud.Client
	phones   []string
	params   []*template.Template
	minLevel alert.Level
	pacer    *notify.Pacer
}

// New returns the voice channel of [outputs.wecom_sms_mail.voice].
func New(cfg *Config, lang string, timeout time.Duration) (*Channel, error) {
	for key, v := range map[string]string{"voice.voice_sdk_app_id": cfg.VoiceSdkAppID, "voice.template_id": cfg.TemplateID,
		"voice.region": cfg.Region} {
		if v == "" {
			return nil, fmt.Errorf("%s is required", key)
		}
	}
	if cfg.PlayTimes < 1 || cfg.PlayTimes > 3 {
		return nil, fmt.Errorf("voice.play_times: %d is not 1, 2 or 3", cfg.PlayTimes)
	}
	if len(cfg.AckKey) != 1 || !strings.Contains("0123456789*#", cfg.AckKey) {
		return nil, fmt.Errorf("voice.ack_key: %q is not one key of 0-9, * or #", cfg.AckKey)
	}
	minLevel, err := alert.ParseMinLevel("voice.min_level", cfg.MinLevel)
	if err != nil {
		return nil, err
	}
	ch := &Channel{cfg: cfg, minLevel: minLevel, pacer: notify.NewPacer(notify.Limit{N: perSecond, Window: time.Second})}
	if ch.phones, err = sms.NormalizePhones("voice.phone_numbers", cfg.PhoneNumbers); err != nil {
		return nil, err
	}
	params := cfg.TemplateParams
	if params == nil {
		params = defaultParams
	}
	if ch.params, err = render.ParseUserTemplates("voice.template_params", params, lang); err != nil {
		return nil, err
	}
	secretKey, err := secrets.Reveal(cfg.SecretKey)
	if err != nil {
		return nil, fmt.Errorf("voice.secret_key: %w", err)
	}
	ch.client, err = tcloud.New(tcloud.Options{
		Service: "vms", Version: version, Region: cfg.Region, Endpoint: cfg.Endpoint,
		SecretID: cfg.SecretID, SecretKey: secretKey, Timeout: timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("voice: %w", err)
	}
	return ch, nil
}

func (*Channel) Kind() string { return "voice" }
func (c *Channel) ID() string {
	if c.cfg.Label != "" {
		return "voice " + c.cfg.Label
	}
	return "voice"
}

// Destination lists the numbers, their middle digits hidden.
func (c *Channel) Destination() string {
	masked := make([]string, len(c.phones))
	for i, p := range c.phones {
		masked[i] = mask(p)
	}
	return strings.Join(masked, ",")
}

func mask(p string) string { return oncall.MaskPhone(p) }

func (c *Channel) MinLevel() alert.Level { return c.minLevel }
func (c *Channel) Pacer() *notify.Pacer  { return c.pacer }
func (c *Channel) AckKey() string        { return c.cfg.AckKey }
func (c *Channel) CallbackToken() (string, error) {
	return secrets.Reveal(c.cfg.CallbackToken)
}

// Params renders the template's variables; together they are cut to the
// API's 350 characters (the last ones shortened first).
func (c *Channel) Params(d *render.TemplateData) ([]string, error) {
	d = d.Escaped(render.StripControl)
	params := make([]string, len(c.params))
	total := 0
	for i, t := range c.params {
		v, err := render.Execute(t, d)
		if err != nil {
			return nil, fmt.Errorf("rendering voice.template_params[%d]: %w", i, err)
		}
		v = strings.TrimSpace(v)
		if room := maxContent - total; utf8.RuneCountInString(v) > room {
			v = string([]rune(v)[:max(room, 0)])
		}
		total += utf8.RuneCountInString(v)
		params[i] = v
	}
	return params, nil
}

// Prepare makes one call per number (the API calls one number a request).
func (c *Channel) Prepare(d *render.TemplateData) ([]notify.Delivery, error) {
	params, err := c.Params(d)
	if err != nil {
		return nil, err
	}
	out := make([]notify.Delivery, 0, len(c.phones))
	for _, p := range c.phones {
		out = append(out, notify.Delivery{Params: params, Phones: []string{p}})
	}
	return out, nil
}

// Deliver places the delivery's call.
func (c *Channel) Deliver(ctx context.Context, d *notify.Delivery) error {
	if len(d.Phones) != 1 {
		return notify.Permanent(fmt.Errorf("a call goes to one number, got %d", len(d.Phones)))
	}
	_, err := c.Call(ctx, d.Phones[0], d.Params, "")
	return err
}

type sendTtsVoiceResponse struct {
	tchttp.BaseResponse
	Response struct {
		SendStatus struct {
			CallID         string `json:"CallId"`
			SessionContext string
		}
	}
}

// Call places one call to phone (E.164) and returns VMS's CallId, which
// the callbacks name. Errors are classified like SMS's: rate limits and
// the API's own failures are retried, a refused number or template is
// permanent and named.
func (c *Channel) Call(ctx context.Context, phone string, params []string, session string) (string, error) {
	if err := c.pacer.Wait(ctx); err != nil {
		return "", err
	}
	req := map[string]any{
		"TemplateId":       c.cfg.TemplateID,
		"CalledNumber":     phone,
		"VoiceSdkAppid":    c.cfg.VoiceSdkAppID,
		"TemplateParamSet": params,
		"PlayTimes":        c.cfg.PlayTimes,
	}
	if session != "" {
		req["SessionContext"] = session
	}
	var resp sendTtsVoiceResponse
	c.pacer.Record()
	if err := c.client.Call(ctx, "SendTtsVoice", req, &resp); err != nil {
		return "", classify(err, phone)
	}
	id := resp.Response.SendStatus.CallID
	if id == "" {
		return "", notify.Retryable(errors.New("SendTtsVoice answered no SendStatus.CallId"), 0)
	}
	return id, nil
}

// classify sorts SendTtsVoice's errors.
func classify(err error, phone string) error {
	code := tcloud.Code(err)
	switch {
	case tcloud.IsTransient(err), code == "FailedOperation.AccessUpstreamTimeout":
		return notify.Retryable(fmt.Errorf("SendTtsVoice: %s", tcloud.Describe(err)), 0)
	case tcloud.IsAuth(err):
		return notify.Permanent(fmt.Errorf("SendTtsVoice: %s: check voice.secret_id/secret_key and the CAM permission vms:SendTtsVoice",
			tcloud.Describe(err)))
	case strings.HasPrefix(code, "LimitExceeded"), strings.Contains(code, "PhoneNumber"), strings.Contains(code, "IncorrectPhoneNumber"):
		// A number's own limits and an invalid number: calling again
		// would not help; the escalation calls the next person.
		return notify.Permanent(fmt.Errorf("SendTtsVoice to %s: %s", mask(phone), tcloud.Describe(err)))
	default:
		return notify.Permanent(fmt.Errorf("SendTtsVoice: %s", tcloud.Describe(err)))
	}
}

// Check sends a signed request that places no call (an empty
// CalledNumber): a wrong key answers AuthFailure, a good one a missing
// parameter (-test-notify).
func (c *Channel) Check(ctx context.Context) error {
	var resp sendTtsVoiceResponse
	err := c.client.Call(ctx, "SendTtsVoice", map[string]any{
		"TemplateId": c.cfg.TemplateID, "CalledNumber": "", "VoiceSdkAppid": c.cfg.VoiceSdkAppID,
	}, &resp)
	switch code := tcloud.Code(err); {
	case err == nil:
		return errors.New("SendTtsVoice accepted a request without a number")
	case tcloud.IsAuth(err):
		return fmt.Errorf("%s: check voice.secret_id/secret_key", tcloud.Describe(err))
	case strings.HasPrefix(code, "MissingParameter"), strings.HasPrefix(code, "InvalidParameter"):
		return nil // signed, authorized, and refused for the empty number alone
	default:
		return fmt.Errorf("SendTtsVoice: %s", tcloud.Describe(err))
	}
}

// Callback is one VMS callback, whichever of the three kinds.
type Callback struct {
	CallID string
	// Result is the oncall result it reports: answered, no_answer,
	// failed, or a key (Key set).
	Kind          string // "voiceprompt_callback", "voicekey_callback" or "voice_failure_callback"
	Result        string // voiceprompt_callback's: "0" answered, "1" not answered, "2" error
	Key           string // voicekey_callback's keypress
	FailureCode   int
	FailureReason string
	Mobile        string
}

// ParseCallback reads a callback body as the VMS docs give it: one object
// keyed by the callback's kind. Anything else is an error (answered 400).
func ParseCallback(body []byte) (Callback, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return Callback{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if len(raw) != 1 {
		return Callback{}, fmt.Errorf("want one of voiceprompt_callback, voicekey_callback, voice_failure_callback; got %d keys", len(raw))
	}
	var fields struct {
		CallID        string          `json:"callid"`
		Result        json.RawMessage `json:"result"`
		Keypress      string          `json:"keypress"`
		FailureCode   json.RawMessage `json:"failure_code"`
		FailureReason string          `json:"failure_reason"`
		Mobile        string          `json:"mobile"`
	}
	var cb Callback
	for kind, v := range raw {
		cb.Kind = kind
		if err := json.Unmarshal(v, &fields); err != nil {
			return Callback{}, fmt.Errorf("%s: %w", kind, err)
		}
	}
	cb.CallID, cb.Mobile = fields.CallID, fields.Mobile
	if cb.CallID == "" {
		return Callback{}, fmt.Errorf("%s: callid is missing", cb.Kind)
	}
	switch cb.Kind {
	case "voiceprompt_callback":
		cb.Result = strings.Trim(string(fields.Result), `"`)
		if cb.Result != "0" && cb.Result != "1" && cb.Result != "2" {
			return Callback{}, fmt.Errorf("voiceprompt_callback: result %s is not 0, 1 or 2", fields.Result)
		}
	case "voicekey_callback":
		if utf8.RuneCountInString(fields.Keypress) == 0 {
			return Callback{}, errors.New("voicekey_callback: keypress is missing")
		}
		cb.Key = fields.Keypress
	case "voice_failure_callback":
		code, err := strconv.Atoi(strings.Trim(string(fields.FailureCode), `"`))
		if err != nil {
			return Callback{}, fmt.Errorf("voice_failure_callback: failure_code %s is not a number", fields.FailureCode)
		}
		cb.FailureCode, cb.FailureReason = code, fields.FailureReason
	default:
		return Callback{}, fmt.Errorf("unknown callback %q", cb.Kind)
	}
	return cb, nil
}

// Outcome maps a callback to an escalation's call result: a press of ackKey claims; another key claims nothing.
func (cb Callback) Outcome(ackKey string) string {
	switch cb.Kind {
	case "voicekey_callback":
		if cb.Key == ackKey {
			return oncall.CallAcked
		}
		return oncall.CallOtherKey
	case "voice_failure_callback":
		return oncall.CallFailed
	}
	switch cb.Result {
	case "0":
		return oncall.CallAnswered
	case "1":
		return oncall.CallNoAnswer
	}
	return oncall.CallFailed
}
