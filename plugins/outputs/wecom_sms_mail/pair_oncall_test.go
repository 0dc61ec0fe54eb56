package wecom_sms_mail

import (
	"net/http/httptest"
	"path/filepath"
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
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/oncall"
)

// pairOnCall is a pair whose members escalate through one SMS and one
// VMS fake; each member has its own page server.
type pairOnCall struct {
	*pairEnv
	sms     *fakesms.Fake
	vms     *fakevms.Fake
	urls    struct{ sms, vms string }
	addrs   map[string]string
	handoff string // 张三's shift started an hour ago
}

func newPairOnCall(t *testing.T) *pairOnCall {
	t.Helper()
	e := &pairOnCall{pairEnv: newPairEnv(t), addrs: map[string]string{}, handoff: time.Now().Add(-time.Hour).Format(time.RFC3339)}
	e.sms = fakesms.New(map[string]string{smsSecretID: smsSecretKey}, map[string]int{"2001": 5})
	e.vms = fakevms.New(map[string]string{vmsSecretID: vmsSecretKey}, map[string]int{"4356": 3})
	smsSrv, vmsSrv := httptest.NewServer(e.sms), httptest.NewServer(e.vms)
	t.Cleanup(smsSrv.Close)
	t.Cleanup(vmsSrv.Close)
	e.urls.sms, e.urls.vms = smsSrv.URL, vmsSrv.URL
	return e
}

func (e *pairOnCall) member(t *testing.T, name string, steps []oncall.StepConfig) *WeComSMSMail {
	t.Helper()
	e.addrs[name] = freeAddr(t)
	p, _ := e.pairEnv.member(t, name, func(p *WeComSMSMail) {
		p.Language = "en"
		p.SilenceFile = filepath.Join(filepath.Dir(p.StateFile), "silences")
		p.SMS = &sms.Config{SecretID: smsSecretID, SecretKey: config.NewSecret([]byte(smsSecretKey)), Endpoint: e.urls.sms,
			SdkAppID: "1400000001", TemplateID: "2001", PhoneNumbers: []string{"13800000001"}}
		p.Web = &WebConfig{Listen: e.addrs[name], ExternalURL: "http://" + e.addrs[name],
			LinkSecret: config.NewSecret([]byte("link-secret-0123456789"))}
		p.Voice = &voice.Config{SecretID: vmsSecretID, SecretKey: config.NewSecret([]byte(vmsSecretKey)), Endpoint: e.urls.vms,
			VoiceSdkAppID: "1400006666", TemplateID: "4356", CallbackToken: config.NewSecret([]byte(callbackToken))}
		p.OnCall = []oncall.RosterConfig{{Name: "kafka", Rotation: config.Duration(168 * time.Hour),
			Handoff: e.handoff, People: []oncall.PersonConfig{{Name: "张三", Phone: zhangsan}, {Name: "李四", Phone: lisi}}}}
		p.Escalations = []oncall.EscalationConfig{{OnCall: "kafka", MinLevel: "critical", Steps: steps}}
	})
	return p
}

func smsTo(msgs []fakesms.Message, phone string) int {
	n := 0
	for _, m := range msgs {
		if m.Phone == phone {
			n++
		}
	}
	return n
}

// TestPairStandbyTakesOverBetweenSteps: the active places the SMS step and
// leaves; the standby takes over and places the call step on time, once,
// and the SMS step is not repeated.
func TestPairStandbyTakesOverBetweenSteps(t *testing.T) {
	e := newPairOnCall(t)
	e.vms.Script(zhangsan, fakevms.AnswerNoKey)
	e.vms.Script(lisi, fakevms.AnswerNoKey)
	steps := []oncall.StepConfig{{Notify: []string{"sms"}}, {After: config.Duration(3 * time.Second), Notify: []string{"voice"}}}
	a := e.member(t, "host-a", steps)
	b := e.member(t, "host-b", steps)
	active, standby := activeAndStandby(t, a, b)
	e.vms.SetCallbackURL("http://" + e.addrs[map[*WeComSMSMail]string{a: "host-a", b: "host-b"}[standby]] + "/vms/" + callbackToken)
	writeBoth(t, []telegraf.Metric{lagMetric("billing", "critical", 2500, 2000)}, a, b)
	testkit.AwaitMatch(t, e.sms.Received(), 10*time.Second, "the SMS step to 张三", func(m fakesms.Message) bool { return m.Phone == zhangsan })
	// The state saying step 1 was placed is replicated before the step.
	require.NoError(t, active.Close())
	require.Eventually(t, standby.engine.Acting, 10*time.Second, 10*time.Millisecond, "the standby takes over")
	firing := standby.engine.Firing()
	require.Len(t, firing, 1)
	call := testkit.Await(t, e.vms.Received(), 10*time.Second, "the call step")
	require.Equal(t, zhangsan, call.Phone)
	due := firing[0].StartedAt.Add(3 * time.Second)
	require.False(t, call.At.Before(due), "not before its time: %s < %s", call.At, due)
	require.Less(t, call.At.Sub(due), 2*time.Second+time.Second, "on time (2 s, and the standby's first tick)")
	// 张三 answered without the key: nothing more (no next person, no
	// repeated step).
	testkit.Quiet(t, e.vms.Received(), 2*time.Second, "a second call")
	require.Equal(t, 1, smsTo(e.sms.Messages(), zhangsan), "the SMS step is not repeated")
}

// TestPairCallbackOnStandbyAndOverrides: the key press's callback reaches
// the standby's page server and still claims the alert on the active; a
// roster override added on the standby reaches the active.
func TestPairCallbackOnStandbyAndOverrides(t *testing.T) {
	e := newPairOnCall(t)
	e.vms.Script(zhangsan, fakevms.AnswerWithKey("1"))
	// The call a second after the first firing: the claim notice goes to
	// the destinations that heard of the alert, so the robot hears first.
	steps := []oncall.StepConfig{{After: config.Duration(time.Second), Notify: []string{"voice"}}}
	a := e.member(t, "host-a", steps)
	b := e.member(t, "host-b", steps)
	active, standby := activeAndStandby(t, a, b)
	e.vms.SetCallbackURL("http://" + e.addrs[map[*WeComSMSMail]string{a: "host-a", b: "host-b"}[standby]] + "/vms/" + callbackToken)

	path, err := standby.OverridePath()
	require.NoError(t, err)
	id, err := oncall.AddOverride(path, oncall.Override{Roster: "kafka", Who: "李四", Until: time.Now().Add(time.Hour)}, time.Now())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		for _, o := range active.parts.overrides.List() {
			if o.ID == id {
				return true
			}
		}
		return false
	}, 5*time.Second, 20*time.Millisecond, "the override reaches the active member")
	require.NoError(t, oncall.ExpireOverride(path, id, time.Now()))
	require.Eventually(t, func() bool {
		for _, o := range active.parts.overrides.List() {
			if o.ID == id && !o.Active(time.Now()) {
				return true
			}
		}
		return false
	}, 5*time.Second, 20*time.Millisecond, "its expiry too")

	writeBoth(t, []telegraf.Metric{lagMetric("billing", "critical", 2500, 2000)}, a, b)
	call := testkit.Await(t, e.vms.Received(), 10*time.Second, "the call")
	require.Equal(t, zhangsan, call.Phone)
	claimed, _ := testkit.AwaitMatch(t, e.robot.Received(), 10*time.Second, "the claim notice",
		fakewecom.Titled("CKafka alert claimed"))
	require.Contains(t, claimed.Content, "claimed by 张三 by phone")
}
