package render

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
)

func detailNote(kind alert.Kind, details alert.Details, threshold float64) alert.Notification {
	t0 := time.Unix(1_700_000_000, 0)
	return alert.Notification{Kind: kind, At: t0.Add(5 * time.Minute), Alert: alert.Alert{
		Key:   "ckafka_lag,group=billing,instance_id=ckafka-1,instance_name=prod,region=ap-guangzhou,topic=orders",
		Level: alert.LevelCritical, Value: 23003, HasValue: true, Threshold: threshold, HasThreshold: true, StartedAt: t0, Details: details,
	}}
}

func opt(v float64) alert.Opt { return alert.Opt{Value: v, Known: true} }

func TestTemplatesSayHowLateAndWhereItGoes(t *testing.T) {
	growing := alert.Details{LagSeconds: opt(252), ProduceRate: opt(120), ConsumeRate: opt(80), Reason: "lag", GroupState: "Stable", GroupMembers: opt(2)}
	draining := alert.Details{LagSeconds: opt(3725), ProduceRate: opt(100), ConsumeRate: opt(52000), DrainSeconds: opt(360), Reason: "lag_seconds"}
	dead := alert.Details{LagSeconds: opt(900), ProduceRate: opt(5), ConsumeRate: opt(0), Stalled: true, GroupState: "Empty", GroupMembers: opt(0), Reason: "stalled"}
	tests := []struct {
		name      string
		lang      string
		kind      alert.Kind
		details   alert.Details
		threshold float64
		want      []string
		wantNot   []string
	}{
		{"zh growing", "zh", alert.KindFiring, growing, 2000,
			[]string{"积压 23003，落后 4分12秒（阈值 2000）", "消费 80/s < 生产 120/s，积压增长中"}, []string{"追平", "无在线成员"}},
		{"en growing", "en", alert.KindFiring, growing, 2000,
			[]string{"lag 23003, 4m12s behind (threshold 2000)", "consuming 80/s < producing 120/s, growing"}, nil},
		{"zh draining, seconds threshold", "zh", alert.KindFiring, draining, 300,
			[]string{"落后 1小时2分（阈值 落后 5分钟）", "预计 6分钟 内追平"}, []string{"增长中"}},
		{"en draining, seconds threshold", "en", alert.KindFiring, draining, 300,
			[]string{"1h2m behind (threshold 5m behind)", "clears in ~6m"}, nil},
		{"zh stalled, nobody online", "zh", alert.KindFiring, dead, 0,
			[]string{"落后 15分钟，消费停滞，消费组无在线成员"}, []string{"阈值"}},
		{"en stalled, nobody online", "en", alert.KindFiring, dead, 0,
			[]string{"15m behind, stalled, no consumer online"}, nil},
		{"resolution has no outlook", "en", alert.KindResolved, dead, 0,
			[]string{"resolved"}, []string{"stalled", "no consumer"}},
		{"no details: as before", "zh", alert.KindFiring, alert.Details{}, 2000,
			[]string{"积压 23003（阈值 2000）"}, []string{"落后", "趋势"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpls, err := Load(tt.lang)
			require.NoError(t, err)
			d := BuildData([]alert.Notification{detailNote(tt.kind, tt.details, tt.threshold)}, tt.lang, time.Minute)
			for _, name := range []string{"wecom_markdown", "wecom_text", "email_text"} {
				out, err := tpls.Render(name, d)
				require.NoError(t, err)
				for _, w := range tt.want {
					require.Contains(t, out, w, name)
				}
				for _, w := range tt.wantNot {
					require.NotContains(t, out, w, name)
				}
			}
			html, err := tpls.RenderHTML(d)
			require.NoError(t, err)
			if tt.details.HasLag() {
				require.Contains(t, html, "<td>"+d.Alerts[0].LagSecondsText+"</td>")
			}
		})
	}
}

func TestDashboardURL(t *testing.T) {
	_, err := ParseDashboardURL("{{.group")
	require.ErrorContains(t, err, "dashboard_url")
	_, err = ParseDashboardURL("grafana/d/x")
	require.ErrorContains(t, err, "http(s) URL")

	tpl, err := ParseDashboardURL("https://grafana.example.com/d/ckafka?var-group={{.group}}&var-topic={{.topic}}")
	require.NoError(t, err)
	n := detailNote(alert.KindFiring, alert.Details{}, 2000)
	n.Alert.Key = "ckafka_lag,group=pay (eu)&x,topic=orders"
	d := BuildData([]alert.Notification{n}, "en", time.Minute)
	require.NoError(t, d.LinkDashboards(tpl))
	require.Equal(t, "https://grafana.example.com/d/ckafka?var-group=pay+%28eu%29%26x&var-topic=orders", d.Alerts[0].DashboardURL)

	tpls, err := Load("en")
	require.NoError(t, err)
	md, err := tpls.Render("wecom_markdown", d.Escaped(EscapeMarkdown))
	require.NoError(t, err)
	require.Contains(t, md, " [dashboard](https://grafana.example.com/d/ckafka?var-group=pay+%28eu%29%26x&var-topic=orders)")
	html, err := tpls.RenderHTML(d.Escaped(EscapeText))
	require.NoError(t, err)
	require.Contains(t, html, `<a href="https://grafana.example.com/d/ckafka?var-group=pay&#43;%28eu%29%26x&amp;var-topic=orders">pay (eu)&amp;x</a>`)
}

// A lag alert tells the loss only when it is less than a day away: "deleted
// in 4d23h" on an alert 18 s behind is true but noise at 3 a.m. An alert
// about retention or lost messages always tells it.
func TestLossLineOnlyWhenNear(t *testing.T) {
	eta := func(reason string, seconds float64) alert.Details {
		return alert.Details{Reason: reason, LagSeconds: opt(18), RetentionSeconds: opt(3 * 86400), LossETASeconds: opt(seconds)}
	}
	tests := []struct {
		name    string
		details alert.Details
		want    string // "" : no loss line
	}{
		{"lag alert, loss in 4d23h: not told", eta("lag", 431982), ""},
		{"lag alert, loss in exactly a day: not told", eta("lag", 86400), ""},
		{"lag alert, loss in 23h: told", eta("lag", 82800), "unread messages start being deleted in 23h"},
		{"lag_seconds alert, loss in 2d: not told", eta("lag_seconds", 172800), ""},
		{"retention alert, loss in 4d23h: told", eta("retention", 431982), "unread messages start being deleted in 4d23h"},
		{"lost messages: told", alert.Details{Reason: "lost", LostMessages: opt(4)}, "4 messages already lost to retention"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := retentionText(tt.details, "en")
			if tt.want == "" {
				require.Empty(t, got)
				return
			}
			require.Contains(t, got, tt.want)
		})
	}
}
