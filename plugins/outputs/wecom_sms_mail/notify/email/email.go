package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"strings"
	"text/template"
	"time"

	"github.com/influxdata/telegraf/config"
	gomail "github.com/wneessen/go-mail"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/secrets"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
)

// Config is [outputs.wecom_sms_mail.email].
type Config struct {
	SMTPHost           string        `toml:"smtp_host"`
	SMTPPort           int           `toml:"smtp_port"`
	TLSMode            string        `toml:"tls_mode"`
	TLSCA              string        `toml:"tls_ca"`
	InsecureSkipVerify bool          `toml:"insecure_skip_verify"`
	Auth               string        `toml:"auth"`
	Username           string        `toml:"username"`
	Password           config.Secret `toml:"password"`
	From               string        `toml:"from"`
	To                 []string      `toml:"to"`
	SubjectTemplate    string        `toml:"subject_template"`
	MinLevel           string        `toml:"min_level"`
	// Charts puts the lag chart inline in the HTML body (default true).
	Charts *bool `toml:"charts"`

	// Label names a route's copy of the server ("route 2"); empty for the
	// table's.
	Label string `toml:"-"`
}

type channel struct {
	cfg        *Config
	client     *gomail.Client
	tpls       *render.Templates
	subjectTpl *template.Template
	minLevel   alert.Level
	auth       *smtpAuth // nil without username
}

// New returns the email channel of [outputs.wecom_sms_mail.email].
func New(cfg *Config, tpls *render.Templates, lang string, timeout time.Duration) (notify.Channel, error) {
	if cfg.SMTPHost == "" {
		return nil, errors.New("email.smtp_host is required")
	}
	if cfg.SMTPPort <= 0 || cfg.SMTPPort > 65535 {
		return nil, fmt.Errorf("email.smtp_port: %d is not a port", cfg.SMTPPort)
	}
	if _, err := mail.ParseAddress(cfg.From); err != nil {
		return nil, fmt.Errorf("email.from: %q: %v", cfg.From, err)
	}
	if len(cfg.To) == 0 {
		return nil, errors.New("email.to: at least one recipient is required")
	}
	for i, to := range cfg.To {
		if _, err := mail.ParseAddress(to); err != nil {
			return nil, fmt.Errorf("email.to[%d]: %q: %v", i, to, err)
		}
	}
	minLevel, err := alert.ParseMinLevel("email.min_level", cfg.MinLevel)
	if err != nil {
		return nil, err
	}
	ch := &channel{cfg: cfg, tpls: tpls, minLevel: minLevel}
	if cfg.SubjectTemplate != "" {
		if ch.subjectTpl, err = render.ParseUserTemplate("email.subject_template", cfg.SubjectTemplate, lang); err != nil {
			return nil, err
		}
	}

	tlsConfig := &tls.Config{ServerName: cfg.SMTPHost, MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // the user's explicit choice
	if cfg.TLSCA != "" {
		pem, err := os.ReadFile(cfg.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("email.tls_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("email.tls_ca: %s holds no PEM certificate", cfg.TLSCA)
		}
		tlsConfig.RootCAs = pool
	}
	opts := []gomail.Option{
		gomail.WithPort(cfg.SMTPPort),
		gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(tlsConfig),
	}
	mode := cfg.TLSMode
	if mode == "auto" {
		mode = "starttls"
		if cfg.SMTPPort == 465 {
			mode = "implicit"
		}
	}
	switch mode {
	case "implicit":
		opts = append(opts, gomail.WithSSL())
	case "starttls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		return nil, fmt.Errorf("email.tls_mode: %q is not auto, implicit, starttls or none", cfg.TLSMode)
	}
	switch cfg.Auth {
	case "", authAuto, authPlain, authLogin, authCramMD5:
	case authNone:
		if cfg.Username != "" {
			return nil, errors.New(`email.auth = "none" never authenticates, but email.username is set: remove one of them`)
		}
	default:
		return nil, fmt.Errorf("email.auth: %q is not auto, plain, login, cram-md5 or none", cfg.Auth)
	}
	// No username: no AUTH at all, for relays that trust the source address.
	if cfg.Username != "" {
		password, err := secrets.Reveal(cfg.Password)
		if err != nil {
			return nil, fmt.Errorf("email.password: %w", err)
		}
		ch.auth = newSMTPAuth(cfg.Auth, cfg.Username, password, cfg.SMTPHost, mode == "none")
		opts = append(opts, gomail.WithSMTPAuthCustom(ch.auth))
	}
	if ch.client, err = gomail.NewClient(cfg.SMTPHost, opts...); err != nil {
		return nil, fmt.Errorf("email: %w", err)
	}
	return ch, nil
}

func (*channel) Kind() string { return "email" }
func (c *channel) ID() string {
	id := fmt.Sprintf("email (%s:%d)", c.cfg.SMTPHost, c.cfg.SMTPPort)
	if c.cfg.Label != "" {
		id += " " + c.cfg.Label
	}
	return id
}

// Destination lists the recipients.
func (c *channel) Destination() string   { return strings.Join(c.cfg.To, ",") }
func (c *channel) MinLevel() alert.Level { return c.minLevel }

func (c *channel) Prepare(d *render.TemplateData) ([]notify.Delivery, error) {
	// html/template escapes the HTML part; control characters are made
	// visible for the subject and the text part.
	d = d.Escaped(render.EscapeText)
	var subject string
	var err error
	if c.subjectTpl != nil {
		subject, err = render.Execute(c.subjectTpl, d)
	} else {
		subject, err = c.tpls.Render("email_subject", d)
	}
	if err != nil {
		return nil, fmt.Errorf("rendering the email subject: %w", err)
	}
	text, err := c.tpls.Render("email_text", d)
	if err != nil {
		return nil, fmt.Errorf("rendering the email text: %w", err)
	}
	html, err := c.tpls.RenderHTML(d)
	if err != nil {
		return nil, fmt.Errorf("rendering the email HTML: %w", err)
	}
	del := notify.Delivery{Subject: subject, Text: text, HTML: html}
	if c.cfg.Charts == nil || *c.cfg.Charts {
		del.Chart = d.Chart
	}
	return []notify.Delivery{del}, nil
}

func (c *channel) Deliver(ctx context.Context, d *notify.Delivery) error {
	msg := gomail.NewMsg()
	if err := msg.From(c.cfg.From); err != nil {
		return notify.Permanent(fmt.Errorf("from: %w", err))
	}
	to := c.cfg.To
	if len(d.To) > 0 {
		to = d.To
	}
	if err := msg.To(to...); err != nil {
		return notify.Permanent(fmt.Errorf("to: %w", err))
	}
	msg.Subject(d.Subject)
	msg.SetBodyString(gomail.TypeTextPlain, d.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, d.HTML)
	if len(d.Chart) > 0 {
		if err := msg.EmbedReader("lag-chart.png", bytes.NewReader(d.Chart), gomail.WithFileContentID("<lag-chart.png>"),
			gomail.WithFileContentType("image/png")); err != nil {
			return notify.Permanent(fmt.Errorf("embedding the chart: %w", err))
		}
	}
	c.auth.reset()
	err := c.auth.explain(c.send(ctx, msg))
	if err == nil {
		return nil
	}
	var sendErr *gomail.SendError
	if errors.As(err, &sendErr) && !sendErr.IsTemp() && sendErr.ErrorCode() >= 500 {
		return notify.Permanent(fmt.Errorf("SMTP: %w", err))
	}
	return notify.Retryable(fmt.Errorf("SMTP: %w", err), 0)
}

// send dials, sends and returns as soon as the server accepted the
// message: QUIT goes on in the background. The dispatcher records the
// delivery the moment this returns, so a kill during QUIT does not send
// it again, and a QUIT that fails after the server took the message is
// no reason to retry it (the message is delivered).
func (c *channel) send(ctx context.Context, msg *gomail.Msg) error {
	client, err := c.client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return fmt.Errorf("dial failed: %w", err)
	}
	if err := c.client.SendWithSMTPClient(client, msg); err != nil {
		_ = c.client.CloseWithSMTPClient(client)
		return fmt.Errorf("send failed: %w", err)
	}
	go func() { _ = c.client.CloseWithSMTPClient(client) }()
	return nil
}
