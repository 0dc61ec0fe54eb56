package render

import (
	"cmp"
	"fmt"
	"net/url"
	"strings"
	"text/template"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
)

// DetailView is how late and where it is going, as templates see it; each
// Has… says whether the input knew the value.
type DetailView struct {
	LagSeconds      float64
	HasLagSeconds   bool
	LagSecondsText  string // "4m12s" / "4分12秒"
	ProduceRate     float64
	HasProduceRate  bool
	ProduceRateText string // "120/s", "1.2k/s" / "1.2万/s"
	ConsumeRate     float64
	HasConsumeRate  bool
	ConsumeRateText string
	DrainSeconds    float64
	HasDrain        bool
	DrainText       string // "6m" / "6分钟"
	Stalled         bool
	GroupState      string // Stable, Empty, ...
	GroupMembers    int64
	HasGroupMembers bool
	NoConsumer      bool   // the group is Empty while there is lag
	Reason          string // lag, lag_seconds or stalled
	// ThresholdLabel says which threshold fired, with its unit:
	// "阈值 2000", "阈值 落后 5分钟" / "threshold 2000", "threshold 5m behind";
	// empty for a stall (the trend says it).
	ThresholdLabel string
	// Trend is the localized outlook while firing: stalled, clears in ~6m,
	// or consuming slower than producing; empty when nothing is known.
	Trend string
	// RetentionSeconds is how long the topic keeps messages.
	RetentionSeconds float64
	HasRetention     bool
	// Retention says what retention means for the unread messages: lost
	// already, or when they start being deleted; empty when no loss is
	// known or ahead.
	Retention string
	// DashboardURL is dashboard_url rendered for this alert, or empty.
	DashboardURL string
}

// retentionText is "1,204 messages already lost to retention" or "unread
// messages start being deleted in 3h12m (retention 24h)".
func retentionText(d alert.Details, lang string) string {
	zh := lang == "zh"
	if d.LostMessages.Known && d.LostMessages.Value > 0 {
		n := groupDigits(int64(d.LostMessages.Value))
		return pick(zh, "已丢失 "+n+" 条消息（已超出保留期）", n+" messages already lost to retention")
	}
	if !d.LossETASeconds.Known {
		return ""
	}
	if d.Reason != "retention" && d.Reason != "lost" && d.LossETASeconds.Value >= lossLineWithin.Seconds() {
		// True, but noise in a lag alert at 3 a.m.: "deleted in 4d23h".
		// The field stays in the metrics and on the dashboard.
		return ""
	}
	retention := ""
	if d.RetentionSeconds.Known {
		retention = humanSeconds(d.RetentionSeconds.Value, lang)
	}
	if d.LossETASeconds.Value <= 0 {
		return pick(zh, "保留期 "+retention+" 已开始删除未消费消息", "retention ("+retention+") is deleting unread messages")
	}
	eta := humanSeconds(d.LossETASeconds.Value, lang)
	return pick(zh, "预计 "+eta+" 后开始丢失未消费消息（保留期 "+retention+"）",
		"unread messages start being deleted in "+eta+" (retention "+retention+")")
}

// lossLineWithin is how near a loss must be for a lag alert to tell it;
// an alert about retention or lost messages always does.
const lossLineWithin = 24 * time.Hour

// groupDigits writes n with thousands separators: 1204 → "1,204".
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func detailView(n alert.Notification, lang string, w Words) DetailView {
	d := n.Alert.Details
	v := DetailView{
		LagSeconds: d.LagSeconds.Value, HasLagSeconds: d.LagSeconds.Known,
		ProduceRate: d.ProduceRate.Value, HasProduceRate: d.ProduceRate.Known,
		ConsumeRate: d.ConsumeRate.Value, HasConsumeRate: d.ConsumeRate.Known,
		DrainSeconds: d.DrainSeconds.Value, HasDrain: d.DrainSeconds.Known,
		Stalled: d.Stalled, GroupState: d.GroupState,
		GroupMembers: int64(d.GroupMembers.Value), HasGroupMembers: d.GroupMembers.Known,
		Reason:           d.Reason,
		RetentionSeconds: d.RetentionSeconds.Value, HasRetention: d.RetentionSeconds.Known,
	}
	if v.HasLagSeconds {
		v.LagSecondsText = humanSeconds(v.LagSeconds, lang)
	}
	if v.HasProduceRate {
		v.ProduceRateText = humanRate(v.ProduceRate, lang)
	}
	if v.HasConsumeRate {
		v.ConsumeRateText = humanRate(v.ConsumeRate, lang)
	}
	if v.HasDrain {
		v.DrainText = humanSeconds(v.DrainSeconds, lang)
	}
	lagging := n.Alert.HasValue && n.Alert.Value > 0
	if n.Resolved() {
		return v // the outlook of an alert that ended is no news
	}
	v.Retention = retentionText(d, lang)
	v.NoConsumer = d.GroupState == "Empty" && lagging
	switch {
	case v.Stalled:
		v.Trend = w.Stalled
	case v.HasDrain:
		if lang == "zh" {
			v.Trend = "预计 " + v.DrainText + " 内追平"
		} else {
			v.Trend = "clears in ~" + v.DrainText
		}
	case lagging && v.HasProduceRate && v.HasConsumeRate && v.ConsumeRate < v.ProduceRate:
		if lang == "zh" {
			v.Trend = "消费 " + v.ConsumeRateText + " < 生产 " + v.ProduceRateText + "，积压增长中"
		} else {
			v.Trend = "consuming " + v.ConsumeRateText + " < producing " + v.ProduceRateText + ", growing"
		}
	}
	return v
}

// thresholdLabel names the threshold that fired, with its unit.
func thresholdLabel(v AlertView, lang string, w Words) string {
	if !v.HasThreshold || v.Reason == "stalled" || v.Reason == "lost" {
		return ""
	}
	if v.Reason == "retention" {
		headroom := humanSeconds(v.Threshold, lang)
		return pick(lang == "zh", w.Threshold+" 余量 "+headroom, "threshold "+headroom+" before deletion")
	}
	if v.Reason == "lag_seconds" {
		if lang == "zh" {
			return w.Threshold + " " + w.Behind + " " + v.ThresholdText
		}
		return "threshold " + v.ThresholdText + " behind"
	}
	if lang == "zh" {
		return w.Threshold + " " + v.ThresholdText
	}
	return "threshold " + v.ThresholdText
}

// parseDashboardURL parses dashboard_url, a Go template over an alert's
// tags, and renders it once on sample tags so a typo fails at start.
func ParseDashboardURL(text string) (*template.Template, error) {
	if text == "" {
		return nil, nil
	}
	t, err := template.New("dashboard_url").Option("missingkey=zero").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("dashboard_url: %w", err)
	}
	u, err := RenderURL(t, map[string]string{"group": "g", "topic": "t", "instance_id": "ckafka-1", "region": "ap-guangzhou"})
	if err != nil {
		return nil, fmt.Errorf("dashboard_url: %w", err)
	}
	if parsed, err := url.Parse(u); err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") {
		return nil, fmt.Errorf("dashboard_url: %q does not render to an http(s) URL", text)
	}
	return t, nil
}

// RenderURL renders the dashboard template with query-escaped tag values,
// then escapes what would end a markdown link or an attribute.
func RenderURL(t *template.Template, tags map[string]string) (string, error) {
	escaped := make(map[string]string, len(tags))
	for k, v := range tags {
		escaped[k] = url.QueryEscape(v)
	}
	var b strings.Builder
	if err := t.Execute(&b, escaped); err != nil {
		return "", err
	}
	return urlSanitizer.Replace(StripControl(b.String())), nil
}

var urlSanitizer = strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29", "<", "%3C", ">", "%3E", `"`, "%22", "[", "%5B", "]", "%5D")

// linkDashboards sets each alert's DashboardURL; an alert whose link
// cannot be rendered goes without one.
func (d *TemplateData) LinkDashboards(t *template.Template) error {
	if t == nil {
		return nil
	}
	var firstErr error
	for i := range d.Alerts {
		u, err := RenderURL(t, d.Alerts[i].Tags)
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		d.Alerts[i].DashboardURL = u
	}
	if len(d.Alerts) > 0 {
		d.First = d.Alerts[0]
	}
	return firstErr
}
