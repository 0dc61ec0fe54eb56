package dingtalk

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"

	fake "github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/dingtalk"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render/rendertest"
)

const (
	token  = "dt-token-0000000000000000000000000000abcd"
	secret = "SECdingtalk-secret-never-logged-0000001"
)

func robotFor(t *testing.T, robot *fake.Robot, modify func(*Config)) notify.Channel {
	t.Helper()
	srv := httptest.NewServer(robot)
	t.Cleanup(srv.Close)
	cfg := &Config{WebhookURLs: []string{srv.URL + "/robot/send?access_token=" + token}, Secret: config.NewSecret([]byte(secret))}
	if modify != nil {
		modify(cfg)
	}
	tpls, err := render.Load("zh")
	require.NoError(t, err)
	chs, err := New(cfg, tpls, "zh", http.DefaultClient)
	require.NoError(t, err)
	return chs[0]
}

func send(t *testing.T, ch notify.Channel, d *render.TemplateData) error {
	t.Helper()
	ds, err := ch.Prepare(d)
	require.NoError(t, err)
	for i := range ds {
		if err := ch.Deliver(context.Background(), &ds[i]); err != nil {
			return err
		}
	}
	return nil
}

func TestSignedMarkdownWithMentions(t *testing.T) {
	robot := fake.New(map[string]string{token: secret})
	ch := robotFor(t, robot, func(c *Config) { c.AtMobiles = []string{"13800000001"} })
	require.NoError(t, send(t, ch, render.SampleData("zh", time.Now())))
	m := robot.Messages()[0]
	require.Equal(t, "markdown", m.Type)
	require.Contains(t, m.Title, "测试")
	require.Contains(t, m.Content, "**[严重]**")
	require.True(t, strings.HasSuffix(m.Content, " @13800000001"), "a mention shows only when the text names the number")
	at := m.Body["at"].(map[string]any)
	require.Equal(t, []any{"13800000001"}, at["atMobiles"])
	require.NotContains(t, ch.ID(), token)
}

func TestErrors(t *testing.T) {
	t.Run("wrong secret: permanent, names the checks, no secret", func(t *testing.T) {
		robot := fake.New(map[string]string{token: "SECanother"})
		err := send(t, robotFor(t, robot, nil), render.SampleData("en", time.Now()))
		require.ErrorContains(t, err, "security check failed (errcode 310000): sign not match")
		require.NotContains(t, err.Error(), secret)
		retry, _ := notify.Classify(err, time.Second)
		require.False(t, retry)
	})
	t.Run("keyword missing", func(t *testing.T) {
		robot := fake.New(map[string]string{token: secret})
		robot.Keywords = []string{"kafka-ops"}
		err := send(t, robotFor(t, robot, nil), render.SampleData("en", time.Now()))
		require.ErrorContains(t, err, "keywords not in content")
		require.ErrorContains(t, err, "keywords (they must appear")
	})
	t.Run("sending too fast waits out the block", func(t *testing.T) {
		robot := fake.New(map[string]string{token: secret})
		robot.FailWith(130101)
		err := send(t, robotFor(t, robot, nil), render.SampleData("en", time.Now()))
		retry, wait := notify.Classify(err, time.Second)
		require.True(t, retry)
		require.Equal(t, 10*time.Minute, wait)
	})
	t.Run("unknown token", func(t *testing.T) {
		robot := fake.New(map[string]string{"other": ""})
		err := send(t, robotFor(t, robot, nil), render.SampleData("en", time.Now()))
		require.ErrorContains(t, err, "invalid access_token (errcode 300001)")
		require.NotContains(t, err.Error(), token)
	})
}

func TestLongMessagesSplit(t *testing.T) {
	robot := fake.New(map[string]string{token: secret})
	ch := robotFor(t, robot, nil)
	d := render.SampleData("en", time.Now())
	for len(d.Alerts) < 400 {
		d.Alerts = append(d.Alerts, d.Alerts[0])
	}
	require.NoError(t, send(t, ch, d))
	require.Greater(t, len(robot.Messages()), 1)
	for _, m := range robot.Messages() {
		require.LessOrEqual(t, len(m.Content), 20000)
	}
}

func TestHostileNames(t *testing.T) {
	robot := fake.New(map[string]string{token: secret})
	require.NoError(t, send(t, robotFor(t, robot, nil), rendertest.Hostile("zh")))
	content := robot.Messages()[0].Content
	require.Contains(t, content, `pay&lt;/font&gt;\\n\#\#\# 已恢复`)
	require.NotContains(t, content, "\n### 已恢复")
}

func TestConfigErrors(t *testing.T) {
	tpls, err := render.Load("en")
	require.NoError(t, err)
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "dingtalk.webhook_urls"},
		{Config{WebhookURLs: []string{"ftp://x/?access_token=secret-token-1"}}, "dingtalk.webhook_urls[0]"},
		{Config{WebhookURLs: []string{"t"}, MsgType: "card"}, "dingtalk.msgtype"},
		{Config{WebhookURLs: []string{"t"}, Template: "{{.Nope}}"}, "dingtalk.template"},
	} {
		_, err := New(&tt.cfg, tpls, "en", http.DefaultClient)
		require.ErrorContains(t, err, tt.want)
		require.NotContains(t, err.Error(), "secret-token-1")
	}
}
