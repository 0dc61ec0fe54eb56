package wecom_sms_mail

import (
	"github.com/influxdata/telegraf/config"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/cluster"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/heartbeat"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/alertmanager"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/dingtalk"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/email"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/feishu"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/sms"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/voice"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/webhook"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/wecom"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/oncall"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/route"
)

// Config is the [[outputs.wecom_sms_mail]] table.
type Config struct {
	LevelKey       string          `toml:"level_key"`
	ValueField     string          `toml:"value_field"`
	KeyExcludeTags []string        `toml:"key_exclude_tags"`
	GroupWait      config.Duration `toml:"group_wait"`
	RepeatInterval config.Duration `toml:"repeat_interval"`
	SendResolved   bool            `toml:"send_resolved"`
	StaleAfter     config.Duration `toml:"stale_after"`
	StateFile      string          `toml:"state_file"`
	Language       string          `toml:"language"`
	Timeout        config.Duration `toml:"timeout"`
	MaxRetries     int             `toml:"max_retries"`
	DashboardURL   string          `toml:"dashboard_url"`
	// Quiet hours of the default route (routes may set their own).
	QuietHours         []string        `toml:"quiet_hours"`
	QuietHoursMinLevel string          `toml:"quiet_hours_min_level"`
	Timezone           string          `toml:"timezone"`
	ChartWindow        config.Duration `toml:"chart_window"`
	ChartFont          string          `toml:"chart_font"`
	SilenceFile        string          `toml:"silence_file"`
	// Collector health: ckafka_lag_gather routed to the output.
	CollectFailingAfter  int                  `toml:"collect_failing_after"`
	CollectorSilentAfter config.Duration      `toml:"collector_silent_after"`
	Heartbeat            *heartbeat.Config    `toml:"heartbeat"`
	Routes               []route.Config       `toml:"route"`
	WeCom                *wecom.Config        `toml:"wecom"`
	SMS                  *sms.Config          `toml:"sms"`
	Email                *email.Config        `toml:"email"`
	DingTalk             *dingtalk.Config     `toml:"dingtalk"`
	Feishu               *feishu.Config       `toml:"feishu"`
	Webhook              *webhook.Config      `toml:"webhook"`
	Alertmanager         *alertmanager.Config `toml:"alertmanager"`
	Cluster              *cluster.Config      `toml:"cluster"`
	Web                  *WebConfig           `toml:"web"`
	// On call: phone calls, rosters and escalations (package oncall).
	Voice       *voice.Config             `toml:"voice"`
	OnCall      []oncall.RosterConfig     `toml:"oncall"`
	Escalations []oncall.EscalationConfig `toml:"escalation"`
}
