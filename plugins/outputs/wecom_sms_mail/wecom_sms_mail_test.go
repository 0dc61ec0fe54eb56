package wecom_sms_mail

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	fakesms "github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/sms"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/smtpd"
	fakewecom "github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/wecom"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/engine"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/email"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/sms"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/wecom"
)

const (
	robotKey     = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
	smsSecretID  = "AKIDsmstest000000000000000000000"
	smsSecretKey = "sms-secret-key-never-in-logs"
	smtpPassword = "smtp-password-never-in-logs"
)

// env is a plugin wired to the three fakes.
type env struct {
	robot  *fakewecom.Robot
	sms    *fakesms.Fake
	smtp   *smtpd.Server
	caFile string
	log    *testutil.CaptureLogger
	urls   struct{ robot, sms string }
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{robot: fakewecom.New(robotKey), log: &testutil.CaptureLogger{}}
	e.sms = fakesms.New(map[string]string{smsSecretID: smsSecretKey}, map[string]int{"2001": 5, "2002": 1})
	robotSrv := httptest.NewServer(e.robot)
	smsSrv := httptest.NewServer(e.sms)
	t.Cleanup(robotSrv.Close)
	t.Cleanup(smsSrv.Close)
	e.urls.robot, e.urls.sms = robotSrv.URL, smsSrv.URL
	var err error
	e.smtp, err = smtpd.Start(smtpd.Options{Mode: smtpd.StartTLS, Username: "alerts@example.com", Password: smtpPassword})
	require.NoError(t, err)
	t.Cleanup(func() { e.smtp.Close() })
	e.caFile = filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(e.caFile, e.smtp.CAPEM, 0o600))
	return e
}

func (e *env) plugin(t *testing.T, modify ...func(*WeComSMSMail)) *WeComSMSMail {
	t.Helper()
	p := New()
	p.Log = e.log
	p.GroupWait = config.Duration(50 * time.Millisecond)
	p.Timeout = config.Duration(2 * time.Second)
	p.retryBase = 10 * time.Millisecond
	p.tickEvery = 20 * time.Millisecond
	p.WeCom = &wecom.Config{WebhookURLs: []string{e.urls.robot + "/cgi-bin/webhook/send?key=" + robotKey}}
	p.SMS = &sms.Config{SecretID: smsSecretID, SecretKey: config.NewSecret([]byte(smsSecretKey)), Endpoint: e.urls.sms,
		SdkAppID: "1400000001", SignName: "测试", TemplateID: "2001", PhoneNumbers: []string{"13800000001", "+8613800000002"}}
	p.Email = &email.Config{SMTPHost: "127.0.0.1", SMTPPort: e.smtp.Port(), TLSCA: e.caFile, Username: "alerts@example.com",
		Password: config.NewSecret([]byte(smtpPassword)), From: "CKafka Alerts <alerts@example.com>", To: []string{"oncall@example.com"}}
	for _, m := range modify {
		m(p)
	}
	require.NoError(t, p.Init())
	require.NoError(t, p.Connect())
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// logged returns the logged messages containing substr.
func (e *env) logged(substr string) []string {
	var out []string
	for _, m := range e.log.Messages() {
		if strings.Contains(m.Text, substr) {
			out = append(out, m.Text)
		}
	}
	return out
}

func lagMetric(group string, level string, lag, threshold int64) telegraf.Metric {
	return metric.New("ckafka_lag",
		map[string]string{"region": "ap-guangzhou", "instance_id": "ckafka-1", "instance_name": "prod", "group": group, "topic": "orders", "host": "collector-1"},
		map[string]interface{}{"lag": lag, "alert_level": level, "alert_threshold": threshold, "partitions": int64(3)},
		time.Now())
}

func TestFiringGroupedIntoOneMessagePerChannel(t *testing.T) {
	e := newEnv(t)
	p := e.plugin(t)
	require.NoError(t, p.Write([]telegraf.Metric{
		lagMetric("billing", "critical", 2500, 2000),
		lagMetric("search", "warning", 1500, 1000),
		lagMetric("etl", "critical", 9000, 2000),
		lagMetric("idle", "ok", 0, 1000),
	}))
	msg := testkit.Await(t, e.robot.Received(), 10*time.Second, "the wecom message")
	require.Equal(t, "markdown", msg.MsgType)
	// Sorted by severity, then lag: etl, billing, search.
	etl, billing, search := strings.Index(msg.Content, "etl"), strings.Index(msg.Content, "billing"), strings.Index(msg.Content, "search")
	require.True(t, etl > 0 && etl < billing && billing < search, msg.Content)
	for _, want := range []string{"prod(ckafka-1)", "消费组 billing", "Topic orders", "积压 2500", "阈值 2000"} {
		require.Contains(t, msg.Content, want)
	}
	require.NotContains(t, msg.Content, "idle")

	mail := testkit.Await(t, e.smtp.Received(), 10*time.Second, "the email")
	require.True(t, mail.TLS, "STARTTLS is mandatory")
	require.Equal(t, "alerts@example.com", mail.Authed)
	require.Contains(t, mail.Subject, "严重 2 / 警告 1")
	require.Contains(t, mail.Text, "消费组 etl")
	require.Contains(t, mail.HTML, "<td>9000</td>")

	// SMS is for critical alerts only, one per number, about the worst one.
	sms1 := testkit.Await(t, e.sms.Received(), 10*time.Second, "an SMS")
	sms2 := testkit.Await(t, e.sms.Received(), 10*time.Second, "an SMS")
	require.ElementsMatch(t, []string{"+8613800000001", "+8613800000002"}, []string{sms1.Phone, sms2.Phone})
	require.Equal(t, []string{"prod", "etl", "orders", "9000", "2000"}, sms1.Params)

	testkit.Quiet(t, e.robot.Received(), 200*time.Millisecond, "second wecom message")
	require.Len(t, e.robot.Messages(), 1)
	require.Len(t, e.smtp.Messages(), 1)
}

func TestLifecycleNoDuplicateEscalateRepeatResolve(t *testing.T) {
	e := newEnv(t)
	p := e.plugin(t, func(p *WeComSMSMail) { p.RepeatInterval = config.Duration(700 * time.Millisecond) })

	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "warning", 1500, 1000)}))
	first := testkit.Await(t, e.robot.Received(), 10*time.Second, "firing")
	require.Contains(t, first.Content, "警告")
	testkit.Await(t, e.smtp.Received(), 10*time.Second, "firing email")

	// The same level again is no news.
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "warning", 1600, 1000)}))
	testkit.Quiet(t, e.robot.Received(), 300*time.Millisecond, "duplicate")
	require.Empty(t, e.sms.Messages(), "no SMS for a warning")

	// Escalation reaches SMS too.
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "critical", 2600, 2000)}))
	esc := testkit.Await(t, e.robot.Received(), 10*time.Second, "escalation")
	require.Contains(t, esc.Content, "严重")
	testkit.Await(t, e.sms.Received(), 10*time.Second, "escalation SMS")

	// A reminder while it keeps firing.
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "critical", 2700, 2000)}))
	rep := testkit.Await(t, e.robot.Received(), 10*time.Second, "reminder")
	require.Contains(t, rep.Content, "2700")

	// Resolution goes to every channel told, SMS included.
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "ok", 10, 2000)}))
	var resolved fakewecom.Message
	for resolved = testkit.Await(t, e.robot.Received(), 10*time.Second, "resolution"); !strings.Contains(resolved.Content, "恢复"); {
		resolved = testkit.Await(t, e.robot.Received(), 10*time.Second, "resolution")
	}
	require.Contains(t, resolved.Content, "已恢复")
	require.Eventually(t, func() bool {
		for _, m := range e.smtp.Messages() {
			if strings.Contains(m.Subject, "恢复 1") {
				return true
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond)
}

func TestFlappingWithinGroupWaitIsDropped(t *testing.T) {
	e := newEnv(t)
	p := e.plugin(t, func(p *WeComSMSMail) { p.GroupWait = config.Duration(300 * time.Millisecond) })
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "critical", 2500, 2000)}))
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "ok", 10, 2000)}))
	testkit.Quiet(t, e.robot.Received(), 600*time.Millisecond, "message for an alert that came and went")
}

func TestStaleAlertResolvesWithNoData(t *testing.T) {
	e := newEnv(t)
	p := e.plugin(t, func(p *WeComSMSMail) {
		p.StaleAfter = config.Duration(300 * time.Millisecond)
		p.Language = "en"
		p.SMS, p.Email = nil, nil
	})
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "critical", 2500, 2000)}))
	testkit.Await(t, e.robot.Received(), 10*time.Second, "firing")
	msg := testkit.Await(t, e.robot.Received(), 10*time.Second, "stale resolution")
	require.Contains(t, msg.Content, "RESOLVED (no data)")
	require.Contains(t, msg.Content, "no data for 300ms")
}

func TestFailingChannelDoesNotDelayOthers(t *testing.T) {
	e := newEnv(t)
	e.robot.Down(-1)
	p := e.plugin(t, func(p *WeComSMSMail) { p.retryBase = 100 * time.Millisecond; p.MaxRetries = 20 })
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "critical", 2500, 2000)}))
	testkit.Await(t, e.smtp.Received(), 10*time.Second, "email while wecom is down")
	testkit.Await(t, e.sms.Received(), 10*time.Second, "SMS while wecom is down")
	require.Empty(t, e.robot.Messages())
	require.Eventually(t, func() bool { return e.robot.Requests() >= 2 }, 5*time.Second, 10*time.Millisecond)
	e.robot.Up()
	msg := testkit.Await(t, e.robot.Received(), 10*time.Second, "wecom after it came back")
	require.Contains(t, msg.Content, "billing")
	for _, entry := range e.log.Messages() {
		require.NotContains(t, entry.String(), robotKey)
	}
}

func TestWeComErrors(t *testing.T) {
	t.Run("45009 is retried", func(t *testing.T) {
		e := newEnv(t)
		e.robot.FailWith(45009, 45009)
		p := e.plugin(t, func(p *WeComSMSMail) { p.SMS, p.Email = nil, nil })
		require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "critical", 2500, 2000)}))
		testkit.Await(t, e.robot.Received(), 10*time.Second, "message after rate limiting")
		require.Equal(t, 3, e.robot.Requests())
	})
	t.Run("93000 names the problem and hides the key", func(t *testing.T) {
		e := newEnv(t)
		wrongKey := "0000aaaa-bbbb-cccc-dddd-eeeeffff9999"
		p := e.plugin(t, func(p *WeComSMSMail) {
			p.SMS, p.Email = nil, nil
			p.WeCom.WebhookURLs = []string{e.urls.robot + "/cgi-bin/webhook/send?key=" + wrongKey}
		})
		require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "critical", 2500, 2000)}))
		require.Eventually(t, func() bool { return len(e.logged("invalid webhook key (errcode 93000)")) > 0 }, 5*time.Second, 10*time.Millisecond)
		require.Contains(t, e.logged("invalid webhook key (errcode 93000)")[0], "key ***9999")
		require.Equal(t, 1, e.robot.Requests(), "93000 is not retried")
		for _, m := range e.log.Messages() {
			require.NotContains(t, m.String(), wrongKey)
		}
	})
}

func TestLongMessagesAreSplitNotTruncated(t *testing.T) {
	e := newEnv(t)
	p := e.plugin(t, func(p *WeComSMSMail) { p.SMS, p.Email = nil, nil })
	var ms []telegraf.Metric
	for i := range 120 {
		ms = append(ms, lagMetric("consumer-group-with-a-long-name-"+strconv.Itoa(i), "critical", int64(3000+i), 2000))
	}
	require.NoError(t, p.Write(ms))
	// Every group reaches the robot, over at least two messages.
	require.Eventually(t, func() bool {
		all := ""
		for _, m := range e.robot.Messages() {
			all += m.Content
		}
		for i := range 120 {
			if !strings.Contains(all, "consumer-group-with-a-long-name-"+strconv.Itoa(i)+" ") {
				return false
			}
		}
		return true
	}, 30*time.Second, 10*time.Millisecond)
	require.GreaterOrEqual(t, len(e.robot.Messages()), 2)
	for _, m := range e.robot.Messages() {
		require.LessOrEqual(t, len(m.Content), 4096)
	}
}

func TestSMSFailures(t *testing.T) {
	e := newEnv(t)
	e.sms.FailNumber("+8613800000002", "LimitExceeded.PhoneNumberDailyLimit")
	p := e.plugin(t, func(p *WeComSMSMail) { p.WeCom, p.Email = nil, nil })
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "critical", 185238291, 2000)}))
	got := testkit.Await(t, e.sms.Received(), 10*time.Second, "SMS to the healthy number")
	require.Equal(t, "+8613800000001", got.Phone)
	require.Equal(t, "1.9亿", got.Params[3], "never cut mid-number")
	require.Eventually(t, func() bool { return len(e.logged("+8613800000002: LimitExceeded.PhoneNumberDailyLimit")) > 0 }, 5*time.Second, 10*time.Millisecond)
	testkit.Quiet(t, e.sms.Received(), 200*time.Millisecond, "retry of a daily-limit failure")
	for _, m := range e.log.Messages() {
		require.NotContains(t, m.String(), smsSecretKey)
	}
}

func TestSMSRetriesOnlyFailedNumbers(t *testing.T) {
	e := newEnv(t)
	e.sms.FailNumber("+8613800000002", "InternalError.Timeout")
	p := e.plugin(t, func(p *WeComSMSMail) { p.WeCom, p.Email = nil, nil })
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "critical", 2500, 2000)}))
	a := testkit.Await(t, e.sms.Received(), 10*time.Second, "first SMS")
	b := testkit.Await(t, e.sms.Received(), 10*time.Second, "retried SMS")
	require.Equal(t, "+8613800000001", a.Phone)
	require.Equal(t, "+8613800000002", b.Phone)
	testkit.Quiet(t, e.sms.Received(), 200*time.Millisecond, "duplicate SMS")
}

func TestEmailTemporaryFailureIsRetried(t *testing.T) {
	e := newEnv(t)
	e.smtp.FailNext(2)
	p := e.plugin(t, func(p *WeComSMSMail) { p.WeCom, p.SMS = nil, nil })
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "critical", 2500, 2000)}))
	testkit.Await(t, e.smtp.Received(), 10*time.Second, "email after two 451s")
}

func TestWriteNeverBlocksOnTheNetwork(t *testing.T) {
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	}))
	defer hung.Close()
	defer close(release)
	e := newEnv(t)
	p := e.plugin(t, func(p *WeComSMSMail) {
		p.SMS, p.Email = nil, nil
		p.GroupWait = 0
		p.WeCom.WebhookURLs = []string{hung.URL + "/cgi-bin/webhook/send?key=" + robotKey}
	})
	for i := range 50 {
		// Each write makes a notification due while the robot hangs.
		require.NoError(t, p.Write([]telegraf.Metric{lagMetric("g"+strconv.Itoa(i), "critical", 2500, 2000)}))
	}
	require.Len(t, p.engine.Firing(), 50)
}

func TestMetricsWithoutOrWithBadLevel(t *testing.T) {
	e := newEnv(t)
	p := e.plugin(t, func(p *WeComSMSMail) { p.SMS, p.Email = nil, nil })
	plain := metric.New("cpu", map[string]string{}, map[string]interface{}{"usage": 1.0}, time.Now())
	bad := lagMetric("billing", "panic", 2500, 2000)
	require.NoError(t, p.Write([]telegraf.Metric{plain, plain, bad, bad}))
	require.Equal(t, int64(2), p.engine.Stats().Unleveled)
	require.Equal(t, int64(2), p.engine.Stats().BadLevel)
	require.Len(t, e.logged(`measurement "cpu"`), 1, "logged once per measurement")
	require.Len(t, e.logged("unknown level"), 1, "logged once per measurement")
	testkit.Quiet(t, e.robot.Received(), 200*time.Millisecond, "message")
}

func TestLevelFromTagAndHostExcludedFromIdentity(t *testing.T) {
	e := newEnv(t)
	p := e.plugin(t, func(p *WeComSMSMail) { p.SMS, p.Email = nil, nil })
	m1 := metric.New("ckafka_lag", map[string]string{"group": "g", "topic": "t", "alert_level": "critical", "host": "a"},
		map[string]interface{}{"lag": int64(5000)}, time.Now())
	m2 := metric.New("ckafka_lag", map[string]string{"group": "g", "topic": "t", "alert_level": "critical", "host": "b"},
		map[string]interface{}{"lag": int64(5001)}, time.Now())
	require.NoError(t, p.Write([]telegraf.Metric{m1, m2}))
	testkit.Await(t, e.robot.Received(), 10*time.Second, "message")
	require.Len(t, p.engine.Firing(), 1, "host is not part of the identity")
}

func TestStateFileSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	state := filepath.Join(t.TempDir(), "alerts.state")
	withState := func(p *WeComSMSMail) { p.StateFile = state }

	p1 := e.plugin(t, withState)
	require.NoError(t, p1.Write([]telegraf.Metric{lagMetric("billing", "critical", 2500, 2000)}))
	testkit.Await(t, e.robot.Received(), 10*time.Second, "firing")
	testkit.Await(t, e.sms.Received(), 10*time.Second, "sms")
	testkit.Await(t, e.sms.Received(), 10*time.Second, "sms")
	testkit.Await(t, e.smtp.Received(), 10*time.Second, "email")
	require.NoError(t, p1.Close())

	p2 := e.plugin(t, withState)
	require.NoError(t, p2.Write([]telegraf.Metric{lagMetric("billing", "critical", 2600, 2000)}))
	testkit.Quiet(t, e.robot.Received(), 300*time.Millisecond, "re-fired alert after restart")
	require.NoError(t, p2.Write([]telegraf.Metric{lagMetric("billing", "ok", 5, 2000)}))
	msg := testkit.Await(t, e.robot.Received(), 10*time.Second, "resolution after restart")
	require.Contains(t, msg.Content, "已恢复")
	testkit.Await(t, e.sms.Received(), 10*time.Second, "sms resolution: SMS was told before the restart")
}

// undelivered runs a WeCom-only plugin with state file state while the
// robot is down, until its alert's message is tried once, and closes it:
// the message stays queued in the file.
func (e *env) undelivered(t *testing.T, state string) {
	t.Helper()
	e.robot.Down(-1)
	p := e.plugin(t, func(p *WeComSMSMail) { p.StateFile = state; p.SMS, p.Email = nil, nil; p.retryBase = time.Second })
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "critical", 2500, 2000)}))
	require.Eventually(t, func() bool { return e.robot.Requests() >= 1 }, 5*time.Second, 10*time.Millisecond)
	start := time.Now()
	require.NoError(t, p.Close())
	require.Less(t, time.Since(start), 4*time.Second, "Close stays within Telegraf's grace period")
}

func TestStateFileKeepsUndeliveredMessages(t *testing.T) {
	e := newEnv(t)
	state := filepath.Join(t.TempDir(), "alerts.state")
	e.undelivered(t, state)

	e.robot.Up()
	e.plugin(t, func(p *WeComSMSMail) { p.StateFile = state; p.SMS, p.Email = nil, nil })
	msg := testkit.Await(t, e.robot.Received(), 10*time.Second, "the message saved across the restart")
	require.Contains(t, msg.Content, "billing")
}

func TestCorruptStateFileIsMovedAside(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "alerts.state")
	require.NoError(t, os.WriteFile(state, []byte("{not json"), 0o600))
	p := e.plugin(t, func(p *WeComSMSMail) { p.StateFile = state; p.SMS, p.Email = nil, nil })
	matches, err := filepath.Glob(state + ".corrupt-*")
	require.NoError(t, err)
	require.Len(t, matches, 1)
	require.NotEmpty(t, e.logged("is corrupt"))
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "critical", 2500, 2000)}))
	testkit.Await(t, e.robot.Received(), 10*time.Second, "message after quarantine")
}

func TestTestNotify(t *testing.T) {
	e := newEnv(t)
	p := New()
	p.Log = e.log
	p.WeCom = &wecom.Config{WebhookURLs: []string{
		e.urls.robot + "/cgi-bin/webhook/send?key=" + robotKey,
		e.urls.robot + "/cgi-bin/webhook/send?key=bad-key-0000000000001234",
	}}
	p.SMS = &sms.Config{SecretID: smsSecretID, SecretKey: config.NewSecret([]byte(smsSecretKey)), Endpoint: e.urls.sms,
		SdkAppID: "1400000001", TemplateID: "2001", PhoneNumbers: []string{"13800000001"}}
	p.Email = &email.Config{SMTPHost: "127.0.0.1", SMTPPort: e.smtp.Port(), TLSCA: e.caFile, Username: "alerts@example.com",
		Password: config.NewSecret([]byte(smtpPassword)), From: "alerts@example.com", To: []string{"oncall@example.com"}}
	require.NoError(t, p.Init())
	var out strings.Builder
	err := p.TestNotify(context.Background(), &out)
	require.Error(t, err)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 4, out.String())
	require.Regexp(t, `^default wecom robot 127\.0\.0\.1:\d+ key \*\*\*5aaa: ok$`, lines[0])
	require.Regexp(t, `^default wecom robot 127\.0\.0\.1:\d+ key \*\*\*1234: invalid webhook key \(errcode 93000\)`, lines[1])
	require.NotContains(t, out.String(), "bad-key-0000000000001234")
	require.Equal(t, "default sms +86138****0001: ok", lines[2])
	require.Equal(t, "default email oncall@example.com: ok", lines[3])
	require.Contains(t, e.robot.Messages()[0].Content, "测试")
	require.Contains(t, e.smtp.Messages()[0].Subject, "测试")
}

func TestInitErrors(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*WeComSMSMail)
		want   string
	}{
		{"no channel", func(p *WeComSMSMail) { p.WeCom, p.SMS, p.Email = nil, nil, nil }, "no channel configured"},
		{"language", func(p *WeComSMSMail) { p.Language = "fr" }, "language"},
		{"msgtype", func(p *WeComSMSMail) { p.WeCom.MsgType = "image" }, "wecom.msgtype"},
		{"min_level", func(p *WeComSMSMail) { p.WeCom.MinLevel = "ok" }, "wecom.min_level"},
		{"webhook entry", func(p *WeComSMSMail) { p.WeCom.WebhookURLs = []string{"ftp://x/?key=secretkey1234"} }, "wecom.webhook_urls[0]"},
		{"template", func(p *WeComSMSMail) { p.WeCom.Template = "{{.Alerts" }, "wecom.template"},
		{"template field", func(p *WeComSMSMail) { p.WeCom.Template = "{{.Nope}}" }, "wecom.template"},
		{"phone", func(p *WeComSMSMail) { p.SMS.PhoneNumbers = []string{"12345"} }, "sms.phone_numbers[0]"},
		{"sms app id", func(p *WeComSMSMail) { p.SMS.SdkAppID = "" }, "sms.sdk_app_id"},
		{"sms param template", func(p *WeComSMSMail) { p.SMS.TemplateParams = []string{"{{.First.Group"} }, "sms.template_params[0]"},
		{"email from", func(p *WeComSMSMail) { p.Email.From = "not an address" }, "email.from"},
		{"email tls_mode", func(p *WeComSMSMail) { p.Email.TLSMode = "ssl" }, "email.tls_mode"},
		{"email auth", func(p *WeComSMSMail) { p.Email.Auth = "digest-md5" }, "email.auth"},
		{"email auth none with username", func(p *WeComSMSMail) { p.Email.Auth = "none"; p.Email.Username = "u" }, `email.auth = "none" never authenticates, but email.username is set`},
		{"email tls_ca", func(p *WeComSMSMail) { p.Email.TLSCA = "/nonexistent/ca.pem" }, "email.tls_ca"},
		{"email subject", func(p *WeComSMSMail) { p.Email.SubjectTemplate = "{{" }, "email.subject_template"},
		{"timeout", func(p *WeComSMSMail) { p.Timeout = 0 }, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New()
			p.WeCom = &wecom.Config{WebhookURLs: []string{"key-1234567890"}}
			p.SMS = &sms.Config{SecretID: smsSecretID, SecretKey: config.NewSecret([]byte(smsSecretKey)), SdkAppID: "1", TemplateID: "2", PhoneNumbers: []string{"13800000001"}}
			p.Email = &email.Config{SMTPHost: "127.0.0.1", From: "a@example.com", To: []string{"b@example.com"}}
			tt.modify(p)
			err := p.Init()
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "secretkey1234")
		})
	}
}

func TestReadmeShowsSampleConfig(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	require.Contains(t, string(readme), "```toml @sample.conf\n"+New().SampleConfig()+"```")
}

func TestSMSPartialSuccessIsSavedForRestart(t *testing.T) {
	e := newEnv(t)
	state := filepath.Join(t.TempDir(), "alerts.state")
	e.sms.FailNumber("+8613800000002", "InternalError.Timeout", "InternalError.Timeout", "InternalError.Timeout", "InternalError.Timeout")
	p := e.plugin(t, func(p *WeComSMSMail) {
		p.WeCom, p.Email = nil, nil
		p.StateFile = state
		p.retryBase = 10 * time.Second // keep the retry pending
	})
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "critical", 2500, 2000)}))
	require.Equal(t, "+8613800000001", testkit.Await(t, e.sms.Received(), 10*time.Second, "SMS to the healthy number").Phone)
	require.Eventually(t, func() bool {
		raw, err := os.ReadFile(state)
		if err != nil {
			return false
		}
		var s engine.State
		if json.Unmarshal(raw, &s) != nil || len(s.Queues["sms"]) != 1 {
			return false
		}
		return assert.ObjectsAreEqual([]string{"+8613800000002"}, s.Queues["sms"][0].Deliveries[0].Phones)
	}, 5*time.Second, 20*time.Millisecond, "the queued SMS keeps only the number still to send")
}

// TestRemindersCountFromEachDelivery: the robot is down while an alert
// fires, so WeCom hears of it late. Its reminder counts from that late
// delivery, email's from its own (the defect: WeCom's reminder followed its
// late first message within a second).
func TestRemindersCountFromEachDelivery(t *testing.T) {
	const repeat = 3 * time.Second
	e := newEnv(t)
	e.robot.Down(-1)
	p := e.plugin(t, func(p *WeComSMSMail) {
		p.SMS = nil
		p.RepeatInterval = config.Duration(repeat)
		p.retryBase = 100 * time.Millisecond
		p.MaxRetries = 30
	})
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "warning", 1500, 1000)}))
	email1 := testkit.Await(t, e.smtp.Received(), 10*time.Second, "email at once").At
	time.Sleep(2 * time.Second)
	e.robot.Up()
	wecom1 := testkit.Await(t, e.robot.Received(), 10*time.Second, "wecom after the robot came back").At

	email2 := testkit.Await(t, e.smtp.Received(), 10*time.Second, "email reminder").At
	// Bounds from events, not from this machine's speed: email's reminder
	// counts from its own delivery, before one counted from WeCom's late
	// delivery would be due.
	require.GreaterOrEqual(t, email2.Sub(email1), repeat, "email's reminder counts from its delivery")
	require.Less(t, email2, wecom1.Add(repeat), "email's reminder does not wait for WeCom's delivery")
	msg := testkit.Await(t, e.robot.Received(), 10*time.Second, "wecom reminder")
	require.GreaterOrEqual(t, msg.At.Sub(wecom1), repeat, "wecom's reminder counts from its late delivery")
	require.Less(t, msg.At.Sub(wecom1), 2*repeat, "one reminder, not the next")
	require.Contains(t, msg.Content, "billing")

	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "ok", 0, 1000)}))
	require.Contains(t, testkit.Await(t, e.robot.Received(), 10*time.Second, "wecom resolution").Content, "已恢复")
	// Email's next reminder may come first: it keeps its own rhythm.
	require.Eventually(t, func() bool {
		for _, m := range e.smtp.Messages() {
			if strings.Contains(m.Subject, "恢复 1") {
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "email resolution")
}

// TestResolutionOnlyWhereTheFiringArrived: a robot that never got the
// firing message (given up) gets no resolution either.
func TestResolutionOnlyWhereTheFiringArrived(t *testing.T) {
	e := newEnv(t)
	e.robot.Down(-1)
	p := e.plugin(t, func(p *WeComSMSMail) { p.SMS = nil; p.MaxRetries = 1 })
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "warning", 1500, 1000)}))
	testkit.Await(t, e.smtp.Received(), 10*time.Second, "firing email")
	require.Eventually(t, func() bool { return len(e.logged("giving up")) > 0 }, 5*time.Second, 10*time.Millisecond)
	e.robot.Up()
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "ok", 0, 1000)}))
	require.Contains(t, testkit.Await(t, e.smtp.Received(), 10*time.Second, "email resolution").Subject, "恢复 1")
	testkit.Quiet(t, e.robot.Received(), 300*time.Millisecond, "resolution to a robot that never heard of the alert")
}

func TestWorldWritableStateFileIsRefused(t *testing.T) {
	state := filepath.Join(t.TempDir(), "alerts.state")
	require.NoError(t, os.WriteFile(state, []byte(`{"version":2}`), 0o600))
	require.NoError(t, os.Chmod(state, 0o666))
	p := New()
	p.Log = testutil.Logger{}
	p.StateFile = state
	p.WeCom = &wecom.Config{WebhookURLs: []string{"key-1234567890"}}
	require.NoError(t, p.Init())
	require.ErrorContains(t, p.Connect(), "is world-writable")
}

// TestJournalCoversTheGapBeforeTheStateFile: a message the robot accepted
// just before a kill, which the state file still lists as undelivered but
// the delivery journal records, is not sent again after the restart.
func TestJournalCoversTheGapBeforeTheStateFile(t *testing.T) {
	e := newEnv(t)
	state := filepath.Join(t.TempDir(), "alerts.state")
	e.undelivered(t, state)

	// What a kill right after the robot's answer leaves: the job still
	// queued in the state file, its delivery in the journal.
	raw, err := os.ReadFile(state)
	require.NoError(t, err)
	var saved engine.State
	require.NoError(t, json.Unmarshal(raw, &saved))
	require.Len(t, saved.Queues, 1)
	var record notify.Delivered
	for dest, jobs := range saved.Queues {
		require.Len(t, jobs, 1)
		record = notify.Delivered{Dest: dest, Created: jobs[0].Created, Next: len(jobs[0].Deliveries), At: time.Now()}
	}
	line, err := json.Marshal(record)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(state+".journal", append(line, []byte("\n{\"dest\":\"cut sh")...), 0o600))

	e.robot.Up()
	p2 := e.plugin(t, func(p *WeComSMSMail) { p.StateFile = state; p.SMS, p.Email = nil, nil })
	testkit.Quiet(t, e.robot.Received(), 2*time.Second, "a message the journal says was delivered")
	require.Eventually(t, func() bool {
		info, err := os.Stat(state + ".journal")
		return err == nil && info.Size() == 0
	}, 5*time.Second, 50*time.Millisecond, "the journal is emptied once the state file shows its records")
	require.NoError(t, p2.Close())
	raw, err = os.ReadFile(state)
	require.NoError(t, err)
	saved = engine.State{}
	require.NoError(t, json.Unmarshal(raw, &saved))
	require.Empty(t, saved.Queues, "the delivered job left the queue")
	require.NotEmpty(t, saved.Sent, "and the delivery log shows it")
}
