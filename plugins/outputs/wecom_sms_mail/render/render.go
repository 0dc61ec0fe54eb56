package render

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"slices"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
)

//go:embed templates/*.tmpl templates/email.html
var templateFS embed.FS

// TemplateData is what every template sees. It is built once per
// notification group and shared by the channels, so all speak of the same
// alerts in the same words.
type TemplateData struct {
	// Chart is the message's lag chart (PNG), when one was drawn.
	Chart    []byte `json:"-"`
	Language string
	Test     bool
	// Notice, when set, is a message about the alerting itself (the HA
	// pair's takeover) told above the alerts still firing.
	Notice string
	Title  string
	Alerts []AlertView // critical first, then warning, then resolved; larger values first
	First  AlertView   // Alerts[0], for one-line channels such as SMS
	Counts Counts
	Words  Words
	// Mentions are the people robot messages mention: whoever is on call
	// for the alerts (package oncall).
	Mentions []Mention
}

// Mention is someone a robot message mentions: by mobile number, or by
// the chat's user ID.
type Mention struct {
	Name, Mobile, UserID string
}

// Counts of the alerts in a message.
type Counts struct {
	Critical, Warning, Resolved, Firing, Total int
}

// AlertView is one alert as templates see it.
type AlertView struct {
	Key           string // the alert's identity (see alert.Key)
	Name          string
	Tags          map[string]string
	Level         string // ok, warning, critical
	NotifiedLevel string // the level last notified: what a resolution ended
	Kind          string // firing, escalated, repeat, resolved, stale
	LevelText     string // localized label
	Value         float64
	HasValue      bool
	ValueText     string
	Threshold     float64
	HasThreshold  bool
	ThresholdText string
	StartedAt     time.Time
	Duration      string
	StaleAfter    string
	Resolved      bool
	NoData        bool
	// Gone: resolved because a clean collection no longer reports the
	// series (a deleted group or topic).
	Gone bool
	// Unknown, on a firing lag alert, says since when and why its lag is
	// not known (its collector is failing or silent).
	Unknown string
	// Collector is the whole line of an alert about a collector itself
	// (collection failing, collector silent), empty on lag alerts.
	Collector    string
	Check        string // the collector alert's check: collection_failing or collector_silent
	Instance     string // "name(id)", or whichever is known
	InstanceName string // the name, else the id: short, for SMS
	Group, Topic string
	Subject      string // localized "instance … group … topic …", or the identity

	DetailView
	// History is what the alert received while firing, for charts.
	History []alert.Point
	// ClaimedBy is who took the alert through its claim link, or by
	// pressing the key on a call (ClaimedByPhone).
	ClaimedBy      string
	ClaimedByPhone bool
	// Links are the signed action links of a firing alert (claim,
	// silence, view) for the destination the message goes to.
	Links []Link
}

// Link is one action link in a message.
type Link struct{ Label, URL string }

// Words are localized labels for templates.
type Words struct {
	Critical, Warning, Resolved, NoData, Gone                      string
	Level, Instance, Group, Topic, Lag, Threshold, Since, TestNote string
	TestTag, TitleAlert, TitleResolved, TitleClaimed               string
	Behind, Trend, Dashboard, NoConsumer, Stalled, Actions         string
}

var words = map[string]Words{
	"zh": {Critical: "严重", Warning: "警告", Resolved: "恢复", NoData: "恢复（无数据）", Gone: "恢复（已不存在）",
		Level: "级别", Instance: "实例", Group: "消费组", Topic: "Topic", Lag: "积压", Threshold: "阈值", Since: "开始时间",
		TestNote: "这是一条测试消息，用于验证告警通道配置，无需处理。",
		TestTag:  "【测试】", TitleAlert: "CKafka 消费积压告警", TitleResolved: "CKafka 消费积压恢复", TitleClaimed: "CKafka 告警已认领",
		Behind: "落后", Trend: "趋势", Dashboard: "看板", NoConsumer: "消费组无在线成员", Stalled: "消费停滞", Actions: "处理"},
	"en": {Critical: "CRITICAL", Warning: "WARNING", Resolved: "RESOLVED", NoData: "RESOLVED (no data)", Gone: "RESOLVED (gone)",
		Level: "Level", Instance: "Instance", Group: "Group", Topic: "Topic", Lag: "Lag", Threshold: "Threshold", Since: "Since",
		TestNote: "This is a test message checking the alert channel; no action needed.",
		TestTag:  "[TEST] ", TitleAlert: "CKafka consumer lag alert", TitleResolved: "CKafka consumer lag resolved", TitleClaimed: "CKafka alert claimed",
		Behind: "Behind", Trend: "Trend", Dashboard: "dashboard", NoConsumer: "no consumer online", Stalled: "stalled", Actions: "Act"},
}

// templates holds the parsed default templates of one language.
type Templates struct {
	text *template.Template
	html *htmltemplate.Template
}

func Load(lang string) (*Templates, error) {
	text, err := template.New(lang).ParseFS(templateFS, "templates/"+lang+".tmpl")
	if err != nil {
		return nil, fmt.Errorf("default %s templates: %w", lang, err)
	}
	html, err := htmltemplate.ParseFS(templateFS, "templates/email.html")
	if err != nil {
		return nil, fmt.Errorf("default email template: %w", err)
	}
	return &Templates{text: text, html: html}, nil
}

func (t *Templates) Render(name string, d *TemplateData) (string, error) {
	var b bytes.Buffer
	if err := t.text.ExecuteTemplate(&b, name, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

// RenderLine renders one alert's line of the default messages.
func (t *Templates) RenderLine(v AlertView) (string, error) {
	var b bytes.Buffer
	if err := t.text.ExecuteTemplate(&b, "line", v); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (t *Templates) RenderHTML(d *TemplateData) (string, error) {
	var b bytes.Buffer
	if err := t.html.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

// ParseUserTemplates parses a list of templates given under key (one per
// variable, as SMS and voice templates take), each named key[i].
func ParseUserTemplates(key string, texts []string, lang string) ([]*template.Template, error) {
	out := make([]*template.Template, 0, len(texts))
	for i, text := range texts {
		t, err := ParseUserTemplate(fmt.Sprintf("%s[%d]", key, i), text, lang)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// ParseUserTemplate parses a template given in the configuration and runs
// it once on sample data, so that a typo fails at start, not at 3 a.m.
func ParseUserTemplate(key, text, lang string) (*template.Template, error) {
	t, err := template.New(key).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if err := t.Execute(&bytes.Buffer{}, SampleData(lang, time.Now())); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return t, nil
}

func Execute(t *template.Template, d *TemplateData) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

func severity(n alert.Notification) int {
	if n.Resolved() {
		return 0
	}
	return int(n.Alert.Level)
}

// Builder builds a message's template data from the output's settings. It
// is the one place that does: deliveries, -preview, -test-notify, the page,
// the claim notice and the HA takeover notice all call it, so a preview
// shows exactly what a channel receives (times of day in the timezone key,
// not the machine's).
type Builder struct {
	Lang       string
	StaleAfter time.Duration
	Location   *time.Location // nil: the machine's zone
}

// Build renders notifications for templates, sorted by severity then
// value.
func (b Builder) Build(notes []alert.Notification) *TemplateData {
	loc := b.Location
	if loc == nil {
		loc = time.Local
	}
	return buildData(notes, b.Lang, b.StaleAfter, loc)
}

// BuildData is Builder{lang, staleAfter, nil}.Build(notes), for tests and
// tools.
func BuildData(notes []alert.Notification, lang string, staleAfter time.Duration) *TemplateData {
	return Builder{Lang: lang, StaleAfter: staleAfter}.Build(notes)
}

func buildData(notes []alert.Notification, lang string, staleAfter time.Duration, loc *time.Location) *TemplateData {
	sorted := append([]alert.Notification(nil), notes...)
	sort.SliceStable(sorted, func(i, j int) bool {
		si, sj := severity(sorted[i]), severity(sorted[j])
		if si != sj {
			return si > sj
		}
		if sorted[i].Alert.Value != sorted[j].Alert.Value {
			return sorted[i].Alert.Value > sorted[j].Alert.Value
		}
		return sorted[i].Alert.Key < sorted[j].Alert.Key
	})
	w := words[lang]
	d := &TemplateData{Language: lang, Words: w}
	for _, n := range sorted {
		v := alertView(n, lang, w, staleAfter, loc)
		switch {
		case v.Resolved:
			d.Counts.Resolved++
		case v.Level == "critical":
			d.Counts.Critical++
			d.Counts.Firing++
		default:
			d.Counts.Warning++
			d.Counts.Firing++
		}
		d.Alerts = append(d.Alerts, v)
	}
	d.Counts.Total = len(d.Alerts)
	if len(d.Alerts) > 0 {
		d.First = d.Alerts[0]
	}
	d.Title = titleOf(d)
	return d
}

func titleOf(d *TemplateData) string {
	title := d.Words.TitleResolved
	if d.Counts.Firing > 0 {
		title = d.Words.TitleAlert
	}
	if len(d.Alerts) > 0 && !slices.ContainsFunc(d.Alerts, func(v AlertView) bool { return v.Kind != string(alert.KindClaimed) }) {
		title = d.Words.TitleClaimed
	}
	if t := collectorTitle(d); t != "" {
		title = t
	}
	if d.Test {
		title = d.Words.TestTag + title
	}
	if d.Notice != "" {
		title = d.Notice
	}
	return title
}

// Notice is a message about the alerting itself: the notice and the
// counts of the alerts still firing, not their lines (a long list would be
// split into messages that read as reminders).
func (b Builder) Notice(notice string, firing []alert.Notification) *TemplateData {
	d := b.Build(firing)
	d.Alerts, d.First = nil, AlertView{}
	d.Notice = notice
	d.Title = titleOf(d)
	return d
}

func alertView(n alert.Notification, lang string, w Words, staleAfter time.Duration, loc *time.Location) AlertView {
	name, tagList := alert.ParseKey(n.Alert.Key)
	tags := make(map[string]string, len(tagList))
	for _, t := range tagList {
		tags[t.Key] = t.Value
	}
	v := AlertView{
		Key:            n.Alert.Key,
		ClaimedBy:      n.Alert.ClaimedBy,
		ClaimedByPhone: n.Alert.ClaimedVia == alert.ClaimedByPhone,
		Name:           name,
		Tags:           tags,
		Level:          n.Alert.Level.String(),
		NotifiedLevel:  n.Alert.NotifiedLevel.String(),
		History:        n.Alert.History,
		Kind:           string(n.Kind),
		Value:          n.Alert.Value,
		HasValue:       n.Alert.HasValue,
		ValueText:      formatNumber(n.Alert.Value),
		Threshold:      n.Alert.Threshold,
		HasThreshold:   n.Alert.HasThreshold,
		ThresholdText:  formatNumber(n.Alert.Threshold),
		StartedAt:      n.Alert.StartedAt.In(loc), // the email's "since", in the timezone key
		Duration:       roundDuration(n.At.Sub(n.Alert.StartedAt)),
		StaleAfter:     roundDuration(staleAfter),
		Resolved:       n.Resolved(),
		NoData:         n.Kind == alert.KindStale,
		Gone:           n.Kind == alert.KindGone,
		Group:          tags["group"],
		Topic:          tags["topic"],
	}
	if !v.HasValue {
		v.ValueText = "-"
	}
	v.DetailView = detailView(n, lang, w)
	switch {
	case v.Reason == "lag_seconds" && v.HasThreshold:
		v.ThresholdText = humanSeconds(v.Threshold, lang)
	case v.Reason == "stalled":
		// A stall has no threshold; SMS variables still say why.
		v.ThresholdText = map[string]string{"zh": "停滞", "en": "stall"}[lang]
	}
	v.ThresholdLabel = thresholdLabel(v, lang, w)
	switch {
	case v.NoData:
		v.LevelText = w.NoData
	case v.Gone:
		v.LevelText = w.Gone
	case v.Resolved:
		v.LevelText = w.Resolved
	case v.Level == "critical":
		v.LevelText = w.Critical
	default:
		v.LevelText = w.Warning
	}
	id, iname := tags["instance_id"], tags["instance_name"]
	switch {
	case id != "" && iname != "":
		v.Instance = iname + "(" + id + ")"
	case id != "":
		v.Instance = id
	default:
		v.Instance = iname
	}
	v.InstanceName = iname
	if v.InstanceName == "" {
		v.InstanceName = id
	}
	v.Subject = subject(v, name, tagList, lang)
	if n.Alert.Unknown != nil && !v.Resolved {
		v.Unknown = unknownText(*n.Alert.Unknown, lang, loc, n.At)
	}
	if c := n.Alert.Details.Collector; c != nil {
		collectorView(&v, *c, tagList, lang, loc, n.At)
	}
	return v
}

func subject(v AlertView, name string, tags []alert.Tag, lang string) string {
	if v.Group == "" && v.Topic == "" && v.Instance == "" {
		parts := []string{name}
		for _, t := range tags {
			parts = append(parts, t.Key+"="+t.Value)
		}
		return strings.Join(parts, " ")
	}
	var parts []string
	add := func(zh, en, value string) {
		if value == "" {
			return
		}
		if lang == "zh" {
			parts = append(parts, zh+" "+value)
		} else {
			parts = append(parts, en+" "+value)
		}
	}
	add("实例", "instance", v.Instance)
	add("消费组", "group", v.Group)
	add("Topic", "topic", v.Topic)
	return strings.Join(parts, " ")
}

func roundDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(time.Second).String()
	default:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
}

// SampleData is what user templates are checked against at start.
func SampleData(lang string, now time.Time) *TemplateData {
	return Builder{Lang: lang}.Sample(now)
}

// Sample is what -test-notify sends.
func (b Builder) Sample(now time.Time) *TemplateData {
	b.StaleAfter = 10 * time.Minute
	d := b.Build([]alert.Notification{{
		Kind: alert.KindFiring,
		At:   now,
		Alert: alert.Alert{
			Key:          "ckafka_lag,group=test-group,instance_id=ckafka-test,instance_name=test,region=ap-guangzhou,topic=test-topic",
			Level:        alert.LevelCritical,
			Value:        2500,
			HasValue:     true,
			Threshold:    2000,
			HasThreshold: true,
			StartedAt:    now,
		},
	}})
	d.Test = true
	d.Title = titleOf(d)
	return d
}
