package render

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
)

func testNotes(t0 time.Time) []alert.Notification {
	mk := func(kind alert.Kind, level alert.Level, group string, value float64) alert.Notification {
		return alert.Notification{Kind: kind, At: t0.Add(5 * time.Minute), Alert: alert.Alert{
			Key:   "ckafka_lag,group=" + group + ",instance_id=ckafka-1,instance_name=prod,region=ap-guangzhou,topic=orders",
			Level: level, Value: value, HasValue: true, Threshold: 2000, HasThreshold: true, StartedAt: t0,
		}}
	}
	return []alert.Notification{
		mk(alert.KindFiring, alert.LevelWarning, "w-small", 1200),
		mk(alert.KindResolved, alert.LevelOK, "recovered", 10),
		mk(alert.KindFiring, alert.LevelCritical, "c-small", 2100),
		mk(alert.KindEscalated, alert.LevelCritical, "c-big", 9000),
		mk(alert.KindFiring, alert.LevelWarning, "w-big", 1900),
	}
}

func TestBuildDataSortsBySeverityThenValue(t *testing.T) {
	d := BuildData(testNotes(time.Unix(0, 0)), "zh", 10*time.Minute)
	var order []string
	for _, a := range d.Alerts {
		order = append(order, a.Group)
	}
	require.Equal(t, []string{"c-big", "c-small", "w-big", "w-small", "recovered"}, order)
	require.Equal(t, Counts{Critical: 2, Warning: 2, Resolved: 1, Firing: 4, Total: 5}, d.Counts)
	require.Equal(t, "prod(ckafka-1)", d.First.Instance)
}

func TestDefaultTemplates(t *testing.T) {
	for _, lang := range []string{"zh", "en"} {
		tpl, err := Load(lang)
		require.NoError(t, err)
		d := BuildData(testNotes(time.Unix(0, 0)), lang, 10*time.Minute)
		for _, name := range []string{"wecom_markdown", "wecom_text", "email_subject", "email_text"} {
			out, err := tpl.Render(name, d)
			require.NoError(t, err, name)
			require.NotEmpty(t, strings.TrimSpace(out))
		}
		md, _ := tpl.Render("wecom_markdown", d)
		// The old message's content: instance, group, topic, lag, threshold.
		for _, want := range []string{"prod(ckafka-1)", "c-big", "orders", "9000", "2000"} {
			require.Contains(t, md, want, lang)
		}
		html, err := tpl.RenderHTML(d)
		require.NoError(t, err)
		require.Contains(t, html, "<td>9000</td>")
	}
	zh, _ := Load("zh")
	md, _ := zh.Render("wecom_markdown", BuildData(testNotes(time.Unix(0, 0))[1:2], "zh", 0))
	require.Contains(t, md, "恢复")
	en, _ := Load("en")
	text, _ := en.Render("wecom_text", SampleData("en", time.Now()))
	require.Contains(t, text, "TEST")
	text, _ = zh.Render("wecom_text", SampleData("zh", time.Now()))
	require.Contains(t, text, "测试")
}

func TestUserTemplateErrors(t *testing.T) {
	_, err := ParseUserTemplate("wecom.template", "{{.Alerts", "zh")
	require.ErrorContains(t, err, "wecom.template")
	_, err = ParseUserTemplate("wecom.template", "{{.NoSuchField}}", "zh")
	require.ErrorContains(t, err, "NoSuchField")
	_, err = ParseUserTemplate("wecom.template", "{{range .Alerts}}{{.Group}} {{.ValueText}}{{end}}", "zh")
	require.NoError(t, err)
}

// TestLinksAndClaimsInEveryFormat: the action links reach every robot
// format and the email; a claim is told in each language.
func TestLinksAndClaimsInEveryFormat(t *testing.T) {
	for _, lang := range []string{"zh", "en"} {
		tpl, err := Load(lang)
		require.NoError(t, err)
		d := BuildData(testNotes(time.Unix(0, 0))[:1], lang, 10*time.Minute)
		d.Alerts[0].Links = []Link{{Label: "Claim", URL: "https://alerts.example.com/a/tok.sig"}}
		for _, name := range []string{"wecom_markdown", "dingtalk_markdown", "feishu_markdown"} {
			out, err := tpl.Render(name, d)
			require.NoError(t, err, name)
			require.Contains(t, out, "[Claim](https://alerts.example.com/a/tok.sig)", name)
		}
		text, err := tpl.Render("wecom_text", d)
		require.NoError(t, err)
		require.Contains(t, text, "Claim: https://alerts.example.com/a/tok.sig")
		html, err := tpl.RenderHTML(d)
		require.NoError(t, err)
		require.Contains(t, html, `<a href="https://alerts.example.com/a/tok.sig">Claim</a>`)

		claimed := testNotes(time.Unix(0, 0))[:1]
		claimed[0].Kind, claimed[0].Alert.ClaimedBy = alert.KindClaimed, "张三"
		c := BuildData(claimed, lang, 10*time.Minute)
		md, err := tpl.Render("wecom_markdown", c)
		require.NoError(t, err)
		want := map[string]string{"zh": "张三 已认领", "en": "claimed by 张三"}[lang]
		require.Contains(t, md, want)
		require.Contains(t, md, map[string]string{"zh": "CKafka 告警已认领", "en": "CKafka alert claimed"}[lang])
	}
}
