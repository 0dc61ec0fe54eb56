package feishu

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"

	fake "github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/feishu"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render/rendertest"
)

const (
	token  = "fs-token-0000-1111-2222-33334444abcd"
	secret = "feishu-secret-never-logged-0001"
)

func botFor(t *testing.T, bot *fake.Bot, modify func(*Config)) notify.Channel {
	t.Helper()
	srv := httptest.NewServer(bot)
	t.Cleanup(srv.Close)
	cfg := &Config{WebhookURLs: []string{srv.URL + "/open-apis/bot/v2/hook/" + token}, Secret: config.NewSecret([]byte(secret))}
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

func data(kind alert.Kind, level alert.Level) *render.TemplateData {
	now := time.Now()
	return render.BuildData([]alert.Notification{{Kind: kind, At: now, Alert: alert.Alert{
		Key: "ckafka_lag,group=billing,instance_id=ckafka-1,topic=orders", Level: level, NotifiedLevel: alert.LevelWarning,
		Value: 1500, HasValue: true, StartedAt: now,
	}}}, "zh", time.Minute)
}

func TestCardColourByLevel(t *testing.T) {
	bot := fake.New(map[string]string{token: secret})
	ch := botFor(t, bot, nil)
	require.NoError(t, send(t, ch, data(alert.KindFiring, alert.LevelCritical)))
	require.NoError(t, send(t, ch, data(alert.KindFiring, alert.LevelWarning)))
	require.NoError(t, send(t, ch, data(alert.KindResolved, alert.LevelOK)))
	ms := bot.Messages()
	require.Len(t, ms, 3)
	require.Equal(t, []string{"red", "orange", "green"}, []string{ms[0].Colour, ms[1].Colour, ms[2].Colour})
	require.Equal(t, "interactive", ms[0].Type)
	require.Equal(t, "CKafka 消费积压告警", ms[0].Title)
	require.Contains(t, ms[0].Content, "**[严重]**")
	require.Contains(t, ms[2].Content, "已恢复")
}

func TestText(t *testing.T) {
	bot := fake.New(map[string]string{token: ""})
	ch := botFor(t, bot, func(c *Config) { c.MsgType = "text"; c.Secret = config.Secret{} })
	require.NoError(t, send(t, ch, render.SampleData("en", time.Now())))
	require.Equal(t, "text", bot.Messages()[0].Type)
}

func TestErrors(t *testing.T) {
	t.Run("wrong secret", func(t *testing.T) {
		bot := fake.New(map[string]string{token: "another"})
		err := send(t, botFor(t, bot, nil), render.SampleData("en", time.Now()))
		require.ErrorContains(t, err, "signature rejected (code 19021)")
		require.NotContains(t, err.Error(), secret)
		retry, _ := notify.Classify(err, time.Second)
		require.False(t, retry)
	})
	t.Run("keywords", func(t *testing.T) {
		bot := fake.New(map[string]string{token: secret})
		bot.Keywords = []string{"kafka-ops"}
		err := send(t, botFor(t, bot, nil), render.SampleData("en", time.Now()))
		require.ErrorContains(t, err, "keywords not found (code 19024)")
	})
	t.Run("throttled is retried", func(t *testing.T) {
		bot := fake.New(map[string]string{token: secret})
		bot.FailWith(11232)
		err := send(t, botFor(t, bot, nil), render.SampleData("en", time.Now()))
		retry, _ := notify.Classify(err, time.Second)
		require.True(t, retry, err)
	})
}

func TestPacedAtFiveASecond(t *testing.T) {
	bot := fake.New(map[string]string{token: secret})
	ch := botFor(t, bot, nil)
	start := time.Now()
	for range 7 {
		require.NoError(t, send(t, ch, render.SampleData("en", time.Now())), "the fake would answer 11232 over 5/s")
	}
	require.GreaterOrEqual(t, time.Since(start), 900*time.Millisecond)
}

func TestHostileNames(t *testing.T) {
	bot := fake.New(map[string]string{token: secret})
	require.NoError(t, send(t, botFor(t, bot, nil), rendertest.Hostile("zh")))
	require.Contains(t, bot.Messages()[0].Content, `pay&lt;/font&gt;\\n\#\#\# 已恢复`)
}

// Feishu answers are judged by their JSON code, whatever the HTTP status.
func TestAnswersByCodeNotStatus(t *testing.T) {
	bot := fake.New(map[string]string{token: secret})
	ch := botFor(t, bot, nil)

	bot.TooManyRequests(1)
	err := send(t, ch, data(alert.KindFiring, alert.LevelCritical))
	require.ErrorContains(t, err, "throttled (code 9499): too many request")
	retry, _ := notify.Classify(err, time.Second)
	require.True(t, retry, "a rate limit inside HTTP 400 is retried")
	require.NoError(t, send(t, ch, data(alert.KindFiring, alert.LevelCritical)))

	bot.FailWith(9499)
	err = send(t, ch, data(alert.KindFiring, alert.LevelCritical))
	require.ErrorContains(t, err, "bad request (code 9499)")
	retry, _ = notify.Classify(err, time.Second)
	require.False(t, retry, "any other bad request is permanent")
}

func TestOversizeBodyIsPermanentAndNamed(t *testing.T) {
	bot := fake.New(map[string]string{token: secret})
	ch := botFor(t, bot, nil)
	d := notify.Delivery{Subject: "t", Text: strings.Repeat("x", 25<<10)}
	err := ch.Deliver(context.Background(), &d)
	require.ErrorContains(t, err, "over Feishu's 20 KB limit")
	retry, _ := notify.Classify(err, time.Second)
	require.False(t, retry)
}
