package wecom_sms_mail

import (
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
)

func detailNote(kind Kind, details Details, threshold float64) Notification {
	t0 := time.Unix(1_700_000_000, 0)
	return Notification{Kind: kind, At: t0.Add(5 * time.Minute), Alert: Alert{
		Key:   "ckafka_lag,group=billing,instance_id=ckafka-1,instance_name=prod,region=ap-guangzhou,topic=orders",
		Level: LevelCritical, Value: 23003, HasValue: true, Threshold: threshold, HasThreshold: true, StartedAt: t0, Details: details,
	}}
}

func opt(v float64) Opt { return Opt{Value: v, Known: true} }

func TestTemplatesSayHowLateAndWhereItGoes(t *testing.T) {
	growing := Details{LagSeconds: opt(252), ProduceRate: opt(120), ConsumeRate: opt(80), Reason: "lag", GroupState: "Stable", GroupMembers: opt(2)}
	draining := Details{LagSeconds: opt(3725), ProduceRate: opt(100), ConsumeRate: opt(52000), DrainSeconds: opt(360), Reason: "lag_seconds"}
	dead := Details{LagSeconds: opt(900), ProduceRate: opt(5), ConsumeRate: opt(0), Stalled: true, GroupState: "Empty", GroupMembers: opt(0), Reason: "stalled"}
	tests := []struct {
		name      string
		lang      string
		kind      Kind
		details   Details
		threshold float64
		want      []string
		wantNot   []string
	}{
		{"zh growing", "zh", KindFiring, growing, 2000,
			[]string{"积压 23003，落后 4分12秒（阈值 2000）", "消费 80/s < 生产 120/s，积压增长中"}, []string{"追平", "无在线成员"}},
		{"en growing", "en", KindFiring, growing, 2000,
			[]string{"lag 23003, 4m12s behind (threshold 2000)", "consuming 80/s < producing 120/s, growing"}, nil},
		{"zh draining, seconds threshold", "zh", KindFiring, draining, 300,
			[]string{"落后 1小时2分（阈值 落后 5分钟）", "预计 6分钟 内追平"}, []string{"增长中"}},
		{"en draining, seconds threshold", "en", KindFiring, draining, 300,
			[]string{"1h2m behind (threshold 5m behind)", "clears in ~6m"}, nil},
		{"zh stalled, nobody online", "zh", KindFiring, dead, 0,
			[]string{"落后 15分钟，消费停滞，消费组无在线成员"}, []string{"阈值"}},
		{"en stalled, nobody online", "en", KindFiring, dead, 0,
			[]string{"15m behind, stalled, no consumer online"}, nil},
		{"resolution has no outlook", "en", KindResolved, dead, 0,
			[]string{"resolved"}, []string{"stalled", "no consumer"}},
		{"no details: as before", "zh", KindFiring, Details{}, 2000,
			[]string{"积压 23003（阈值 2000）"}, []string{"落后", "趋势"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpls, err := loadTemplates(tt.lang)
			require.NoError(t, err)
			d := buildData([]Notification{detailNote(tt.kind, tt.details, tt.threshold)}, tt.lang, time.Minute)
			for _, name := range []string{"wecom_markdown", "wecom_text", "email_text"} {
				out, err := tpls.render(name, d)
				require.NoError(t, err)
				for _, w := range tt.want {
					require.Contains(t, out, w, name)
				}
				for _, w := range tt.wantNot {
					require.NotContains(t, out, w, name)
				}
			}
			html, err := tpls.renderHTML(d)
			require.NoError(t, err)
			if tt.details.HasLag() {
				require.Contains(t, html, "<td>"+d.Alerts[0].LagSecondsText+"</td>")
			}
		})
	}
}

func TestDashboardURL(t *testing.T) {
	_, err := parseDashboardURL("{{.group")
	require.ErrorContains(t, err, "dashboard_url")
	_, err = parseDashboardURL("grafana/d/x")
	require.ErrorContains(t, err, "http(s) URL")

	tpl, err := parseDashboardURL("https://grafana.example.com/d/ckafka?var-group={{.group}}&var-topic={{.topic}}")
	require.NoError(t, err)
	n := detailNote(KindFiring, Details{}, 2000)
	n.Alert.Key = "ckafka_lag,group=pay (eu)&x,topic=orders"
	d := buildData([]Notification{n}, "en", time.Minute)
	require.NoError(t, d.linkDashboards(tpl))
	require.Equal(t, "https://grafana.example.com/d/ckafka?var-group=pay+%28eu%29%26x&var-topic=orders", d.Alerts[0].DashboardURL)

	tpls, err := loadTemplates("en")
	require.NoError(t, err)
	md, err := tpls.render("wecom_markdown", d.escaped(escapeMarkdown))
	require.NoError(t, err)
	require.Contains(t, md, " [dashboard](https://grafana.example.com/d/ckafka?var-group=pay+%28eu%29%26x&var-topic=orders)")
	html, err := tpls.renderHTML(d.escaped(escapeText))
	require.NoError(t, err)
	require.Contains(t, html, `<a href="https://grafana.example.com/d/ckafka?var-group=pay&#43;%28eu%29%26x&amp;var-topic=orders">pay (eu)&amp;x</a>`)
}

// TestDetailsReachTheMessage: the fields of ckafka_lag and the script
// travel from Write to the robot.
func TestDetailsReachTheMessage(t *testing.T) {
	e := newEnv(t)
	p := e.plugin(t, func(p *WeComSMSMail) {
		p.SMS, p.Email = nil, nil
		p.DashboardURL = "https://grafana.example.com/d/ckafka?var-group={{.group}}"
	})
	m := metric.New("ckafka_lag",
		map[string]string{"instance_id": "ckafka-1", "instance_name": "prod", "group": "billing", "topic": "orders"},
		map[string]interface{}{"lag": int64(23003), "alert_level": "critical", "alert_threshold": int64(300), "alert_reason": "lag_seconds",
			"lag_seconds": 252.4, "produce_rate": 120.0, "consume_rate": 80.0, "stalled": false, "group_state": "Stable", "group_members": int64(2)},
		time.Now())
	require.NoError(t, p.Write([]telegraf.Metric{m}))
	msg := testkit.Await(t, e.robot.Received(), 10*time.Second, "message")
	for _, want := range []string{"落后 4分12秒（阈值 落后 5分钟）", "消费 80/s < 生产 120/s，积压增长中", "[看板](https://grafana.example.com/d/ckafka?var-group=billing)"} {
		require.Contains(t, msg.Content, want)
	}
	require.False(t, strings.Contains(msg.Content, "无在线成员"))
}

func TestInitRejectsABadDashboardURL(t *testing.T) {
	p := New()
	p.WeCom = &WeComConfig{WebhookURLs: []string{"key-1234567890"}}
	p.DashboardURL = "{{.group"
	require.ErrorContains(t, p.Init(), "dashboard_url")
}
