package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/sms"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/smtpd"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/wecom"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/engine"
)

const (
	robotKey     = "5d7e0c2a-1111-2222-3333-44445555abcd"
	smsSecretID  = "AKIDoutputbinary0000000000000000"
	smsSecretKey = "output-binary-sms-secret"
	smtpPassword = "output-binary-smtp-password"
)

var binary string

func TestMain(m *testing.M) {
	os.Exit(testkit.MainWithBinaries(m, func(dir string) { binary = filepath.Join(dir, "wecom_sms_mail") }, "wecom_sms_mail"))
}

type sinks struct {
	robot *wecom.Robot
	sms   *sms.Fake
	smtp  *smtpd.Server
	env   []string
}

func startSinks(t *testing.T) *sinks {
	t.Helper()
	s := &sinks{robot: wecom.New(robotKey), sms: sms.New(map[string]string{smsSecretID: smsSecretKey}, map[string]int{"2001": 5})}
	robotSrv := httptest.NewServer(s.robot)
	smsSrv := httptest.NewServer(s.sms)
	t.Cleanup(robotSrv.Close)
	t.Cleanup(smsSrv.Close)
	var err error
	s.smtp, err = smtpd.Start(smtpd.Options{Mode: smtpd.StartTLS, Username: "alerts@example.com", Password: smtpPassword})
	require.NoError(t, err)
	t.Cleanup(func() { s.smtp.Close() })
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, s.smtp.CAPEM, 0o600))
	s.env = append(os.Environ(),
		"TEST_WECOM_URL="+robotSrv.URL+"/cgi-bin/webhook/send?key="+robotKey,
		"TEST_SMS_ENDPOINT="+smsSrv.URL,
		"TEST_SMS_SECRET_KEY="+smsSecretKey,
		"TEST_SMTP_PORT="+fmt.Sprint(s.smtp.Port()),
		"TEST_SMTP_CA="+ca,
		"TEST_SMTP_PASSWORD="+smtpPassword,
	)
	return s
}

func writeConfig(t *testing.T, top string) string {
	t.Helper()
	if !strings.Contains(top, "group_wait") {
		top += "\n  group_wait = \"200ms\""
	}
	conf := `[[outputs.wecom_sms_mail]]
  timeout = "2s"
` + top + `
  [outputs.wecom_sms_mail.wecom]
    webhook_urls = ["${TEST_WECOM_URL}"]

  [outputs.wecom_sms_mail.sms]
    secret_id = "` + smsSecretID + `"
    secret_key = "${TEST_SMS_SECRET_KEY}"
    endpoint = "${TEST_SMS_ENDPOINT}"
    sdk_app_id = "1400000001"
    sign_name = "测试"
    template_id = "2001"
    phone_numbers = ["13800000001"]

  [outputs.wecom_sms_mail.email]
    smtp_host = "127.0.0.1"
    smtp_port = ${TEST_SMTP_PORT}
    tls_ca = "${TEST_SMTP_CA}"
    username = "alerts@example.com"
    password = "${TEST_SMTP_PASSWORD}"
    from = "alerts@example.com"
    to = ["oncall@example.com"]
`
	p, err := testkit.WriteFile(t.TempDir(), "wecom_sms_mail.conf", conf)
	require.NoError(t, err)
	return p
}

type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *testkit.SyncBuffer
}

// start runs the binary with its debug log on: the tests that kill it
// wait for its "Delivery recorded" lines, not for a guessed time.
func start(t *testing.T, s *sinks, conf string) *proc {
	t.Helper()
	cmd := exec.Command(binary, "-config", conf, "-debug")
	cmd.Env = s.env
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	p := &proc{cmd: cmd, stdin: stdin, stderr: testkit.NewSyncBuffer()}
	cmd.Stderr = p.stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return p
}

// awaitRecorded waits until the process has recorded n deliveries, so
// that a kill after it must not repeat them.
func (p *proc) awaitRecorded(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Count(p.stderr.String(), engine.RecordedPrefix) >= n },
		30*time.Second, 10*time.Millisecond, "%d deliveries recorded; stderr: %s", n, p.stderr)
}

func (p *proc) send(t *testing.T, lines ...string) {
	t.Helper()
	_, err := io.WriteString(p.stdin, strings.Join(lines, "\n")+"\n")
	require.NoError(t, err)
}

func line(group, level string, lag int64) string {
	return fmt.Sprintf("ckafka_lag,group=%s,host=h1,instance_id=ckafka-1,instance_name=prod,region=ap-guangzhou,topic=orders alert_level=%q,alert_threshold=2000i,lag=%di %d",
		group, level, lag, time.Now().UnixNano())
}

func TestMetricsOnStdinBecomeMessages(t *testing.T) {
	s := startSinks(t)
	p := start(t, s, writeConfig(t, ""))
	p.send(t, line("billing", "critical", 2500), "this is not line protocol", line("search", "warning", 1500))
	msg := testkit.Await(t, s.robot.Received(), 15*time.Second, "wecom message")
	for _, want := range []string{"prod(ckafka-1)", "billing", "search", "orders", "2500", "2000"} {
		require.Contains(t, msg.Content, want)
	}
	sm := testkit.Await(t, s.sms.Received(), 15*time.Second, "sms")
	require.Equal(t, "+8613800000001", sm.Phone)
	mail := testkit.Await(t, s.smtp.Received(), 15*time.Second, "email")
	require.Contains(t, mail.Subject, "严重 1 / 警告 1")

	// Closing stdin flushes and exits cleanly, well within Telegraf's 5 s.
	start := time.Now()
	require.NoError(t, p.stdin.Close())
	require.NoError(t, p.cmd.Wait(), p.stderr.String())
	require.Less(t, time.Since(start), 4*time.Second)
	require.Contains(t, p.stderr.String(), "E! Skipping a malformed line: at line 2:", "the bad line is reported and skipped")
	for _, secret := range []string{robotKey, smsSecretKey, smtpPassword} {
		require.NotContains(t, p.stderr.String(), secret)
	}
}

func TestPendingGroupIsFlushedAtEOF(t *testing.T) {
	s := startSinks(t)
	p := start(t, s, writeConfig(t, `  group_wait = "1m"`))
	p.send(t, line("billing", "critical", 2500))
	time.Sleep(200 * time.Millisecond)
	require.Empty(t, s.robot.Messages())
	require.NoError(t, p.stdin.Close())
	require.NoError(t, p.cmd.Wait())
	require.Len(t, s.robot.Messages(), 1, "EOF sends what group_wait was holding")
}

func TestKillAndRestartWithStateFile(t *testing.T) {
	s := startSinks(t)
	state := filepath.Join(t.TempDir(), "alerts.state")
	conf := writeConfig(t, fmt.Sprintf("  state_file = %q", state))

	p := start(t, s, conf)
	p.send(t, line("billing", "critical", 2500))
	testkit.Await(t, s.robot.Received(), 15*time.Second, "firing")
	testkit.Await(t, s.sms.Received(), 15*time.Second, "sms")
	testkit.Await(t, s.smtp.Received(), 15*time.Second, "email")
	p.awaitRecorded(t, 3)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	_ = p.cmd.Wait()

	p2 := start(t, s, conf)
	p2.send(t, line("billing", "critical", 2600))
	p2.send(t, line("billing", "ok", 3))
	// A channel's messages go out in order: a repeat would come first.
	res := testkit.Await(t, s.robot.Received(), 15*time.Second, "resolution")
	require.Contains(t, res.Content, "恢复", "no duplicate after kill -9")
	require.Len(t, s.robot.Messages(), 2)
	testkit.Await(t, s.sms.Received(), 15*time.Second, "sms resolution")
	require.NoError(t, p2.stdin.Close())
	require.NoError(t, p2.cmd.Wait())
}

func TestChannelDownThenUpAndRateLimited(t *testing.T) {
	s := startSinks(t)
	s.robot.Down(2)
	s.robot.FailWith(45009)
	p := start(t, s, writeConfig(t, ""))
	p.send(t, line("billing", "critical", 2500))
	testkit.Await(t, s.smtp.Received(), 15*time.Second, "email while the robot is down")
	msg := testkit.Await(t, s.robot.Received(), 15*time.Second, "wecom after 503, 503, 45009")
	require.Contains(t, msg.Content, "billing")
	require.Equal(t, 4, s.robot.Requests())
	require.Contains(t, p.stderr.String(), "W! wecom robot 1")
	require.Contains(t, p.stderr.String(), "45009")
	require.NotContains(t, p.stderr.String(), robotKey)
}

func TestTestNotify(t *testing.T) {
	s := startSinks(t)
	cmd := exec.Command(binary, "-config", writeConfig(t, ""), "-test-notify")
	cmd.Env = s.env
	out, err := cmd.Output()
	require.NoError(t, err, string(out))
	require.Regexp(t, `^default wecom robot 127\.0\.0\.1:\d+ key \*\*\*abcd: ok\ndefault sms \+86138\*\*\*\*0001: ok\ndefault email oncall@example\.com: ok\n$`, string(out))
	require.Contains(t, s.robot.Messages()[0].Content, "测试")

	s.smtp.Close()
	cmd = exec.Command(binary, "-config", writeConfig(t, ""), "-test-notify")
	cmd.Env = s.env
	out, err = cmd.Output()
	require.Error(t, err)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, 3)
	require.Contains(t, lines[0], "default wecom robot ")
	require.True(t, strings.HasSuffix(lines[0], ": ok"), lines[0])
	// The same test SMS again within 30 s is refused, as the real API does.
	require.Contains(t, lines[1], "default sms +86138****0001: SendSms failed for 1 of 1 numbers: +8613800000001: LimitExceeded.PhoneNumberThirtySecondLimit")
	require.Contains(t, lines[2], "default email oncall@example.com: ")
	require.Contains(t, lines[2], "connection refused")
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, conf, want string
	}{
		{"unknown top-level key", "[[outputs.wecom_sms_mail]]\n  repeat_intervall = \"1h\"\n  [outputs.wecom_sms_mail.wecom]\n    webhook_urls = [\"k0123456789\"]\n",
			`"outputs.wecom_sms_mail.repeat_intervall"`},
		{"unknown channel key", "[[outputs.wecom_sms_mail]]\n  [outputs.wecom_sms_mail.wecom]\n    webhook_url = \"k0123456789\"\n",
			`"outputs.wecom_sms_mail.wecom.webhook_url"`},
		{"bad phone", "[[outputs.wecom_sms_mail]]\n  [outputs.wecom_sms_mail.sms]\n    secret_id = \"a\"\n    secret_key = \"b\"\n    sdk_app_id = \"1\"\n    template_id = \"2\"\n    phone_numbers = [\"555-1234\"]\n",
			"sms.phone_numbers[0]"},
		{"bad template", "[[outputs.wecom_sms_mail]]\n  [outputs.wecom_sms_mail.wecom]\n    webhook_urls = [\"k0123456789\"]\n    template = \"{{range .Alerts}\"\n",
			"wecom.template"},
		{"no channel", "[[outputs.wecom_sms_mail]]\n", "no channel configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := testkit.WriteFile(t.TempDir(), "c.conf", tt.conf)
			require.NoError(t, err)
			cmd := exec.Command(binary, "-config", p)
			cmd.Stdin = strings.NewReader("")
			out, err := cmd.CombinedOutput()
			require.Error(t, err)
			require.Contains(t, string(out), "E! ")
			require.Contains(t, string(out), tt.want)
		})
	}
}

// TestRemindersAcrossKillAndRestart: the robot is down while an alert
// fires and the output is killed with its WeCom message still queued. After
// the restart WeCom hears of the alert at once; its reminder counts from
// that delivery, email's from its own before the kill.
func TestRemindersAcrossKillAndRestart(t *testing.T) {
	const repeat = 4 * time.Second
	s := startSinks(t)
	s.robot.Down(-1)
	state := filepath.Join(t.TempDir(), "alerts.state")
	conf := writeConfig(t, fmt.Sprintf("  state_file = %q\n  repeat_interval = %q", state, repeat))

	p := start(t, s, conf)
	p.send(t, line("billing", "warning", 1500))
	email1 := testkit.Await(t, s.smtp.Received(), 15*time.Second, "email at once").At
	require.Eventually(t, func() bool { return s.robot.Requests() >= 1 }, 5*time.Second, 10*time.Millisecond)
	p.awaitRecorded(t, 1) // the email
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	_ = p.cmd.Wait()
	s.robot.Up()

	p2 := start(t, s, conf)
	wecom1 := testkit.Await(t, s.robot.Received(), 15*time.Second, "the queued wecom message after the restart").At
	p2.send(t, line("billing", "warning", 1600))

	email2 := testkit.Await(t, s.smtp.Received(), 15*time.Second, "email reminder").At
	require.GreaterOrEqual(t, email2.Sub(email1), repeat, "email's reminder counts from its delivery before the kill")
	// Upper bounds from the configuration, not from this machine's speed:
	// one reminder, not the next one.
	require.Less(t, email2.Sub(email1), 2*repeat)
	wecom2 := testkit.Await(t, s.robot.Received(), 15*time.Second, "wecom reminder").At
	require.GreaterOrEqual(t, wecom2.Sub(wecom1), repeat, "wecom's reminder counts from its late delivery")
	require.Less(t, wecom2.Sub(wecom1), 2*repeat)
	require.Len(t, s.smtp.Messages(), 2, "no duplicate email after the restart")
	require.NoError(t, p2.stdin.Close())
	require.NoError(t, p2.cmd.Wait())
}

// TestHostileGroupNameIsLiteral: a group name made to break the markdown
// arrives escaped in WeCom and in email. (Line protocol cannot carry a raw
// line break in a tag; the table tests of each channel cover that.)
func TestHostileGroupNameIsLiteral(t *testing.T) {
	s := startSinks(t)
	p := start(t, s, writeConfig(t, ""))
	const lpGroup = `pay</font>###\ 已恢复\ <@all>\,x\=1` // line protocol escaping of pay</font>### 已恢复 <@all>,x=1
	p.send(t, fmt.Sprintf("ckafka_lag,group=%s,instance_id=ckafka-1,instance_name=prod,topic=orders alert_level=\"critical\",alert_threshold=2000i,lag=2500i %d",
		lpGroup, time.Now().UnixNano()))
	msg := testkit.Await(t, s.robot.Received(), 15*time.Second, "wecom message")
	require.Contains(t, msg.Content, `消费组 pay&lt;/font&gt;\#\#\# 已恢复 &lt;@all&gt;,x=1 Topic orders`)
	require.Equal(t, strings.Count(msg.Content, "<font"), strings.Count(msg.Content, "</font>"), msg.Content)
	require.Len(t, strings.Split(msg.Content, "\n"), 3, msg.Content)
	mail := testkit.Await(t, s.smtp.Received(), 15*time.Second, "email")
	require.Contains(t, mail.HTML, `pay&lt;/font&gt;### 已恢复 &lt;@all&gt;,x=1`)
	require.NotContains(t, mail.HTML, "pay</font>")
}

// TestTestNotifyPingsTheHeartbeat: -test-notify checks the heartbeat URLs
// too, without printing their secret path.
func TestTestNotifyPingsTheHeartbeat(t *testing.T) {
	s := startSinks(t)
	var pings atomic.Int32
	hb := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { pings.Add(1) }))
	defer hb.Close()
	conf := writeConfig(t, "group_wait = \"200ms\"\n  [outputs.wecom_sms_mail.heartbeat]\n    urls = [\""+hb.URL+"/ping/uuid-secret\"]\n")
	cmd := exec.Command(binary, "-config", conf, "-test-notify")
	cmd.Env = s.env
	out, err := cmd.Output()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "heartbeat "+hb.URL+"/***: ok\n")
	require.NotContains(t, string(out), "uuid-secret")
	require.EqualValues(t, 1, pings.Load())
}
