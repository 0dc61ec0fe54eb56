// Package rendertest holds template data for the channels' tests.
package rendertest

import (
	"strings"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
)

// HostileGroup is a consumer group name made to break out of a message:
// it closes a tag, starts a heading on a new line, mentions everyone and
// carries markdown.
const HostileGroup = "pay</font>\n### 已恢复 @all,x=1 *b* [l](u) `c`"

// Hostile is one critical alert whose group (HostileGroup) and instance
// name ("prod\r\n<@all>\u2028") try to break out of the message.
func Hostile(lang string) *render.TemplateData {
	var b strings.Builder
	b.WriteString("ckafka_lag,group=")
	alert.WriteEscaped(&b, HostileGroup)
	b.WriteString(",instance_id=ckafka-1,instance_name=")
	alert.WriteEscaped(&b, "prod\r\n<@all>\u2028")
	b.WriteString(",topic=orders")
	now := time.Unix(1_700_000_000, 0)
	return render.BuildData([]alert.Notification{{Kind: alert.KindFiring, At: now, Alert: alert.Alert{
		Key: b.String(), Level: alert.LevelCritical, Value: 2500, HasValue: true, Threshold: 2000, HasThreshold: true, StartedAt: now,
	}}}, lang, 10*time.Minute)
}
