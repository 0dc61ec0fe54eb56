package wecom

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render/rendertest"
)

// TestHostileNames: a group name made to break the message renders as
// literal text.
func TestHostileNames(t *testing.T) {
	tpls, err := render.Load("zh")
	require.NoError(t, err)
	t.Run("wecom markdown", func(t *testing.T) {
		robots, err := New(&Config{WebhookURLs: []string{"key-1234567890"}, MsgType: "markdown", MinLevel: "warning", MentionedList: []string{"oncall"}},
			tpls, "zh", http.DefaultClient)
		require.NoError(t, err)
		out, err := robots[0].Prepare(rendertest.Hostile("zh"))
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
		robots, err := New(&Config{WebhookURLs: []string{"key-1234567890"}, MsgType: "text", MinLevel: "warning"},
			tpls, "zh", http.DefaultClient)
		require.NoError(t, err)
		out, err := robots[0].Prepare(rendertest.Hostile("zh"))
		require.NoError(t, err)
		lines := strings.Split(out[0].Text, "\n")
		require.Len(t, lines, 3, "title, counts, one alert: %q", out[0].Text)
		require.Contains(t, lines[2], `pay</font>\n### 已恢复 @all,x=1`)
	})
}
