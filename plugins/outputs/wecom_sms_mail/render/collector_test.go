package render

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
)

func TestCollectorAndUnknownLines(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 30, 0, 0, time.UTC)
	since := time.Date(2026, 12, 4, 10, 2, 0, 0, time.UTC)
	collector := func(kind alert.Kind, level alert.Level, c alert.Collector) alert.Notification {
		return alert.Notification{Kind: kind, At: now, Alert: alert.Alert{
			Key:   "ckafka_lag_collector,check=" + c.Check + ",host=h1,region=ap-guangzhou",
			Level: level, StartedAt: since, Details: alert.Details{Collector: &c}}}
	}
	revoked := alert.Collector{Check: alert.CheckFailing, Error: "AuthFailure.SecretIdNotFound", Since: since, FailedGroups: 12}
	lag := alert.Notification{Kind: alert.KindRepeat, At: now, Alert: alert.Alert{
		Key:   "ckafka_lag,group=billing,instance_id=ckafka-1,region=ap-guangzhou,topic=orders",
		Level: alert.LevelCritical, Value: 3000, HasValue: true, StartedAt: since,
		Unknown: &alert.Unknown{Since: since, Reason: "collection failing: AuthFailure.SecretIdNotFound"}}}
	tests := []struct {
		name, lang string
		n          alert.Notification
		wantLine   string
		wantTitle  string
	}{
		{"failing en", "en", collector(alert.KindFiring, alert.LevelCritical, revoked),
			"collection failing: AuthFailure.SecretIdNotFound since 10:02, all 12 groups unknown (host h1, region ap-guangzhou)", "CKafka collection failing"},
		{"failing zh", "zh", collector(alert.KindFiring, alert.LevelCritical, revoked),
			"CKafka 采集失败：AuthFailure.SecretIdNotFound，自 10:02 起，全部 12 个消费组积压未知（host h1, region ap-guangzhou）", "CKafka 采集失败"},
		{"partial en", "en", collector(alert.KindFiring, alert.LevelWarning, alert.Collector{Check: alert.CheckFailing, Error: "InternalError", Since: since, FailedGroups: 1, Groups: 4}),
			"collection failing: InternalError since 10:02, 1 group unknown (host h1, region ap-guangzhou)", "CKafka collection failing"},
		{"recovered", "en", collector(alert.KindResolved, alert.LevelOK, revoked), "collection recovered (host h1, region ap-guangzhou)", "CKafka collection recovered"},
		{"silent zh", "zh", collector(alert.KindFiring, alert.LevelCritical, alert.Collector{Check: alert.CheckSilent, Since: since}),
			"CKafka 采集中断：自 10:02 起未收到采集结果（host h1, region ap-guangzhou）", "CKafka 采集中断"},
		{"no active collector en", "en", alert.Notification{Kind: alert.KindFiring, At: now, Alert: alert.Alert{
			Key: "ckafka_lag_collector,check=no_active_collector", Level: alert.LevelCritical, StartedAt: since,
			Details: alert.Details{Collector: &alert.Collector{Check: alert.CheckNoActive, Since: since}}}},
			"no collector is active: every collector reports standby; check cluster_member_name (since 10:02)", "CKafka collector silent"},
		{"no active collector zh", "zh", alert.Notification{Kind: alert.KindFiring, At: now, Alert: alert.Alert{
			Key: "ckafka_lag_collector,check=no_active_collector", Level: alert.LevelCritical, StartedAt: since,
			Details: alert.Details{Collector: &alert.Collector{Check: alert.CheckNoActive, Since: since}}}},
			"没有采集器在工作：所有采集器都报告为备机（standby）；请检查 cluster_member_name（自 10:02 起）", "CKafka 采集中断"},
		{"unknown lag en", "en", lag,
			"instance ckafka-1 group billing topic orders: lag unknown since 10:02 (collection failing: AuthFailure.SecretIdNotFound); last known: lag 3000", "CKafka consumer lag alert"},
		{"unknown lag zh", "zh", lag,
			"实例 ckafka-1 消费组 billing Topic orders：积压未知（自 10:02 起采集失败：AuthFailure.SecretIdNotFound）；最后已知积压 3000", "CKafka 消费积压告警"},
		{"gone en", "en", alert.Notification{Kind: alert.KindGone, At: now, Alert: alert.Alert{Key: lag.Alert.Key, Level: alert.LevelCritical, Value: 3000, HasValue: true}},
			"instance ckafka-1 group billing topic orders: lag 3000, resolved (group no longer reported)", "CKafka consumer lag resolved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpls, d, line := renderOne(t, tt.lang, tt.n)
			require.Contains(t, line, tt.wantLine)
			require.Equal(t, tt.wantTitle, d.Title)
			html, err := tpls.RenderHTML(d)
			require.NoError(t, err)
			require.NotEmpty(t, html)
		})
	}
}

func TestRetentionLines(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 30, 0, 0, time.UTC)
	known := func(v float64) alert.Opt { return alert.Opt{Value: v, Known: true} }
	firing := func(d alert.Details, threshold float64) alert.Notification {
		return alert.Notification{Kind: alert.KindFiring, At: now, Alert: alert.Alert{
			Key:   "ckafka_lag,group=billing,instance_id=ckafka-1,region=ap-guangzhou,topic=orders",
			Level: alert.LevelCritical, Value: 90000, HasValue: true, Threshold: threshold, HasThreshold: true, Details: d}}
	}
	eta := alert.Details{Reason: "retention", RetentionSeconds: known(86400), HeadroomSeconds: known(3000), LossETASeconds: known(11520)}
	lost := alert.Details{Reason: "lost", LostMessages: known(1204), RetentionSeconds: known(86400)}
	tests := []struct {
		name, lang string
		n          alert.Notification
		want       string
	}{
		{"eta zh", "zh", firing(eta, 3600), "（阈值 余量 1小时），预计 3小时12分 后开始丢失未消费消息（保留期 1天）"},
		{"eta en", "en", firing(eta, 3600), "(threshold 1h before deletion), unread messages start being deleted in 3h12m (retention 1d)"},
		{"lost zh", "zh", firing(lost, 0), "积压 90000，已丢失 1,204 条消息（已超出保留期）"},
		{"lost en", "en", firing(lost, 0), "lag 90000, 1,204 messages already lost to retention"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, line := renderOne(t, tt.lang, tt.n)
			require.Contains(t, line, tt.want)
		})
	}
}

// renderOne renders one notification's data and its alert line in lang,
// times of day in UTC.
func renderOne(t *testing.T, lang string, n alert.Notification) (*Templates, *TemplateData, string) {
	t.Helper()
	tpls, err := Load(lang)
	require.NoError(t, err)
	d := Builder{Lang: lang, StaleAfter: time.Minute, Location: time.UTC}.Build([]alert.Notification{n})
	line, err := tpls.RenderLine(d.Alerts[0])
	require.NoError(t, err)
	return tpls, d, line
}
