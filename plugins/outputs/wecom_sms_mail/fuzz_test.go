package wecom_sms_mail

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/influxdata/telegraf/testutil"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/execd"
)

// FuzzConfig loads any bytes as the plugin's config and initializes it:
// an error naming the problem, never a panic.
func FuzzConfig(f *testing.F) {
	f.Add([]byte("[[outputs.wecom_sms_mail]]\n  [outputs.wecom_sms_mail.wecom]\n    webhook_urls = [\"k0123456789\"]\n"))
	f.Add([]byte("[[outputs.wecom_sms_mail]]\n  quiet_hours = [\"22:00-08:00\"]\n  [outputs.wecom_sms_mail.email]\n    smtp_host = \"h\"\n    from = \"a@b.c\"\n    to = [\"d@e.f\"]\n  [[outputs.wecom_sms_mail.route]]\n    match = { group = \"x*\" }\n    email_to = [\"g@h.i\"]\n"))
	f.Add([]byte("[[outputs.wecom_sms_mail]]\n  [outputs.wecom_sms_mail.dingtalk]\n    webhook_urls = [\"t\"]\n  [outputs.wecom_sms_mail.alertmanager]\n    urls = [\"http://127.0.0.1:9093\"]\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, conf []byte) {
		path := filepath.Join(dir, "c.conf")
		if err := os.WriteFile(path, conf, 0o600); err != nil {
			t.Skip()
		}
		p := New()
		p.Log = testutil.Logger{Quiet: true}
		if execd.LoadPlugin(path, "outputs", "wecom_sms_mail", p) == nil {
			_ = p.Init()
		}
	})
}
