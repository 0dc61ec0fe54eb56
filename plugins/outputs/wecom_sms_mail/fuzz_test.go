package wecom_sms_mail

import (
	"os"
	"path/filepath"
	"testing"
	"time"

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

// FuzzReadState reads any bytes as the state file: a corrupt one is moved
// aside, never a panic.
func FuzzReadState(f *testing.F) {
	f.Add([]byte(`{"version":2,"alerts":[{"key":"k","level":"critical","started_at":"2026-11-24T00:00:00Z","history":[{"t":1,"v":2}]}],"sent":{"k":{"wecom":{"since":"2026-11-24T00:00:00Z"}}}}`))
	f.Add([]byte(`{"version":1,"told":{"k":["sms"]},"alerts":[{"key":"k"}]}`))
	f.Add([]byte(`{"version":2,"queues":{"sms":[{"deliveries":[{"params":["a"],"phones":["+86"]}],"next":5}]}}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "state")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Skip()
		}
		s, _, err := readState(path, time.Unix(0, 0))
		if err == nil && s == nil {
			t.Fatal("no state and no error")
		}
	})
}

// FuzzReadJournal reads any bytes as the delivery journal: records with a
// destination or nothing, never a panic.
func FuzzReadJournal(f *testing.F) {
	f.Add([]byte(`{"dest":"wecom robot 1","created":"2026-12-02T03:00:00Z","next":1,"at":"2026-12-02T03:00:01Z"}` + "\n"))
	f.Add([]byte(`{"dest":"sms","created":"2026-12-02T03:00:00Z","next":2,"at":"2026-12-02T03:00:01Z"}` + "\n{\"dest\":\"cut"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "journal")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Skip()
		}
		records, err := readJournal(path)
		if err != nil {
			t.Fatalf("a private journal is never refused: %v", err)
		}
		for _, r := range records {
			if r.Dest == "" {
				t.Fatalf("a record without a destination: %+v", r)
			}
		}
	})
}
