package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/dingtalk"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/feishu"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
)

const (
	dingToken   = "dingtalk-token-000000000000000000000001"
	dingSecret  = "SECdingtalk-binary-secret-000000001"
	dingToken2  = "dingtalk-token-000000000000000000000002"
	feishuToken = "feishu-token-0000-1111-2222-333344440001"
	feishuKey   = "feishu-binary-secret-0001"
)

// TestDingTalkFeishuWebhook: the three new channels through the binary,
// with -test-notify and with metrics on stdin; a route sends billing's
// alerts to a second DingTalk robot.
func TestDingTalkFeishuWebhook(t *testing.T) {
	ding := dingtalk.New(map[string]string{dingToken: dingSecret, dingToken2: ""})
	fs := feishu.New(map[string]string{feishuToken: feishuKey})
	var mu sync.Mutex
	var hooks []map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		mu.Lock()
		hooks = append(hooks, m)
		mu.Unlock()
	}))
	defer hook.Close()
	dingSrv, fsSrv := httptest.NewServer(ding), httptest.NewServer(fs)
	defer dingSrv.Close()
	defer fsSrv.Close()
	conf, err := testkit.WriteFile(t.TempDir(), "c.conf", `[[outputs.wecom_sms_mail]]
  group_wait = "200ms"
  language = "en"
  [outputs.wecom_sms_mail.dingtalk]
    webhook_urls = ["${TEST_DING}/robot/send?access_token=`+dingToken+`"]
    secret = "${TEST_DING_SECRET}"
  [outputs.wecom_sms_mail.feishu]
    webhook_urls = ["${TEST_FEISHU}/open-apis/bot/v2/hook/`+feishuToken+`"]
    secret = "${TEST_FEISHU_SECRET}"
  [outputs.wecom_sms_mail.webhook]
    urls = ["${TEST_HOOK}/alerts"]
  [[outputs.wecom_sms_mail.route]]
    match = { group = "billing-*" }
    dingtalk_webhook_urls = ["${TEST_DING}/robot/send?access_token=`+dingToken2+`"]
`)
	require.NoError(t, err)
	env := append(os.Environ(), "TEST_DING="+dingSrv.URL, "TEST_DING_SECRET="+dingSecret, "TEST_FEISHU="+fsSrv.URL,
		"TEST_FEISHU_SECRET="+feishuKey, "TEST_HOOK="+hook.URL)

	test := exec.Command(binary, "-config", conf, "-test-notify")
	test.Env = env
	out, err := test.Output()
	require.NoError(t, err, string(out))
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, 4, string(out))
	require.Regexp(t, `^default dingtalk robot 127\.0\.0\.1:\d+ token \*\*\*0001: ok$`, lines[0])
	require.Regexp(t, `^default feishu bot 127\.0\.0\.1:\d+ token \*\*\*0001: ok$`, lines[1])
	require.Regexp(t, `^default webhook http://127\.0\.0\.1:\d+/alerts: ok$`, lines[2])
	require.Regexp(t, `^route 1 dingtalk robot 127\.0\.0\.1:\d+ token \*\*\*0002: ok$`, lines[3])
	for _, secret := range []string{dingToken, dingSecret, feishuToken, feishuKey} {
		require.NotContains(t, string(out), secret)
	}

	for range 2 {
		require.Contains(t, testkit.Await(t, ding.Received(), time.Second, "the test messages").Content, "[TEST]")
	}
	require.Contains(t, testkit.Await(t, fs.Received(), time.Second, "the test card").Title, "[TEST]")

	cmd := exec.Command(binary, "-config", conf)
	cmd.Env = env
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stderr := testkit.NewSyncBuffer()
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	_, err = io.WriteString(stdin, line("search", "critical", 2500)+"\n"+line("billing-pay", "warning", 1500)+"\n")
	require.NoError(t, err)

	byToken := map[string]string{}
	for range 2 {
		m := testkit.Await(t, ding.Received(), 15*time.Second, "dingtalk messages")
		byToken[m.Token] = m.Content
	}
	require.Contains(t, byToken[dingToken], "group search")
	require.NotContains(t, byToken[dingToken], "billing-pay", "routed to the billing robot")
	require.Contains(t, byToken[dingToken2], "group billing-pay")
	card := testkit.Await(t, fs.Received(), 15*time.Second, "the feishu card")
	require.Equal(t, "red", card.Colour)
	require.Contains(t, card.Content, "group search")
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(hooks) >= 2 // the test message, then the alert
	}, 15*time.Second, 20*time.Millisecond)
	mu.Lock()
	require.Equal(t, "4", hooks[1]["version"])
	require.Equal(t, "firing", hooks[1]["status"])
	mu.Unlock()
	require.NoError(t, stdin.Close())
	require.NoError(t, cmd.Wait(), stderr.String())
	for _, secret := range []string{dingToken, dingSecret, feishuToken, feishuKey} {
		require.NotContains(t, stderr.String(), secret)
	}
}

// TestFeishuTooManyRequestsIsRetried: Feishu's rate limit answered as
// 9499 "too many request" inside HTTP 400 (as seen in the field) is retried
// within the pacing, not given up: the alert arrives exactly once.
func TestFeishuTooManyRequestsIsRetried(t *testing.T) {
	fs := feishu.New(map[string]string{feishuToken: feishuKey})
	fs.TooManyRequests(1)
	srv := httptest.NewServer(fs)
	defer srv.Close()
	conf, err := testkit.WriteFile(t.TempDir(), "c.conf", `[[outputs.wecom_sms_mail]]
  group_wait = "200ms"
  language = "en"
  [outputs.wecom_sms_mail.feishu]
    webhook_urls = ["${TEST_FEISHU}/open-apis/bot/v2/hook/`+feishuToken+`"]
    secret = "${TEST_FEISHU_SECRET}"
`)
	require.NoError(t, err)
	cmd := exec.Command(binary, "-config", conf)
	cmd.Env = append(os.Environ(), "TEST_FEISHU="+srv.URL, "TEST_FEISHU_SECRET="+feishuKey)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stderr := testkit.NewSyncBuffer()
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	_, err = io.WriteString(stdin, line("search", "critical", 2500)+"\n")
	require.NoError(t, err)

	card := testkit.Await(t, fs.Received(), 45*time.Second, "the card after the throttled attempt")
	require.Contains(t, card.Content, "group search")
	require.Equal(t, 2, fs.Requests(), "one throttled attempt, one delivery")
	require.Contains(t, stderr.String(), "throttled (code 9499): too many request")
	require.NotContains(t, stderr.String(), "giving up")
	require.NoError(t, stdin.Close())
	require.NoError(t, cmd.Wait(), stderr.String())
	require.Len(t, fs.Messages(), 1, "exactly once")
}
