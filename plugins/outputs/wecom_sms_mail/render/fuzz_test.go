package render

import (
	"strings"
	"testing"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
)

// FuzzHostileTags renders every template with any group and instance
// name: a name never adds a line to a chat message or breaks the HTML.
func FuzzHostileTags(f *testing.F) {
	f.Add("pay</font>\n### 已恢复 @all", "prod\r\n<@all>")
	f.Add("{{.Title}}", "]]>")
	f.Add("a\u2028b", "\x00\xff")
	tpls := map[string]*Templates{}
	for _, lang := range []string{"zh", "en"} {
		t, err := Load(lang)
		if err != nil {
			f.Fatal(err)
		}
		tpls[lang] = t
	}
	f.Fuzz(func(t *testing.T, group, instance string) {
		var b strings.Builder
		b.WriteString("ckafka_lag,group=")
		alert.WriteEscaped(&b, group)
		b.WriteString(",instance_name=")
		alert.WriteEscaped(&b, instance)
		now := time.Unix(1_700_000_000, 0)
		for lang, tp := range tpls {
			d := BuildData([]alert.Notification{{Kind: alert.KindFiring, At: now, Alert: alert.Alert{
				Key: b.String(), Level: alert.LevelCritical, Value: 1, HasValue: true, StartedAt: now}}}, lang, time.Minute)
			for name, esc := range map[string]func(string) string{"wecom_markdown": EscapeMarkdown, "wecom_text": EscapeText, "dingtalk_markdown": EscapeMarkdown} {
				out, err := tp.Render(name, d.Escaped(esc))
				if err != nil {
					t.Fatal(err)
				}
				want := strings.Count(mustRender(t, tp, name, BuildData(nil, lang, 0)), "\n") + 1
				if got := strings.Count(out, "\n"); got != want {
					t.Fatalf("%s %s: %d lines, want %d: %q", lang, name, got, want, out)
				}
			}
			if _, err := tp.RenderHTML(d.Escaped(EscapeText)); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func mustRender(t *testing.T, tp *Templates, name string, d *TemplateData) string {
	t.Helper()
	out, err := tp.Render(name, d)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
