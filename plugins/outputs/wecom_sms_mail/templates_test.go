package wecom_sms_mail

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func testNotes(t0 time.Time) []Notification {
	mk := func(kind Kind, level Level, group string, value float64) Notification {
		return Notification{Kind: kind, At: t0.Add(5 * time.Minute), Alert: Alert{
			Key:   "ckafka_lag,group=" + group + ",instance_id=ckafka-1,instance_name=prod,region=ap-guangzhou,topic=orders",
			Level: level, Value: value, HasValue: true, Threshold: 2000, HasThreshold: true, StartedAt: t0,
		}}
	}
	return []Notification{
		mk(KindFiring, LevelWarning, "w-small", 1200),
		mk(KindResolved, LevelOK, "recovered", 10),
		mk(KindFiring, LevelCritical, "c-small", 2100),
		mk(KindEscalated, LevelCritical, "c-big", 9000),
		mk(KindFiring, LevelWarning, "w-big", 1900),
	}
}

func TestBuildDataSortsBySeverityThenValue(t *testing.T) {
	d := buildData(testNotes(time.Unix(0, 0)), "zh", 10*time.Minute)
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
		tpl, err := loadTemplates(lang)
		require.NoError(t, err)
		d := buildData(testNotes(time.Unix(0, 0)), lang, 10*time.Minute)
		for _, name := range []string{"wecom_markdown", "wecom_text", "email_subject", "email_text"} {
			out, err := tpl.render(name, d)
			require.NoError(t, err, name)
			require.NotEmpty(t, strings.TrimSpace(out))
		}
		md, _ := tpl.render("wecom_markdown", d)
		// The old message's content: instance, group, topic, lag, threshold.
		for _, want := range []string{"prod(ckafka-1)", "c-big", "orders", "9000", "2000"} {
			require.Contains(t, md, want, lang)
		}
		html, err := tpl.renderHTML(d)
		require.NoError(t, err)
		require.Contains(t, html, "<td>9000</td>")
	}
	zh, _ := loadTemplates("zh")
	md, _ := zh.render("wecom_markdown", buildData(testNotes(time.Unix(0, 0))[1:2], "zh", 0))
	require.Contains(t, md, "恢复")
	en, _ := loadTemplates("en")
	text, _ := en.render("wecom_text", sampleData("en", time.Now()))
	require.Contains(t, text, "TEST")
	text, _ = zh.render("wecom_text", sampleData("zh", time.Now()))
	require.Contains(t, text, "测试")
}

func TestUserTemplateErrors(t *testing.T) {
	_, err := parseUserTemplate("wecom.template", "{{.Alerts", "zh")
	require.ErrorContains(t, err, "wecom.template")
	_, err = parseUserTemplate("wecom.template", "{{.NoSuchField}}", "zh")
	require.ErrorContains(t, err, "NoSuchField")
	_, err = parseUserTemplate("wecom.template", "{{range .Alerts}}{{.Group}} {{.ValueText}}{{end}}", "zh")
	require.NoError(t, err)
}
