package wecom_sms_mail

import (
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/wecom"
)

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
	p.WeCom = &wecom.Config{WebhookURLs: []string{"key-1234567890"}}
	p.DashboardURL = "{{.group"
	require.ErrorContains(t, p.Init(), "dashboard_url")
}
