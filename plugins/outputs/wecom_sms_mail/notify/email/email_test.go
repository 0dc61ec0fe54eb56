package email

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/smtpd"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render/rendertest"
)

const smtpPassword = "smtp-password-never-in-logs"

func TestChooseMechanism(t *testing.T) {
	tests := []struct {
		name        string
		mode        string
		offered     []string
		plainTextOK bool
		want        string
		wantErr     string
	}{
		{"auto prefers CRAM-MD5 to PLAIN", authAuto, []string{"PLAIN", "LOGIN", "CRAM-MD5"}, true, "CRAM-MD5", ""},
		{"auto prefers SCRAM", authAuto, []string{"PLAIN", "SCRAM-SHA-256", "CRAM-MD5"}, true, "SCRAM-SHA-256", ""},
		{"auto takes PLAIN when allowed", authAuto, []string{"LOGIN", "PLAIN"}, true, "PLAIN", ""},
		{"auto takes LOGIN when it is all", authAuto, []string{"LOGIN"}, true, "LOGIN", ""},
		{"auto never sends a password in the clear unasked", authAuto, []string{"PLAIN", "LOGIN"}, false, "", "tls_mode"},
		{"explicit plain", authPlain, []string{"LOGIN", "PLAIN"}, false, "PLAIN", ""},
		{"explicit login not offered", authLogin, []string{"PLAIN"}, true, "", `email.auth = "login" but the server offers only PLAIN`},
		{"explicit cram-md5", authCramMD5, []string{"PLAIN", "CRAM-MD5"}, true, "CRAM-MD5", ""},
		{"nothing offered", authAuto, nil, true, "", "offers no AUTH mechanism"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chooseMechanism(tt.mode, tt.offered, tt.plainTextOK)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestEmailAuth runs every auth mode against the real SMTP server. Servers
// without TLS listen on 127.0.0.2: SMTP clients treat 127.0.0.1 as
// localhost and relax their rules for it, which hid the defect where
// tls_mode = "none" could never authenticate.
func TestEmailAuth(t *testing.T) {
	const user = "alerts@example.com"
	tests := []struct {
		name     string
		server   smtpd.Options
		tlsMode  string
		auth     string
		username string
		password string
		wantMech string
		wantTLS  bool
		wantErr  []string
	}{
		{name: "plain relay, PLAIN", server: smtpd.Options{Mode: smtpd.Plain, Mechanisms: []string{"PLAIN", "LOGIN"}},
			tlsMode: "none", auth: "auto", username: user, wantMech: "PLAIN"},
		{name: "plain relay, LOGIN", server: smtpd.Options{Mode: smtpd.Plain, Mechanisms: []string{"LOGIN"}},
			tlsMode: "none", auth: "auto", username: user, wantMech: "LOGIN"},
		{name: "plain relay, explicit login", server: smtpd.Options{Mode: smtpd.Plain, Mechanisms: []string{"PLAIN", "LOGIN"}},
			tlsMode: "none", auth: "login", username: user, wantMech: "LOGIN"},
		{name: "plain relay, CRAM-MD5 preferred", server: smtpd.Options{Mode: smtpd.Plain, Mechanisms: []string{"PLAIN", "LOGIN", "CRAM-MD5"}},
			tlsMode: "none", auth: "auto", username: user, wantMech: "CRAM-MD5"},
		{name: "STARTTLS, PLAIN", server: smtpd.Options{Mode: smtpd.StartTLS, Mechanisms: []string{"PLAIN"}},
			tlsMode: "starttls", auth: "auto", username: user, wantMech: "PLAIN", wantTLS: true},
		{name: "implicit TLS, LOGIN", server: smtpd.Options{Mode: smtpd.Implicit, Mechanisms: []string{"PLAIN", "LOGIN"}},
			tlsMode: "implicit", auth: "login", username: user, wantMech: "LOGIN", wantTLS: true},
		{name: "no username, no AUTH", server: smtpd.Options{Mode: smtpd.Plain},
			tlsMode: "none", auth: "auto"},
		{name: "auth none", server: smtpd.Options{Mode: smtpd.Plain},
			tlsMode: "none", auth: "none"},
		{name: "server offers no AUTH", server: smtpd.Options{Mode: smtpd.Plain},
			tlsMode: "none", auth: "auto", username: user, wantErr: []string{"offers no AUTH mechanism", "email.username"}},
		{name: "wrong password names mechanism and offer", server: smtpd.Options{Mode: smtpd.Plain, Mechanisms: []string{"PLAIN", "LOGIN"}},
			tlsMode: "none", auth: "login", username: user, password: "wrong-password-not-logged",
			wantErr: []string{"SMTP AUTH LOGIN failed (server offers PLAIN LOGIN)", "535"}},
		{name: "mechanism not offered", server: smtpd.Options{Mode: smtpd.Plain, Mechanisms: []string{"LOGIN"}},
			tlsMode: "none", auth: "plain", username: user, wantErr: []string{`email.auth = "plain" but the server offers only LOGIN`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.server
			if len(opts.Mechanisms) > 0 {
				opts.Username, opts.Password = user, smtpPassword
			}
			host := "127.0.0.1"
			if opts.Mode == smtpd.Plain {
				host = "127.0.0.2"
			}
			opts.Host = host
			srv, err := smtpd.Start(opts)
			require.NoError(t, err)
			defer srv.Close()
			ca := filepath.Join(t.TempDir(), "ca.pem")
			require.NoError(t, os.WriteFile(ca, srv.CAPEM, 0o600))
			password := smtpPassword
			if tt.password != "" {
				password = tt.password
			}
			cfg := &Config{SMTPHost: host, SMTPPort: srv.Port(), TLSMode: tt.tlsMode, TLSCA: ca, Auth: tt.auth,
				Username: tt.username, Password: config.NewSecret([]byte(password)),
				From: "alerts@example.com", To: []string{"oncall@example.com"}, MinLevel: "warning"}
			err = sendSampleEmail(t, cfg)
			if len(tt.wantErr) > 0 {
				require.Error(t, err)
				for _, want := range tt.wantErr {
					require.ErrorContains(t, err, want)
				}
				require.NotContains(t, err.Error(), password)
				require.Empty(t, srv.Messages())
				return
			}
			require.NoError(t, err)
			msgs := srv.Messages()
			require.Len(t, msgs, 1)
			require.Equal(t, tt.wantTLS, msgs[0].TLS)
			require.Equal(t, tt.wantMech, msgs[0].Mechanism)
			if tt.wantMech != "" {
				require.Equal(t, user, msgs[0].Authed)
			}
		})
	}
}

// sendSampleEmail sends the test message through an email channel built
// from cfg, one attempt.
func sendSampleEmail(t *testing.T, cfg *Config) error {
	t.Helper()
	tpls, err := render.Load("en")
	require.NoError(t, err)
	ch, err := New(cfg, tpls, "en", 5*time.Second)
	require.NoError(t, err)
	deliveries, err := ch.Prepare(render.SampleData("en", time.Now()))
	require.NoError(t, err)
	return ch.Deliver(context.Background(), &deliveries[0])
}

func TestEmailTLSModes(t *testing.T) {
	tests := []struct {
		name    string
		mode    smtpd.Mode
		config  func(*Config, *smtpd.Server, string)
		wantTLS bool
		wantErr string
	}{
		{"starttls with private CA", smtpd.StartTLS, func(c *Config, _ *smtpd.Server, ca string) { c.TLSCA = ca }, true, ""},
		{"implicit TLS", smtpd.Implicit, func(c *Config, _ *smtpd.Server, ca string) { c.TLSCA = ca; c.TLSMode = "implicit" }, true, ""},
		{"verification stays on", smtpd.StartTLS, func(*Config, *smtpd.Server, string) {}, false, "certificate"},
		{"insecure_skip_verify when asked", smtpd.StartTLS, func(c *Config, _ *smtpd.Server, _ string) { c.InsecureSkipVerify = true }, true, ""},
		{"no TLS", smtpd.Plain, func(c *Config, _ *smtpd.Server, _ string) { c.TLSMode = "none"; c.Username = "" }, false, ""},
		{"mandatory STARTTLS refuses a plain server", smtpd.Plain, func(c *Config, _ *smtpd.Server, _ string) { c.Username = "" }, false, "STARTTLS"},
		{"wrong password", smtpd.StartTLS, func(c *Config, _ *smtpd.Server, ca string) {
			c.TLSCA = ca
			c.Password = config.NewSecret([]byte("wrong-password-not-logged"))
		}, false, "535"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := smtpd.Start(smtpd.Options{Mode: tt.mode, Username: "alerts@example.com", Password: smtpPassword})
			if tt.mode == smtpd.Plain {
				srv.Close()
				srv, err = smtpd.Start(smtpd.Options{Mode: smtpd.Plain})
			}
			require.NoError(t, err)
			defer srv.Close()
			ca := filepath.Join(t.TempDir(), "ca.pem")
			require.NoError(t, os.WriteFile(ca, srv.CAPEM, 0o600))
			cfg := &Config{SMTPHost: "127.0.0.1", SMTPPort: srv.Port(), TLSMode: "auto", Username: "alerts@example.com",
				Password: config.NewSecret([]byte(smtpPassword)), From: "alerts@example.com", To: []string{"oncall@example.com"}, MinLevel: "warning"}
			tt.config(cfg, srv, ca)
			err = sendSampleEmail(t, cfg)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.NotContains(t, err.Error(), "wrong-password-not-logged")
				require.Empty(t, srv.Messages())
				return
			}
			require.NoError(t, err)
			msgs := srv.Messages()
			require.Len(t, msgs, 1)
			require.Equal(t, tt.wantTLS, msgs[0].TLS)
			require.Contains(t, msgs[0].Subject, "[TEST]")
			require.Contains(t, msgs[0].Text, "test message")
			require.Contains(t, msgs[0].HTML, "<table")
		})
	}
}

// TestHostileNames: a group name made to break the message renders as
// literal text in the subject, the text and the HTML part.
func TestHostileNames(t *testing.T) {
	tpls, err := render.Load("zh")
	require.NoError(t, err)
	t.Run("email", func(t *testing.T) {
		ch, err := New(&Config{SMTPHost: "127.0.0.1", SMTPPort: 25, TLSMode: "none", From: "a@example.com", To: []string{"b@example.com"}, MinLevel: "warning"},
			tpls, "zh", time.Second)
		require.NoError(t, err)
		out, err := ch.Prepare(rendertest.Hostile("zh"))
		require.NoError(t, err)
		require.NotContains(t, out[0].Subject, "\n")
		require.Contains(t, out[0].Text, `pay</font>\n### 已恢复 @all`)
		require.Contains(t, out[0].HTML, `pay&lt;/font&gt;\n### 已恢复 @all`)
		require.NotContains(t, out[0].HTML, "pay</font>")
		require.Contains(t, out[0].HTML, `prod\r\n&lt;@all&gt;\u2028`)
	})
}

// TestChartInline: the chart travels as an inline part the HTML refers to;
// the text part says where it is.
func TestChartInline(t *testing.T) {
	srv, err := smtpd.Start(smtpd.Options{Mode: smtpd.Plain})
	require.NoError(t, err)
	defer srv.Close()
	tpls, err := render.Load("en")
	require.NoError(t, err)
	ch, err := New(&Config{SMTPHost: "127.0.0.1", SMTPPort: srv.Port(), TLSMode: "none", From: "a@example.com", To: []string{"b@example.com"}, MinLevel: "warning"},
		tpls, "en", 5*time.Second)
	require.NoError(t, err)
	d := render.SampleData("en", time.Now())
	d.Chart = []byte("\x89PNG\r\n\x1a\nnot really a png")
	ds, err := ch.Prepare(d)
	require.NoError(t, err)
	require.NoError(t, ch.Deliver(context.Background(), &ds[0]))
	m := srv.Messages()[0]
	require.Contains(t, m.HTML, `<img src="cid:lag-chart.png"`)
	require.Contains(t, m.Text, "A chart of the lag is in the HTML part")
	raw := strings.ToLower(string(m.Raw))
	require.Contains(t, raw, "multipart/related")
	require.Contains(t, raw, "content-id: <lag-chart.png>")
	require.Contains(t, raw, "content-type: image/png")

	off := false
	ch, err = New(&Config{SMTPHost: "127.0.0.1", SMTPPort: srv.Port(), TLSMode: "none", From: "a@example.com", To: []string{"b@example.com"}, MinLevel: "warning", Charts: &off},
		tpls, "en", 5*time.Second)
	require.NoError(t, err)
	ds, err = ch.Prepare(d)
	require.NoError(t, err)
	require.Empty(t, ds[0].Chart, "charts = false")
}
