package e2e

import (
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/sms"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/vms"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/wecom"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/sim"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
)

const (
	vmsID, vmsKey  = "AKIDvmse2e00000000000000000000000", "vms-e2e-secret-key"
	vmsToken       = "e2e-callback-token-0123456789"
	onCallZhang    = "+8613800000011"
	onCallLi       = "+8613800000012"
	onCallTemplate = "4356"
)

// onCallConfDir is etc/ with the output's config extended by a voice
// account on the VMS fake, the page server (for the callbacks), a roster
// of two and an escalation of seconds: SMS after 4 s, a call after 8 s
// (the alert's own robot message mentions the person on call).
func onCallConfDir(t *testing.T, vmsURL, listen string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"ckafka_lag.conf", "wecom_sms_mail.conf"} {
		raw, err := os.ReadFile(filepath.Join(root, "etc", name))
		require.NoError(t, err)
		if name == "wecom_sms_mail.conf" {
			raw = append(raw, []byte(onCallTables(vmsURL, listen, time.Now().Add(-time.Hour), "4s", "8s"))...)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), raw, 0o600))
	}
	return dir
}

// onCallTables are the output's on-call tables: the page server on
// listen, a voice account on the VMS fake, a roster of two whose first
// shift began at handoff, and an escalation: an SMS step after smsAfter,
// a call step after callAfter.
func onCallTables(vmsURL, listen string, handoff time.Time, smsAfter, callAfter string) string {
	return fmt.Sprintf(`
  [outputs.wecom_sms_mail.web]
    listen = %[2]q
    external_url = "http://%[2]s"
    link_secret = "e2e-link-secret-0123456789"

  [outputs.wecom_sms_mail.voice]
    secret_id = %[3]q
    secret_key = %[4]q
    endpoint = %[1]q
    voice_sdk_app_id = "1400006666"
    template_id = %[6]q
    callback_token = %[5]q

  [[outputs.wecom_sms_mail.oncall]]
    name = "kafka"
    rotation = "168h"
    handoff = %[7]q
    timezone = "Asia/Shanghai"
    people = [
      { name = "张三", phone = %[8]q, wecom_mention = "zhangsan" },
      { name = "李四", phone = %[9]q },
    ]

  [[outputs.wecom_sms_mail.escalation]]
    match = { group = "billing" }
    min_level = "critical"
    oncall = "kafka"
    steps = [
      { after = %[10]q, notify = ["sms"] },
      { after = %[11]q, notify = ["voice"] },
    ]
`, vmsURL, listen, vmsID, vmsKey, vmsToken, onCallTemplate, handoff.Format(time.RFC3339), onCallZhang, onCallLi, smsAfter, callAfter)
}

func freeListen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// TestOnCallEndToEnd: the real Telegraf with sample.conf. An unclaimed
// critical alert → a robot message mentioning the person on call → an SMS
// to them → a call → key 1 → the "claimed by phone" notice, and nothing
// more.
func TestOnCallEndToEnd(t *testing.T) {
	phone := vms.New(map[string]string{vmsID: vmsKey}, map[string]int{onCallTemplate: 3})
	vmsSrv := httptest.NewServer(phone)
	defer vmsSrv.Close()
	listen := freeListen(t)
	phone.SetCallbackURL("http://" + listen + "/vms/" + vmsToken)
	phone.Script(onCallZhang, vms.AnswerWithKey("1"))
	p := startPipeline(t, sim.Settings{
		Interval: "2s", FlushInterval: "1s", GroupWait: "1s", RepeatInterval: "1m",
		StaleAfter: "1m", RestartDelay: "1s", Language: "en", ConfDir: onCallConfDir(t, vmsSrv.URL, listen),
	}, nil, steadyGroups)
	s := p.sim

	s.SetLag("billing", "payments", 3000)
	first, _ := testkit.AwaitMatch(t, s.Robot.Received(), 60*time.Second, "the alert message mentioning 张三",
		wecom.Titled(titleAlert, "billing", "<@zhangsan>"))
	fired := first.At
	text, _ := testkit.AwaitMatch(t, s.SMS.Received(), 30*time.Second, "the SMS step to 张三",
		func(m sms.Message) bool { return m.Phone == onCallZhang })
	require.GreaterOrEqual(t, text.At.Sub(fired), 2*time.Second, "the SMS step waits for its time")
	call := testkit.Await(t, phone.Received(), 30*time.Second, "the call step")
	require.Equal(t, onCallZhang, call.Phone)
	require.Equal(t, "1400006666", call.AppID)
	claimed, _ := testkit.AwaitMatch(t, s.Robot.Received(), 30*time.Second, "the claim notice",
		wecom.Titled("CKafka alert claimed", "billing"))
	require.Contains(t, claimed.Content, "claimed by 张三 by phone")
	testkit.Quiet(t, phone.Received(), 3*time.Second, "a call after the claim")
	require.Contains(t, p.log.String(), `Alert claimed by "张三" by phone`)
}

// TestPairOnCallKillBetweenSteps: two real Telegrafs; the active places
// the SMS step and is SIGKILLed; the standby takes over and places the
// call step on time, once, and never repeats the SMS step.
func TestPairOnCallKillBetweenSteps(t *testing.T) {
	brokers, s := pairWorld(t)
	steadyGroups(s)
	phone := vms.New(map[string]string{vmsID: vmsKey}, map[string]int{onCallTemplate: 3})
	vmsSrv := httptest.NewServer(phone)
	defer vmsSrv.Close()
	phone.Script(onCallZhang, vms.AnswerNoKey)
	const smsAfter, callAfter = 3 * time.Second, 14 * time.Second
	settings := sim.Settings{Interval: "1s", FlushInterval: "1s", GroupWait: "1s", RepeatInterval: "1m",
		StaleAfter: "1m", RestartDelay: "1s", Language: "en"}
	handoff := time.Now().Add(-time.Hour)
	listenA, listenB := freeListen(t), freeListen(t)
	phone.SetCallbackURL("http://" + listenB + "/vms/" + vmsToken)
	a := startHostWith(t, s, "host-a", brokers, settings, pairSession,
		onCallTables(vmsSrv.URL, listenA, handoff, smsAfter.String(), callAfter.String()))
	require.Eventually(t, func() bool { return a.logged("Cluster: active") }, 30*time.Second, 100*time.Millisecond, "host-a takes the lease")
	b := startHostWith(t, s, "host-b", brokers, settings, pairSession,
		onCallTables(vmsSrv.URL, listenB, handoff, smsAfter.String(), callAfter.String()))
	require.Eventually(t, func() bool { return b.logged("Cluster: standby (active: host-a)") }, 30*time.Second, 100*time.Millisecond)

	s.SetLag("billing", "payments", 3000)
	text, _ := testkit.AwaitMatch(t, s.SMS.Received(), 60*time.Second, "the SMS step to 张三",
		func(m sms.Message) bool { return m.Phone == onCallZhang })
	a.kill(t)
	killed := time.Now()
	call := testkit.Await(t, phone.Received(), callAfter+30*time.Second, "the call step from host-b")
	require.Equal(t, onCallZhang, call.Phone)
	require.Eventually(t, func() bool { return b.logged("Escalation: called 张三") }, 5*time.Second, 50*time.Millisecond, "host-b placed it")
	// The SMS step was placed within 2 s of its time, the call step must
	// be too: callAfter − smsAfter apart, give or take those 2 s.
	gap := call.At.Sub(text.At)
	require.GreaterOrEqual(t, gap, callAfter-smsAfter-2*time.Second, "not before its time")
	require.LessOrEqual(t, gap, callAfter-smsAfter+2*time.Second, "on time after the takeover (killed %s before the call)", call.At.Sub(killed))
	t.Logf("SMS step → call step after the kill: %s (due %s); the kill came %s after the SMS step",
		gap.Round(10*time.Millisecond), callAfter-smsAfter, killed.Sub(text.At).Round(10*time.Millisecond))
	testkit.Quiet(t, phone.Received(), 3*time.Second, "a second call")
	n := 0
	for _, m := range s.SMS.Messages() {
		if m.Phone == onCallZhang {
			n++
		}
	}
	require.Equal(t, 1, n, "the SMS step is not repeated after the takeover")
}
