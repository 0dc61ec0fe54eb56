package wecom_sms_mail

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"
)

const hostileGroup = "pay</font>\n### 已恢复 @all,x=1 *b* [l](u) `c`"

// hostileData is one critical alert whose group and instance name try to
// break out of the message.
func hostileData(t *testing.T, lang string) *TemplateData {
	t.Helper()
	var b strings.Builder
	b.WriteString("ckafka_lag,group=")
	writeEscaped(&b, hostileGroup)
	b.WriteString(",instance_id=ckafka-1,instance_name=")
	writeEscaped(&b, "prod\r\n<@all>\u2028")
	b.WriteString(",topic=orders")
	now := time.Unix(1_700_000_000, 0)
	return buildData([]Notification{{Kind: KindFiring, At: now, Alert: Alert{
		Key: b.String(), Level: LevelCritical, Value: 2500, HasValue: true, Threshold: 2000, HasThreshold: true, StartedAt: now,
	}}}, lang, 10*time.Minute)
}

func TestEscapers(t *testing.T) {
	tests := []struct {
		name string
		esc  func(string) string
		in   string
		want string
	}{
		{"text: newline visible", escapeText, "a\nb\r\tc", `a\nb\r\tc`},
		{"text: other controls", escapeText, "a\x07b\u2028c\u0085", `a\x07b\u2028c\x85`},
		{"text: plain untouched", escapeText, "billing-etl_v2", "billing-etl_v2"},
		{"markdown: tags and mentions", escapeMarkdown, "<font>x</font> <@all>", "&lt;font&gt;x&lt;/font&gt; &lt;@all&gt;"},
		{"markdown: emphasis, code, links, headings", escapeMarkdown, "*b* `c` [l](u) ~s~ #h", "\\*b\\* \\`c\\` \\[l\\](u) \\~s\\~ \\#h"},
		{"markdown: underscore inside a word stays", escapeMarkdown, "order_events_v2", "order_events_v2"},
		{"markdown: underscore at a word edge", escapeMarkdown, "_x_ a_", "\\_x\\_ a\\_"},
		{"markdown: newline visible, backslash kept", escapeMarkdown, "a\nb\\", "a\\\\nb\\\\"},
		{"markdown: entities", escapeMarkdown, "a&b", "a&amp;b"},
		{"sms: controls removed", stripControl, "pay\n##\x07 x\u2028", "pay## x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.esc(tt.in))
		})
	}
}

func TestHostileNamesPerChannel(t *testing.T) {
	tpls, err := loadTemplates("zh")
	require.NoError(t, err)

	t.Run("wecom markdown", func(t *testing.T) {
		robots, err := newWeComRobots(&WeComConfig{WebhookURLs: []string{"key-1234567890"}, MsgType: "markdown", MinLevel: "warning", MentionedList: []string{"oncall"}},
			tpls, "zh", http.DefaultClient)
		require.NoError(t, err)
		out, err := robots[0].Prepare(hostileData(t, "zh"))
		require.NoError(t, err)
		content := out[0].Text
		lines := strings.Split(content, "\n")
		require.Len(t, lines, 4, "title, counts, one alert, the configured mention: %q", content)
		require.Contains(t, lines[2], `pay&lt;/font&gt;\\n\#\#\# 已恢复 @all,x=1 \*b\* \[l\](u) \`+"`c\\`")
		require.Contains(t, lines[2], `prod\\r\\n&lt;@all&gt;\\u2028`)
		require.Equal(t, strings.Count(content, "<font"), strings.Count(content, "</font>"), "only the template's own tags: %q", content)
		require.Equal(t, "<@oncall>", lines[3], "only the configured mention")
	})
	t.Run("wecom text", func(t *testing.T) {
		robots, err := newWeComRobots(&WeComConfig{WebhookURLs: []string{"key-1234567890"}, MsgType: "text", MinLevel: "warning"},
			tpls, "zh", http.DefaultClient)
		require.NoError(t, err)
		out, err := robots[0].Prepare(hostileData(t, "zh"))
		require.NoError(t, err)
		lines := strings.Split(out[0].Text, "\n")
		require.Len(t, lines, 3, "title, counts, one alert: %q", out[0].Text)
		require.Contains(t, lines[2], `pay</font>\n### 已恢复 @all,x=1`)
	})
	t.Run("email", func(t *testing.T) {
		ch, err := newEmailChannel(&EmailConfig{SMTPHost: "127.0.0.1", SMTPPort: 25, TLSMode: "none", From: "a@example.com", To: []string{"b@example.com"}, MinLevel: "warning"},
			tpls, "zh", time.Second)
		require.NoError(t, err)
		out, err := ch.Prepare(hostileData(t, "zh"))
		require.NoError(t, err)
		require.NotContains(t, out[0].Subject, "\n")
		require.Contains(t, out[0].Text, `pay</font>\n### 已恢复 @all`)
		require.Contains(t, out[0].HTML, `pay&lt;/font&gt;\n### 已恢复 @all`)
		require.NotContains(t, out[0].HTML, "pay</font>")
		require.Contains(t, out[0].HTML, `prod\r\n&lt;@all&gt;\u2028`)
	})
	t.Run("sms", func(t *testing.T) {
		ch, err := newSMSChannel(&SMSConfig{SecretID: "id", SecretKey: config.NewSecret([]byte("k")), Region: "ap-guangzhou", Endpoint: "127.0.0.1:1",
			SdkAppID: "1", TemplateID: "2", PhoneNumbers: []string{"13800000001"}, MinLevel: "critical", ParamMaxLength: 12}, "zh", time.Second)
		require.NoError(t, err)
		out, err := ch.Prepare(hostileData(t, "zh"))
		require.NoError(t, err)
		for _, p := range out[0].Params {
			require.False(t, strings.ContainsFunc(p, isControl), "%q", p)
		}
		require.Equal(t, "prod<@all>", out[0].Params[0])
	})
}
