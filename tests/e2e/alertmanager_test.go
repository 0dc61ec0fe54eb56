package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/webhook"
)

// realAlertmanager starts bin/alertmanager (make alertmanager) on a
// loopback port, routing every alert to hook with send_resolved.
func realAlertmanager(t *testing.T, hook string) string {
	t.Helper()
	bin := filepath.Join(root, "bin", "alertmanager")
	if _, err := os.Stat(bin); err != nil {
		if inCI() {
			t.Fatalf("%s is missing; `make test` builds it with `make alertmanager`", bin)
		}
		t.Skipf("%s is missing: run `make alertmanager` (make test does)", bin)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "alertmanager.yml")
	require.NoError(t, os.WriteFile(conf, []byte(`route:
  receiver: hook
  group_by: ['alertname', 'group']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
- name: hook
  webhook_configs:
  - url: `+hook+`
    send_resolved: true
`), 0o600))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	log := testkit.NewSyncBuffer()
	cmd := exec.Command(bin, "--config.file="+conf, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	cmd.Stdout, cmd.Stderr = log, log
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", log.String())
		}
	})
	url := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(url + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond, "alertmanager ready")
	return url
}

type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	GeneratorURL string            `json:"generatorURL"`
	UpdatedAt    time.Time         `json:"updatedAt"`
	EndsAt       time.Time         `json:"endsAt"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
}

func amAlerts(t *testing.T, url string) []amAlert {
	t.Helper()
	resp, err := http.Get(url + "/api/v2/alerts")
	require.NoError(t, err)
	defer resp.Body.Close()
	var out []amAlert
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

// TestRealAlertmanager: the output posts our alerts to a real Alertmanager,
// which notifies its webhook receiver (our payload's shape is its shape);
// the alert stays active across resend intervals and resolves.
func TestRealAlertmanager(t *testing.T) {
	var mu sync.Mutex
	var received []webhook.Message
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var m webhook.Message
		if json.Unmarshal(raw, &m) == nil {
			mu.Lock()
			received = append(received, m)
			mu.Unlock()
		}
	}))
	defer hook.Close()
	am := realAlertmanager(t, hook.URL)

	conf, err := testkit.WriteFile(t.TempDir(), "wecom_sms_mail.conf", fmt.Sprintf(`[[outputs.wecom_sms_mail]]
  group_wait = "200ms"
  language = "en"
  [outputs.wecom_sms_mail.alertmanager]
    urls = [%q]
    resend_interval = "1s"
    generator_url = "https://grafana.example.com/d/ckafka?var-group={{.group}}"
`, am))
	require.NoError(t, err)
	test := exec.Command(filepath.Join(binDir, "wecom_sms_mail"), "-config", conf, "-test-notify")
	out, err := test.Output()
	require.NoError(t, err, string(out))
	require.Equal(t, "default alertmanager "+am+"/api/v2/alerts: ok\n", string(out))

	cmd := exec.Command(filepath.Join(binDir, "wecom_sms_mail"), "-config", conf)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stderr := testkit.NewSyncBuffer()
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lp := func(level string, lag int) string {
		return fmt.Sprintf("ckafka_lag,group=billing,instance_id=ckafka-1,instance_name=prod,topic=orders alert_level=%q,alert_threshold=2000i,lag=%di,lag_seconds=252.4 %d\n",
			level, lag, time.Now().UnixNano())
	}
	_, err = io.WriteString(stdin, lp("critical", 2500))
	require.NoError(t, err)

	var ours amAlert
	require.Eventually(t, func() bool {
		for _, a := range amAlerts(t, am) {
			if a.Labels["group"] == "billing" && a.Labels["test"] == "" {
				ours = a
				return true
			}
		}
		return false
	}, 15*time.Second, 100*time.Millisecond, "our alert in Alertmanager")
	require.Equal(t, "CKafkaConsumerLag", ours.Labels["alertname"])
	require.Equal(t, "critical", ours.Labels["severity"])
	require.Equal(t, "ckafka-1", ours.Labels["instance_id"])
	require.Equal(t, "active", ours.Status.State)
	require.Contains(t, ours.Annotations["description"], "4m12s behind")
	require.Equal(t, "https://grafana.example.com/d/ckafka?var-group=billing", ours.GeneratorURL)

	firing := awaitHook(t, &mu, &received, "firing")
	require.Equal(t, "4", firing.Version)
	require.Equal(t, "billing", firing.Alerts[0].Labels["group"])

	// Re-posted every second: Alertmanager keeps extending it.
	first := ours.UpdatedAt
	require.Eventually(t, func() bool {
		for _, a := range amAlerts(t, am) {
			if a.Labels["group"] == "billing" && a.Labels["test"] == "" {
				return a.Status.State == "active" && a.UpdatedAt.After(first)
			}
		}
		return false
	}, 30*time.Second, 100*time.Millisecond, "re-posted across resend intervals, still active")

	_, err = io.WriteString(stdin, lp("ok", 10))
	require.NoError(t, err)
	resolved := awaitHook(t, &mu, &received, "resolved")
	require.Equal(t, "billing", resolved.Alerts[0].Labels["group"])
	require.NoError(t, stdin.Close())
	require.NoError(t, cmd.Wait(), stderr.String())
	require.False(t, strings.Contains(stderr.String(), "E! "), stderr.String())
}

// awaitHook waits for a webhook message about the billing group with status.
func awaitHook(t *testing.T, mu *sync.Mutex, received *[]webhook.Message, status string) webhook.Message {
	t.Helper()
	var found webhook.Message
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range *received {
			if m.Status == status && len(m.Alerts) > 0 && m.Alerts[0].Labels["group"] == "billing" {
				found = m
				return true
			}
		}
		return false
	}, 20*time.Second, 100*time.Millisecond, "a %s webhook from Alertmanager", status)
	return found
}
