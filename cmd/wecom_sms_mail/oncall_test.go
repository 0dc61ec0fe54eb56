package main

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/vms"
)

const (
	vmsSecretID  = "AKIDvmsbinary0000000000000000000"
	vmsSecretKey = "vms-binary-secret-key"
)

// onCallConfig is writeConfig with a state file, a voice account on the
// VMS fake (key given), a roster whose first shift began handoff and an
// escalation.
func onCallConfig(t *testing.T, vmsURL, key string, handoff time.Time) string {
	t.Helper()
	conf := writeConfig(t, `state_file = "`+filepath.Join(t.TempDir(), "state")+`"`)
	raw, err := os.ReadFile(conf)
	require.NoError(t, err)
	raw = append(raw, []byte(`
  [outputs.wecom_sms_mail.voice]
    secret_id = "`+vmsSecretID+`"
    secret_key = "`+key+`"
    endpoint = "`+vmsURL+`"
    voice_sdk_app_id = "1400006666"
    template_id = "4356"

  [[outputs.wecom_sms_mail.oncall]]
    name = "kafka"
    rotation = "168h"
    handoff = "`+handoff.Format(time.RFC3339)+`"
    timezone = "Asia/Shanghai"
    people = [
      { name = "张三", phone = "+8613800000011" },
      { name = "李四", phone = "+8613800000012" },
    ]

  [[outputs.wecom_sms_mail.escalation]]
    min_level = "critical"
    oncall = "kafka"
    steps = [
      { after = "0s", notify = ["wecom"] },
      { after = "5m", notify = ["sms", "voice"] },
      { after = "15m", notify = ["voice"], who = "next" },
    ]
`)...)
	require.NoError(t, os.WriteFile(conf, raw, 0o600))
	return conf
}

func fakeVMS(t *testing.T) (*vms.Fake, string) {
	t.Helper()
	f := vms.New(map[string]string{vmsSecretID: vmsSecretKey}, map[string]int{"4356": 3})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func runBinary(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return out.String(), errOut.String(), code
}

func TestOnCallCommand(t *testing.T) {
	s := startSinks(t)
	_, url := fakeVMS(t)
	handoff := time.Now().Add(-time.Hour).Truncate(time.Second)
	conf := onCallConfig(t, url, vmsSecretKey, handoff)
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)

	out, errOut, code := runBinary(t, s.env, "-config", conf, "-oncall")
	require.Zero(t, code, errOut)
	require.Equal(t, "kafka\n  on call: 张三 (+86138****0011)\n  until:   "+handoff.Add(168*time.Hour).In(shanghai).Format("2006-01-02 15:04:05 -07:00")+
		"\n  next:    李四\n", out)

	until := time.Now().Add(2 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
	out, errOut, code = runBinary(t, s.env, "-config", conf, "-oncall", "override", "add", "-roster", "kafka", "-who", "李四", "-until", until)
	require.Zero(t, code, errOut)
	require.Regexp(t, `^[0-9a-f]{16}\n$`, out, "the override's ID alone")
	id := strings.TrimSpace(out)

	out, _, code = runBinary(t, s.env, "-config", conf, "-oncall")
	require.Zero(t, code)
	require.Contains(t, out, "on call: 李四 (+86138****0012)")
	require.Contains(t, out, "by override "+id)
	out, _, _ = runBinary(t, s.env, "-config", conf, "-oncall", "override", "list")
	require.Regexp(t, id+`\s+kafka\s+李四\s+.*active`, out)

	_, errOut, code = runBinary(t, s.env, "-config", conf, "-oncall", "override", "expire", id)
	require.Zero(t, code, errOut)
	out, _, _ = runBinary(t, s.env, "-config", conf, "-oncall")
	require.Contains(t, out, "on call: 张三")

	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"override", "add", "-roster", "db", "-who", "李四", "-until", until}, `-roster: no [[outputs.wecom_sms_mail.oncall]] is named "db"`},
		{[]string{"override", "add", "-roster", "kafka", "-who", "王五", "-until", until}, `-who: "王五" is not on roster "kafka"`},
		{[]string{"override", "add", "-roster", "kafka", "-who", "李四", "-until", "tomorrow"}, `-until: "tomorrow" is not an RFC 3339 time`},
		{[]string{"override", "expire", "nope"}, `no override with ID "nope"`},
	} {
		_, errOut, code = runBinary(t, s.env, append([]string{"-config", conf, "-oncall"}, bad.args...)...)
		require.NotZero(t, code, bad.args)
		require.Contains(t, errOut, bad.want)
	}
}

func TestTestNotifyChecksVoiceWithoutCalling(t *testing.T) {
	s := startSinks(t)
	phone, url := fakeVMS(t)
	handoff := time.Now().Add(-time.Hour)

	out, _, code := runBinary(t, s.env, "-config", onCallConfig(t, url, "wrong-key", handoff), "-test-notify")
	require.Equal(t, 1, code)
	require.Contains(t, out, "voice (escalation calls): [AuthFailure.SignatureFailure]")
	require.NotContains(t, out, "wrong-key")

	// Fresh sinks for each run: the SMS fake refuses the same text to a
	// number within 30 s, as the API does.
	out, _, code = runBinary(t, startSinks(t).env, "-config", onCallConfig(t, url, vmsSecretKey, handoff), "-test-notify")
	require.Zero(t, code, out)
	require.Contains(t, out, "voice (escalation calls): ok (credentials checked, no call placed; -call places one)\n")
	require.Contains(t, out, "oncall kafka: 张三 on call until ")
	require.Empty(t, phone.Calls(), "no call without -call")

	out, _, code = runBinary(t, startSinks(t).env, "-config", onCallConfig(t, url, vmsSecretKey, handoff), "-test-notify", "-call")
	require.Zero(t, code, out)
	require.Regexp(t, `voice \(escalation calls\): ok \(called \+86138\*\*\*\*0011: call \S+\)`, out)
	require.Len(t, phone.Calls(), 1, "-call places exactly one call")
}

func TestPreviewShowsThePlannedSteps(t *testing.T) {
	s := startSinks(t)
	_, url := fakeVMS(t)
	conf := onCallConfig(t, url, vmsSecretKey, time.Now().Add(-time.Hour))
	metrics := filepath.Join(t.TempDir(), "m.lp")
	require.NoError(t, os.WriteFile(metrics, []byte(line("billing", "critical", 2500)+"\n"), 0o600))
	out, errOut, code := runBinary(t, s.env, "-config", conf, "-preview", metrics)
	require.Zero(t, code, errOut)
	require.Contains(t, out, "==== escalation of ckafka_lag,")
	require.Regexp(t, `step 1 at \d\d:\d\d:\d\d \(\+0s\): wecom to 张三\n`, out)
	require.Regexp(t, `step 2 at \d\d:\d\d:\d\d \(\+5m0s\): sms, voice to 张三\n`, out)
	require.Regexp(t, `step 3 at \d\d:\d\d:\d\d \(\+15m0s\): voice to 李四\n`, out)
	require.Empty(t, s.robot.Messages(), "the preview sends nothing")
}

// TestOnCallConfigTyposNameTheKey: a typo inside a roster's people or an
// escalation's steps stops the binary naming the key.
func TestOnCallConfigTyposNameTheKey(t *testing.T) {
	s := startSinks(t)
	conf := writeConfig(t, "")
	raw, err := os.ReadFile(conf)
	require.NoError(t, err)
	raw = append(raw, []byte(`
  [[outputs.wecom_sms_mail.oncall]]
    name = "kafka"
    rotation = "168h"
    handoff = "2026-12-07T09:00:00+08:00"
    people = [ { name = "a", phnoe = "+8613800000001" } ]

  [[outputs.wecom_sms_mail.escalation]]
    oncall = "kafka"
    steps = [ { after = "0s", notify = ["wecom"], whom = "all" } ]
`)...)
	require.NoError(t, os.WriteFile(conf, raw, 0o600))
	_, errOut, code := runBinary(t, s.env, "-config", conf, "-test-notify")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, `"outputs.wecom_sms_mail.oncall.people.phnoe"`)
	require.Contains(t, errOut, `"outputs.wecom_sms_mail.escalation.steps.whom"`)
}
