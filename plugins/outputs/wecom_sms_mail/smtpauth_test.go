package wecom_sms_mail

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/smtpd"
)

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
			cfg := &EmailConfig{SMTPHost: host, SMTPPort: srv.Port(), TLSMode: tt.tlsMode, TLSCA: ca, Auth: tt.auth,
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
func sendSampleEmail(t *testing.T, cfg *EmailConfig) error {
	t.Helper()
	tpls, err := loadTemplates("en")
	require.NoError(t, err)
	ch, err := newEmailChannel(cfg, tpls, "en", 5*time.Second)
	require.NoError(t, err)
	deliveries, err := ch.Prepare(sampleData("en", time.Now()))
	require.NoError(t, err)
	return ch.Deliver(context.Background(), &deliveries[0])
}
