package wecom

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	fakewecom "github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/wecom"

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

func TestChartFollowsFirstFiringOnly(t *testing.T) {
	robot := fakewecom.New("chart-key-0000000000000001")
	srv := httptest.NewServer(robot)
	defer srv.Close()
	tpls, err := render.Load("en")
	require.NoError(t, err)
	chs, err := New(&Config{WebhookURLs: []string{srv.URL + "/cgi-bin/webhook/send?key=chart-key-0000000000000001"}, MsgType: "markdown",
		MinLevel: "warning", SendChart: true}, tpls, "en", http.DefaultClient)
	require.NoError(t, err)
	d := render.SampleData("en", time.Now())
	d.Chart = []byte("\x89PNG fake chart bytes")
	ds, err := chs[0].Prepare(d)
	require.NoError(t, err)
	require.Len(t, ds, 2, "the message, then the chart")
	for i := range ds {
		require.NoError(t, chs[0].Deliver(context.Background(), &ds[i]))
	}
	ms := robot.Messages()
	require.Equal(t, "image", ms[1].MsgType)
	require.Equal(t, d.Chart, ms[1].Image, "the fake checked base64 and md5")

	d.Alerts[0].Kind = "repeat"
	ds, err = chs[0].Prepare(d)
	require.NoError(t, err)
	require.Len(t, ds, 1, "no chart with a reminder")
}
