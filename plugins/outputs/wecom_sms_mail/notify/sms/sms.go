package sms

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/influxdata/telegraf/config"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/secrets"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/tcloud"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
)

const (
	smsVersion      = "2021-01-11"
	smsMaxNumbers   = 200 // PhoneNumberSet limit per SendSms request
	smsThirtySecond = 30 * time.Second
)

var (
	mainlandMobile = regexp.MustCompile(`^1[3-9]\d{9}$`)
	e164           = regexp.MustCompile(`^\+[1-9]\d{6,14}$`)
)

// Config is [outputs.wecom_sms_mail.sms].
type Config struct {
	SecretID       string        `toml:"secret_id"`
	SecretKey      config.Secret `toml:"secret_key"`
	Region         string        `toml:"region"`
	Endpoint       string        `toml:"endpoint"`
	SdkAppID       string        `toml:"sdk_app_id"`
	SignName       string        `toml:"sign_name"`
	TemplateID     string        `toml:"template_id"`
	PhoneNumbers   []string      `toml:"phone_numbers"`
	TemplateParams []string      `toml:"template_params"`
	ParamMaxLength int           `toml:"param_max_length"`
	MinLevel       string        `toml:"min_level"`

	// Label names a route's copy of the account ("route 2"); empty for
	// the table's.
	Label string `toml:"-"`
}

// defaultSMSParams match the old message: instance, group, topic, lag,
// threshold of the most severe alert.
var defaultSMSParams = []string{
	"{{.First.InstanceName}}", "{{.First.Group}}", "{{.First.Topic}}", "{{.First.ValueText}}", "{{.First.ThresholdText}}",
}

type channel struct {
	cfg      *Config
	client   *tcloud.Client
	phones   []string
	params   []*template.Template
	lang     string
	minLevel alert.Level
}

// NormalizePhone returns the E.164 form: 11-digit mainland numbers get +86.
func NormalizePhone(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case mainlandMobile.MatchString(s):
		return "+86" + s, nil
	case e164.MatchString(s):
		return s, nil
	}
	return "", fmt.Errorf("%q is not an E.164 number (+8613800000000) or an 11-digit mainland mobile", s)
}

// NormalizePhones normalizes the numbers listed under key, each once.
func NormalizePhones(key string, list []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for i, p := range list {
		n, err := NormalizePhone(p)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %v", key, i, err)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// New returns the SMS channel of [outputs.wecom_sms_mail.sms].
func New(cfg *Config, lang string, timeout time.Duration) (notify.Channel, error) {
	for key, v := range map[string]string{"sms.sdk_app_id": cfg.SdkAppID, "sms.template_id": cfg.TemplateID, "sms.region": cfg.Region} {
		if v == "" {
			return nil, fmt.Errorf("%s is required", key)
		}
	}
	if len(cfg.PhoneNumbers) == 0 {
		return nil, errors.New("sms.phone_numbers: at least one number is required")
	}
	if cfg.ParamMaxLength < 0 {
		return nil, fmt.Errorf("sms.param_max_length: %d is negative", cfg.ParamMaxLength)
	}
	minLevel, err := alert.ParseMinLevel("sms.min_level", cfg.MinLevel)
	if err != nil {
		return nil, err
	}
	ch := &channel{cfg: cfg, lang: lang, minLevel: minLevel}
	if ch.phones, err = NormalizePhones("sms.phone_numbers", cfg.PhoneNumbers); err != nil {
		return nil, err
	}
	params := cfg.TemplateParams
	if params == nil {
		params = defaultSMSParams
	}
	if ch.params, err = render.ParseUserTemplates("sms.template_params", params, lang); err != nil {
		return nil, err
	}
	secretKey, err := secrets.Reveal(cfg.SecretKey)
	if err != nil {
		return nil, fmt.Errorf("sms.secret_key: %w", err)
	}
	ch.client, err = tcloud.New(tcloud.Options{
		Service: "sms", Version: smsVersion, Region: cfg.Region, Endpoint: cfg.Endpoint,
		SecretID: cfg.SecretID, SecretKey: secretKey, Timeout: timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("sms: %w", err)
	}
	return ch, nil
}

func (*channel) Kind() string { return "sms" }
func (c *channel) ID() string {
	if c.cfg.Label != "" {
		return "sms " + c.cfg.Label
	}
	return "sms"
}

// Destination lists the numbers, their middle digits hidden.
func (c *channel) Destination() string {
	masked := make([]string, len(c.phones))
	for i, p := range c.phones {
		masked[i] = p
		if len(p) > 8 {
			masked[i] = p[:len(p)-8] + "****" + p[len(p)-4:]
		}
	}
	return strings.Join(masked, ",")
}
func (c *channel) MinLevel() alert.Level { return c.minLevel }

// Prepare renders each template variable, shortened to param_max_length
// (numbers compactly, never cut mid-number), one request per 200 numbers.
func (c *channel) Prepare(d *render.TemplateData) ([]notify.Delivery, error) {
	d = d.Escaped(render.StripControl)
	params := make([]string, len(c.params))
	for i, t := range c.params {
		v, err := render.Execute(t, d)
		if err != nil {
			return nil, fmt.Errorf("rendering sms.template_params[%d]: %w", i, err)
		}
		params[i] = render.ShortText(strings.TrimSpace(v), c.cfg.ParamMaxLength, c.lang)
	}
	var out []notify.Delivery
	for start := 0; start < len(c.phones); start += smsMaxNumbers {
		end := min(start+smsMaxNumbers, len(c.phones))
		out = append(out, notify.Delivery{Params: params, Phones: append([]string(nil), c.phones[start:end]...)})
	}
	return out, nil
}

type sendSmsResponse struct {
	tchttp.BaseResponse
	Response struct {
		SendStatusSet []struct {
			SerialNo    string
			PhoneNumber string
			Fee         int64
			Code        string
			Message     string
		}
	}
}

// Deliver sends one SendSms. Only Code "Ok" is success: failing numbers are
// reported with their codes, and those worth retrying stay in d.
func (c *channel) Deliver(ctx context.Context, d *notify.Delivery) error {
	params := map[string]any{
		"PhoneNumberSet":   d.Phones,
		"SmsSdkAppId":      c.cfg.SdkAppID,
		"TemplateId":       c.cfg.TemplateID,
		"TemplateParamSet": d.Params,
	}
	if c.cfg.SignName != "" {
		params["SignName"] = c.cfg.SignName
	}
	var resp sendSmsResponse
	if err := c.client.Call(ctx, "SendSms", params, &resp); err != nil {
		switch {
		case tcloud.IsTransient(err):
			return notify.Retryable(fmt.Errorf("SendSms: %s", tcloud.Describe(err)), 0)
		case tcloud.IsAuth(err):
			return notify.Permanent(fmt.Errorf("SendSms: %s: check sms.secret_id/secret_key and the CAM permission sms:SendSms", tcloud.Describe(err)))
		default:
			return notify.Permanent(fmt.Errorf("SendSms: %s", tcloud.Describe(err)))
		}
	}
	statuses := resp.Response.SendStatusSet
	if len(statuses) == 0 {
		return notify.Retryable(errors.New("SendSms answered no SendStatusSet"), 0)
	}
	var failed []string
	var retry []string
	var after time.Duration
	for _, s := range statuses {
		if s.Code == "Ok" {
			continue
		}
		failed = append(failed, fmt.Sprintf("%s: %s (%s)", s.PhoneNumber, s.Code, s.Message))
		switch {
		case s.Code == "LimitExceeded.PhoneNumberThirtySecondLimit":
			retry = append(retry, s.PhoneNumber)
			after = smsThirtySecond
		case strings.HasPrefix(s.Code, "InternalError"), strings.HasPrefix(s.Code, "RequestLimitExceeded"):
			retry = append(retry, s.PhoneNumber)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	err := fmt.Errorf("SendSms failed for %d of %d numbers: %s", len(failed), len(statuses), strings.Join(failed, "; "))
	if len(retry) == 0 {
		return notify.Permanent(err)
	}
	d.Phones = retry
	return notify.Retryable(err, after)
}
