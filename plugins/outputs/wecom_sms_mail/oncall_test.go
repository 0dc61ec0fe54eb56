package wecom_sms_mail

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"

	fakesms "github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/sms"
	fakevms "github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/vms"
	fakewecom "github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/wecom"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/sms"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/voice"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/wecom"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/oncall"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/route"
)

const (
	vmsSecretID   = "AKIDvmstest000000000000000000000"
	vmsSecretKey  = "vms-secret-key-never-in-logs"
	callbackToken = "cb-token-0123456789abcdef"
	zhangsan      = "+8613800000011"
	lisi          = "+8613800000012"
)

// oncallEnv is the plugin with a roster of two, an escalation of three
// steps (robot at once, SMS, then a call) and a VMS fake whose callbacks
// reach the plugin's page server.
type oncallEnv struct {
	*env
	vms    *fakevms.Fake
	vmsURL string
	addr   string
	dir    string
}

func newOncallEnv(t *testing.T) *oncallEnv {
	t.Helper()
	o := &oncallEnv{env: newEnv(t), addr: freeAddr(t), dir: t.TempDir()}
	o.vms = fakevms.New(map[string]string{vmsSecretID: vmsSecretKey}, map[string]int{"4356": 3})
	srv := httptest.NewServer(o.vms)
	t.Cleanup(srv.Close)
	o.vms.SetCallbackURL("http://" + o.addr + "/vms/" + callbackToken)
	o.vmsURL = srv.URL
	return o
}

func (o *oncallEnv) plugin(t *testing.T, steps []oncall.StepConfig) *WeComSMSMail {
	t.Helper()
	return o.env.plugin(t, func(p *WeComSMSMail) { o.configure(p, steps) })
}

// configure adds on call to a plugin the env's plugin() set up.
func (o *oncallEnv) configure(p *WeComSMSMail, steps []oncall.StepConfig) {
	p.Email = nil
	p.Language = "en"
	p.WeCom.MsgType = "text"
	p.StateFile = filepath.Join(o.dir, "state.json")
	p.Web = &WebConfig{Listen: o.addr, ExternalURL: "http://" + o.addr, LinkSecret: config.NewSecret([]byte("link-secret-0123456789"))}
	p.Voice = &voice.Config{SecretID: vmsSecretID, SecretKey: config.NewSecret([]byte(vmsSecretKey)), Endpoint: o.vmsURL,
		VoiceSdkAppID: "1400006666", TemplateID: "4356", CallbackToken: config.NewSecret([]byte(callbackToken))}
	p.OnCall = []oncall.RosterConfig{{Name: "kafka", Rotation: config.Duration(168 * time.Hour),
		Handoff: time.Now().Add(-time.Hour).Format(time.RFC3339), Timezone: "Asia/Shanghai",
		People: []oncall.PersonConfig{{Name: "张三", Phone: zhangsan}, {Name: "李四", Phone: lisi}}}}
	p.Escalations = []oncall.EscalationConfig{{OnCall: "kafka", MinLevel: "critical", Steps: steps}}
}

func steps(afters ...time.Duration) []oncall.StepConfig {
	kinds := [][]string{{"wecom"}, {"sms"}, {"voice"}}
	var out []oncall.StepConfig
	for i, a := range afters {
		out = append(out, oncall.StepConfig{After: config.Duration(a), Notify: kinds[i]})
	}
	return out
}

// TestEscalationClaimedByKeyPress: an unclaimed critical alert → a robot
// message mentioning the person on call → an SMS to them → a call → key 1
// → the "claimed by phone" notice, and nothing more.
func TestEscalationClaimedByKeyPress(t *testing.T) {
	o := newOncallEnv(t)
	o.vms.Script(zhangsan, fakevms.AnswerWithKey("1"))
	p := o.plugin(t, steps(0, 300*time.Millisecond, 600*time.Millisecond))
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "critical", 2500, 2000)}))

	first, _ := testkit.AwaitMatch(t, o.robot.Received(), 10*time.Second, "the alert message",
		fakewecom.Titled("CKafka consumer lag alert", "billing"))
	require.Contains(t, first.MentionedMobileList, "13800000011", "the person on call is mentioned")
	// The SMS channel's own numbers hear of the alert too; the step's SMS
	// goes to the person on call.
	testkit.AwaitMatch(t, o.sms.Received(), 10*time.Second, "the step's SMS to 张三",
		func(m fakesms.Message) bool { return m.Phone == zhangsan })
	call := testkit.Await(t, o.vms.Received(), 10*time.Second, "the step's call")
	require.Equal(t, zhangsan, call.Phone)
	require.Len(t, call.Params, 3)

	claimed, _ := testkit.AwaitMatch(t, o.robot.Received(), 10*time.Second, "the claim notice",
		fakewecom.Titled("CKafka alert claimed"))
	require.Contains(t, claimed.Content, "claimed by 张三 by phone")
	a := alertOf(t, p, "billing")
	require.Equal(t, "张三", a.ClaimedBy)
	testkit.Quiet(t, o.vms.Received(), time.Second, "call after the claim")
	toZhang := 0
	for _, m := range o.sms.Messages() {
		if m.Phone == zhangsan {
			toZhang++
		}
	}
	require.Equal(t, 1, toZhang, "one SMS to 张三: the step's")
	alerts := 0
	for _, m := range o.robot.Messages() {
		if m.Title() == "CKafka consumer lag alert" {
			alerts++
			require.Contains(t, m.Content, "Claim: ", "every alert message, the step's too, carries the claim link")
		}
	}
	require.Equal(t, 2, alerts, "the dispatcher's message and the step's")
}

// TestEscalationUnansweredCallsTheNextPersonAtOnce: 张三 does not answer;
// 李四 is called within 2 s of the callback.
func TestEscalationUnansweredCallsTheNextPersonAtOnce(t *testing.T) {
	o := newOncallEnv(t)
	o.vms.Script(zhangsan, fakevms.NoAnswer)
	o.vms.Script(lisi, fakevms.AnswerNoKey)
	p := o.plugin(t, steps(0, 0, 200*time.Millisecond))
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "critical", 2500, 2000)}))
	first := testkit.Await(t, o.vms.Received(), 10*time.Second, "the call to 张三")
	require.Equal(t, zhangsan, first.Phone)
	next := testkit.Await(t, o.vms.Received(), 10*time.Second, "the call to 李四")
	require.Equal(t, lisi, next.Phone)
	require.Less(t, next.At.Sub(first.At), 50*time.Millisecond+2*time.Second, "called at once after the callback")
	testkit.Quiet(t, o.vms.Received(), time.Second, "a third call: 李四 answered")
}

// TestEscalationClaimedThroughTheLinkBeforeTheCall: no call.
func TestEscalationClaimedThroughTheLinkBeforeTheCall(t *testing.T) {
	o := newOncallEnv(t)
	p := o.plugin(t, steps(0, 0, 2*time.Second))
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "critical", 2500, 2000)}))
	testkit.AwaitMatch(t, o.sms.Received(), 10*time.Second, "the step's SMS to 张三",
		func(m fakesms.Message) bool { return m.Phone == zhangsan })
	a := alertOf(t, p, "billing")
	require.NoError(t, p.engine.Claim(a.Key, a.StartedAt.Unix(), "王五", time.Now()))
	testkit.Quiet(t, o.vms.Received(), 3*time.Second, "a call after the claim")
}

// TestEscalationEndsWhenResolved: no step after the resolution.
func TestEscalationEndsWhenResolved(t *testing.T) {
	o := newOncallEnv(t)
	p := o.plugin(t, steps(0, time.Second, 2*time.Second))
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "critical", 2500, 2000)}))
	// Both alert messages, the step's and the dispatcher's: a resolution
	// of an alert the dispatcher's destinations never heard of is not sent.
	seen := 0
	testkit.AwaitMatch(t, o.robot.Received(), 10*time.Second, "the step's and the dispatcher's alert messages",
		func(m fakewecom.Message) bool {
			if fakewecom.Titled("CKafka consumer lag alert", "billing")(m) {
				seen++
			}
			return seen == 2
		})
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "ok", 10, 2000)}))
	testkit.AwaitMatch(t, o.robot.Received(), 10*time.Second, "the resolution", fakewecom.Titled("CKafka consumer lag resolved", "billing"))
	time.Sleep(2500 * time.Millisecond) // past both later steps' times
	for _, m := range o.sms.Messages() {
		require.NotEqual(t, zhangsan, m.Phone, "no SMS step after the resolution")
	}
	require.Empty(t, o.vms.Calls())
}

// TestVoiceCallbacksBadInput: a wrong token is a 404, a malformed body a
// 400, an unknown call changes nothing; the token is never logged.
func TestVoiceCallbacksBadInput(t *testing.T) {
	o := newOncallEnv(t)
	p := o.plugin(t, steps(0, time.Hour, 2*time.Hour))
	post := func(path, body string) int {
		resp, err := http.Post("http://"+o.addr+path, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	good := `{"voicekey_callback":{"callid":"nope","keypress":"1","mobile":"13800000011","nationcode":"86"}}`
	require.Equal(t, http.StatusNotFound, post("/vms/wrong-token-0123456789", good))
	require.Equal(t, http.StatusBadRequest, post("/vms/"+callbackToken, `{"voicekey_callback":{"keypress":"1"}}`))
	require.Equal(t, http.StatusBadRequest, post("/vms/"+callbackToken, `not json`))
	require.Equal(t, http.StatusOK, post("/vms/"+callbackToken, good), "an unknown call is acknowledged and changes nothing")
	require.Empty(t, p.engine.Firing())
	for _, m := range o.log.Messages() {
		require.NotContains(t, m.Text, callbackToken)
		require.NotContains(t, m.Text, vmsSecretKey)
	}
}

func TestOnCallConfigErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(*WeComSMSMail)
		want string
	}{
		"unknown roster": {func(p *WeComSMSMail) { p.Escalations[0].OnCall = "db" }, `no [[outputs.wecom_sms_mail.oncall]] is named "db"`},
		"unknown notify": {func(p *WeComSMSMail) { p.Escalations[0].Steps[0].Notify = []string{"pager"} }, `"pager" is not a configured channel`},
		"out of order": {func(p *WeComSMSMail) { p.Escalations[0].Steps[2].After = config.Duration(time.Millisecond) },
			"steps[2].after (1ms) comes before steps[1].after"},
		"short token": {func(p *WeComSMSMail) { p.Voice.CallbackToken = config.NewSecret([]byte("short")) }, "voice.callback_token must be at least 16 bytes"},
		"voice route without voice": {func(p *WeComSMSMail) {
			p.Voice = nil
			p.Escalations[0].Steps = p.Escalations[0].Steps[:2]
			p.Routes = append(p.Routes, route.Config{Match: map[string]string{"group": "billing"}, VoicePhoneNumbers: []string{lisi}})
		}, "voice_phone_numbers: [outputs.wecom_sms_mail.voice] is absent"},
	} {
		t.Run(name, func(t *testing.T) {
			o := newOncallEnv(t)
			p := New()
			p.Log = o.log
			p.WeCom = &wecom.Config{WebhookURLs: []string{o.urls.robot + "/cgi-bin/webhook/send?key=" + robotKey}}
			p.SMS = &sms.Config{SecretID: smsSecretID, SecretKey: config.NewSecret([]byte(smsSecretKey)), Endpoint: o.urls.sms,
				SdkAppID: "1400000001", TemplateID: "2001", PhoneNumbers: []string{"13800000001"}}
			o.configure(p, steps(0, time.Minute, 2*time.Minute))
			tc.edit(p)
			require.ErrorContains(t, p.Init(), tc.want)
		})
	}
}

// TestVoiceRouteDestination: a route's voice_phone_numbers is a plain
// destination: called on the first firing, not for reminders or the
// resolution.
func TestVoiceRouteDestination(t *testing.T) {
	o := newOncallEnv(t)
	o.vms.Script(lisi, fakevms.AnswerNoKey)
	p := o.env.plugin(t, func(p *WeComSMSMail) {
		o.configure(p, steps(time.Hour))
		p.Escalations = nil
		p.OnCall = nil
		p.RepeatInterval = config.Duration(300 * time.Millisecond)
		p.Routes = []route.Config{{Match: map[string]string{"group": "billing"}, WeComWebhookURLs: p.WeCom.WebhookURLs,
			VoicePhoneNumbers: []string{lisi}}}
	})
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "critical", 2500, 2000)}))
	call := testkit.Await(t, o.vms.Received(), 10*time.Second, "the route's call")
	require.Equal(t, lisi, call.Phone)
	testkit.AwaitMatch(t, o.robot.Received(), 10*time.Second, "a reminder on the robot",
		fakewecom.HasLine("billing", ", for "))
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "ok", 10, 2000)}))
	testkit.AwaitMatch(t, o.robot.Received(), 10*time.Second, "the resolution", fakewecom.Titled("CKafka consumer lag resolved", "billing"))
	require.Len(t, o.vms.Calls(), 1, "no call for the reminder or the resolution")
}
