package render

import (
	"fmt"
	"strings"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
)

// clock is a time of day in loc, with the date when it is not today's.
func clock(t, now time.Time, loc *time.Location) string {
	t, now = t.In(loc), now.In(loc)
	if t.YearDay() == now.YearDay() && t.Year() == now.Year() {
		return t.Format("15:04")
	}
	return t.Format("01-02 15:04")
}

// unknownText says why a firing lag alert's lag is unknown:
// "lag unknown since 10:02 (collection failing: AuthFailure.SecretIdNotFound)".
func unknownText(u alert.Unknown, lang string, loc *time.Location, now time.Time) string {
	since := clock(u.Since, now, loc)
	if lang == "zh" {
		reason := u.Reason
		switch {
		case u.Reason == "collector silent":
			reason = "采集中断"
		case strings.HasPrefix(u.Reason, "collection failing: "):
			reason = "采集失败：" + strings.TrimPrefix(u.Reason, "collection failing: ")
		}
		return "积压未知（自 " + since + " 起" + reason + "）"
	}
	return "lag unknown since " + since + " (" + u.Reason + ")"
}

// collectorView fills the view of an alert about a collector: its line,
// its subject (the collector's tags), and SMS-sized fields in place of
// instance, group, topic and value.
func collectorView(v *AlertView, c alert.Collector, tags []alert.Tag, lang string, loc *time.Location, now time.Time) {
	v.Check = c.Check
	var who []string
	for _, t := range tags {
		if t.Key == "check" {
			continue
		}
		who = append(who, t.Key+" "+t.Value)
	}
	v.Subject = strings.Join(who, ", ")
	v.InstanceName = firstNonEmpty(v.Tags["region"], v.Tags["instance_id"], v.Tags["host"])
	v.Instance = v.InstanceName
	v.ValueText, v.ThresholdText, v.ThresholdLabel = "-", "-", ""
	since := clock(c.Since, now, loc)
	zh := lang == "zh"
	switch {
	case c.Check == alert.CheckNoActive && v.Resolved:
		v.Collector = pick(zh, "CKafka 已有采集器恢复采集", "a collector is active again")
		v.Group, v.Topic = pick(zh, "采集恢复", "recovered"), ""
	case c.Check == alert.CheckNoActive:
		v.Collector = pick(zh, "没有采集器在工作：所有采集器都报告为备机（standby）；请检查 cluster_member_name（自 "+since+" 起）",
			"no collector is active: every collector reports standby; check cluster_member_name (since "+since+")")
		v.Group, v.Topic = pick(zh, "无采集", "no collector"), "standby"
	case c.Check == alert.CheckSilent && v.Resolved:
		v.Collector = pick(zh, "CKafka 采集已恢复上报（"+v.Subject+"）", "collector reporting again ("+v.Subject+")")
		v.Group, v.Topic = pick(zh, "采集恢复", "recovered"), ""
	case c.Check == alert.CheckSilent:
		v.Collector = pick(zh, "CKafka 采集中断：自 "+since+" 起未收到采集结果（"+v.Subject+"）",
			"collector silent: no collection since "+since+" ("+v.Subject+")")
		v.Group, v.Topic = pick(zh, "采集中断", "silent"), since
	case v.Resolved:
		v.Collector = pick(zh, "CKafka 采集已恢复（"+v.Subject+"）", "collection recovered ("+v.Subject+")")
		v.Group, v.Topic = pick(zh, "采集恢复", "recovered"), ""
	default:
		unknown := fmt.Sprintf(pick(zh, "%d 个消费组积压未知", "%d groups unknown"), c.FailedGroups)
		if !zh && c.FailedGroups == 1 {
			unknown = "1 group unknown"
		}
		if c.Groups == 0 {
			unknown = pick(zh, "所有消费组积压未知", "every group unknown")
			if c.FailedGroups > 0 {
				unknown = fmt.Sprintf(pick(zh, "全部 %d 个消费组积压未知", "all %d groups unknown"), c.FailedGroups)
				if !zh && c.FailedGroups == 1 {
					unknown = "the one group unknown"
				}
			}
		}
		v.Collector = pick(zh, "CKafka 采集失败："+c.Error+"，自 "+since+" 起，"+unknown+"（"+v.Subject+"）",
			"collection failing: "+c.Error+" since "+since+", "+unknown+" ("+v.Subject+")")
		v.Group, v.Topic = pick(zh, "采集失败", "failing"), c.Error
		v.ValueText = fmt.Sprint(c.FailedGroups)
	}
}

// collectorTitle is the title of a message about collectors only.
func collectorTitle(d *TemplateData) string {
	if len(d.Alerts) == 0 {
		return ""
	}
	zh := d.Language == "zh"
	silent, failing := false, false
	for _, a := range d.Alerts {
		switch {
		case a.Check == "":
			return ""
		case a.Resolved:
		case a.Check == alert.CheckSilent, a.Check == alert.CheckNoActive:
			silent = true
		default:
			failing = true
		}
	}
	switch {
	case failing:
		return pick(zh, "CKafka 采集失败", "CKafka collection failing")
	case silent:
		return pick(zh, "CKafka 采集中断", "CKafka collector silent")
	}
	return pick(zh, "CKafka 采集已恢复", "CKafka collection recovered")
}

func pick(zh bool, zhText, enText string) string {
	if zh {
		return zhText
	}
	return enText
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
