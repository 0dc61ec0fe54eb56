// Package wecom_sms_mail turns metrics flagged with an alert level into
// alerts (dedup, grouping, reminders, resolution) and delivers them to
// WeCom, DingTalk and Feishu robots, Tencent Cloud SMS, email, webhooks and
// Alertmanager; it also watches the collectors (see package health).
package wecom_sms_mail

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"text/template"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/outputs"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/cluster"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/health"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/heartbeat"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/alertmanager"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/dingtalk"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/email"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/feishu"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/sms"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/webhook"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/wecom"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/route"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/web"
)

//go:embed sample.conf
var sampleConfig string

// chartPoints bounds each firing alert's chart history (older points are
// thinned): 120 points of 56 bytes, under 7 KB an alert.
const chartPoints = 120

// closeBudget bounds Close: Telegraf kills an execd output 5 s after
// closing its stdin, so everything pending is sent or saved before that.
const closeBudget = 3 * time.Second

// WeComSMSMail is the wecom_sms_mail output.
type WeComSMSMail struct {
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
	Log                  telegraf.Logger      `toml:"-"`

	// retryBase is the first backoff step; tests shorten it.
	retryBase time.Duration
	// tickEvery is how often reminders and staleness are checked.
	tickEvery time.Duration

	channels   []notify.Channel
	am         *alertmanager.Client
	dashboard  *template.Template
	charts     *render.Charts
	location   *time.Location
	pair       *pair       // nil without [outputs.wecom_sms_mail.cluster]
	web        *web.Server // nil without [outputs.wecom_sms_mail.web] listen
	dests      *destinations
	silences   *silenceStore
	tpls       *render.Templates
	dispatcher *notify.Dispatcher

	mu        sync.Mutex // guards observer, alerts, collectors and the counters
	observer  *observer
	alerts    *alert.Alerts
	health    *health.Tracker
	beat      *heartbeat.Sender
	unleveled map[string]bool
	badLevel  map[string]bool
	usedLinks map[string]usedLink // by link ID
	stats     Stats

	journal *journal // nil without a state file
	dirty   atomic.Bool
	saveMu  sync.Mutex
	closeMu sync.Mutex
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// Stats count what Write saw.
type Stats struct {
	Metrics   int64
	Unleveled int64
	BadLevel  int64
}

func (*WeComSMSMail) SampleConfig() string { return sampleConfig }

// Init validates the configuration, so that every mistake stops the binary
// at start with the key's name.
func (p *WeComSMSMail) Init() error {
	switch {
	case p.LevelKey == "":
		return errors.New("level_key must not be empty")
	case p.ValueField == "":
		return errors.New("value_field must not be empty")
	case p.GroupWait < 0:
		return errors.New("group_wait must not be negative")
	case p.RepeatInterval < 0:
		return errors.New("repeat_interval must not be negative (0 disables reminders)")
	case p.StaleAfter < 0:
		return errors.New("stale_after must not be negative (0 disables)")
	case p.Timeout <= 0:
		return errors.New("timeout must be positive")
	case p.MaxRetries < 0:
		return errors.New("max_retries must not be negative")
	case p.CollectFailingAfter < 1:
		return fmt.Errorf("collect_failing_after must be at least 1, got %d", p.CollectFailingAfter)
	case p.CollectorSilentAfter < 0:
		return errors.New("collector_silent_after must not be negative (0 learns it: 3 × the collection interval)")
	}
	if p.Language != "zh" && p.Language != "en" {
		return fmt.Errorf("language: %q is not zh or en", p.Language)
	}
	var err error
	if p.tpls, err = render.Load(p.Language); err != nil {
		return err
	}
	dashboard, err := render.ParseDashboardURL(p.DashboardURL)
	p.dashboard = dashboard
	if err != nil {
		return err
	}
	timeout := time.Duration(p.Timeout)
	p.channels = nil
	if p.WeCom != nil {
		setDefault(&p.WeCom.MsgType, "markdown")
		setDefault(&p.WeCom.MinLevel, "warning")
		robots, err := wecom.New(p.WeCom, p.tpls, p.Language, &http.Client{Timeout: timeout})
		if err != nil {
			return err
		}
		p.channels = append(p.channels, robots...)
	}
	if p.SMS != nil {
		setDefault(&p.SMS.Region, "ap-guangzhou")
		setDefault(&p.SMS.Endpoint, "sms.tencentcloudapi.com")
		setDefault(&p.SMS.MinLevel, "critical")
		if p.SMS.ParamMaxLength == 0 {
			p.SMS.ParamMaxLength = 6
		}
		ch, err := sms.New(p.SMS, p.Language, timeout)
		if err != nil {
			return err
		}
		p.channels = append(p.channels, ch)
	}
	if p.Email != nil {
		if p.Email.SMTPPort == 0 {
			p.Email.SMTPPort = 465
		}
		setDefault(&p.Email.TLSMode, "auto")
		setDefault(&p.Email.Auth, "auto")
		setDefault(&p.Email.MinLevel, "warning")
		ch, err := email.New(p.Email, p.tpls, p.Language, timeout)
		if err != nil {
			return err
		}
		p.channels = append(p.channels, ch)
	}
	httpClient := &http.Client{Timeout: timeout}
	if p.DingTalk != nil {
		robots, err := dingtalk.New(p.DingTalk, p.tpls, p.Language, httpClient)
		if err != nil {
			return err
		}
		p.channels = append(p.channels, robots...)
	}
	if p.Feishu != nil {
		bots, err := feishu.New(p.Feishu, p.tpls, p.Language, httpClient)
		if err != nil {
			return err
		}
		p.channels = append(p.channels, bots...)
	}
	if p.Webhook != nil {
		receivers, err := webhook.New(p.Webhook, p.tpls, httpClient)
		if err != nil {
			return err
		}
		p.channels = append(p.channels, receivers...)
	}
	p.am = nil
	if p.Alertmanager != nil {
		if p.am, err = alertmanager.New(p.Alertmanager, p.tpls, p.Language, httpClient, p.Log); err != nil {
			return err
		}
	}
	if len(p.channels) == 0 && p.am == nil {
		return errors.New("no channel configured: add [outputs.wecom_sms_mail.wecom], .sms, .email, .dingtalk, .feishu, .webhook or .alertmanager")
	}
	if p.dests, err = p.buildRoutes(p.channels, timeout); err != nil {
		return err
	}
	p.channels = p.dests.channels
	if path, err := p.SilencePath(); err == nil {
		p.silences = &silenceStore{path: path, log: p.Log}
	}
	if p.retryBase == 0 {
		p.retryBase = time.Second
	}
	if p.tickEvery == 0 {
		p.tickEvery = time.Second
	}
	p.observer = newObserver(p.LevelKey, p.ValueField, p.KeyExcludeTags)
	p.beat = nil
	if p.Heartbeat != nil {
		if p.beat, err = heartbeat.New(p.Heartbeat, httpClient, p.Log); err != nil {
			return err
		}
	}
	loc := time.Local
	if p.Timezone != "" && p.Timezone != "Local" {
		if loc, err = time.LoadLocation(p.Timezone); err != nil {
			return fmt.Errorf("timezone: %q: %w", p.Timezone, err)
		}
	}
	charts, err := render.NewCharts(p.ChartFont, loc)
	if err != nil {
		return err
	}
	p.charts = charts
	p.unleveled = map[string]bool{}
	p.badLevel = map[string]bool{}
	p.location = loc
	if p.pair, err = newPair(p); err != nil {
		return err
	}
	p.usedLinks = map[string]usedLink{}
	if err := p.initWeb(); err != nil {
		return err
	}
	p.newEngine()
	if p.StateFile != "" {
		p.journal = &journal{path: p.StateFile + ".journal", log: p.Log, replicated: p.pair != nil}
	}
	return nil
}

// delivered is the dispatcher's hook for each accepted delivery.
func (p *WeComSMSMail) delivered(r notify.Delivered) {
	if p.journal != nil {
		p.journal.append(r)
	}
	if p.pair != nil {
		p.pair.appendDelivery(r)
	}
}

// history is a firing alert's chart history as it is now.
func (p *WeComSMSMail) history(key string) ([]alert.Point, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.alerts.History(key)
}

// silenced is the dispatcher's Silenced; without a silence file nothing is.
func (p *WeComSMSMail) silenced(a alert.Alert, now time.Time) bool {
	return p.silences != nil && p.silences.silenced(a, now)
}

func setDefault(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

// Connect restores the state file and starts the workers.
func (p *WeComSMSMail) Connect() error {
	now := time.Now()
	if p.pair == nil {
		if err := p.restoreFile(now); err != nil {
			return err
		}
	}
	if p.silences == nil {
		p.Log.Info("Silences are off: set silence_file or state_file to use wecom_sms_mail -silence")
	}
	p.silences.refresh(now)
	if p.web != nil {
		if err := p.web.Start(); err != nil {
			return err
		}
		p.Log.Infof("Alert page and links: %s (listening on %s)", p.Web.ExternalURL, p.Web.Listen)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	if p.pair == nil {
		p.dispatcher.Run(ctx, &p.wg)
	} else if err := p.pair.begin(ctx, &p.wg); err != nil {
		cancel()
		return err
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.tickLoop(ctx)
	}()
	if p.beat != nil || p.am != nil {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.heartbeatLoop(ctx)
		}()
	}
	return nil
}

// Write hands metrics to the alert state; it never waits on the network.
func (p *WeComSMSMail) Write(metrics []telegraf.Metric) error {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range metrics {
		p.stats.Metrics++
		if p.pair != nil && !p.pair.acting() {
			p.standBy(m, now)
			continue
		}
		if m.Name() == health.Measurement {
			for _, obs := range p.health.Observe(gatherOf(m), now) {
				p.observe(obs, now)
			}
			continue
		}
		obs, ok, err := p.observer.observe(m)
		if err != nil {
			p.stats.BadLevel++
			if !p.badLevel[m.Name()] {
				p.badLevel[m.Name()] = true
				p.Log.Errorf("Skipping metric: %v (logged once per measurement)", err)
			}
			continue
		}
		if !ok {
			p.stats.Unleveled++
			if !p.unleveled[m.Name()] {
				p.unleveled[m.Name()] = true
				p.Log.Infof("Ignoring measurement %q: it has no %q tag or field (logged once)", m.Name(), p.LevelKey)
			}
			continue
		}
		p.observe(obs, now)
	}
	return nil
}

// observe applies one observation and queues the notification it makes
// due; p.mu is held.
func (p *WeComSMSMail) observe(obs alert.Observation, now time.Time) {
	if n, due := p.alerts.Observe(obs, now); due {
		p.dispatcher.Add(n)
		if n.Resolved() && p.am != nil {
			p.am.Resolve(n)
		}
	}
}

// Close sends what is pending within the close budget and saves the rest.
// It is safe to call more than once and from a signal handler.
func (p *WeComSMSMail) Close() error {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	if p.cancel == nil {
		return nil
	}
	p.mu.Lock()
	d := p.dispatcher
	p.mu.Unlock()
	acting := p.pair == nil || p.pair.acting()
	if acting {
		d.Flush()
	}
	deadline := time.Now().Add(closeBudget)
	for acting && !d.Idle() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	p.cancel()
	p.cancel = nil
	p.wg.Wait()
	if p.am != nil {
		// Ends owed to Alertmanager go now; firing ones would time out there.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		p.mu.Lock()
		firing := p.alerts.Snapshot()
		p.mu.Unlock()
		p.am.Sync(ctx, firing, time.Now())
		cancel()
	}
	p.save()
	if p.web != nil {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = p.web.Shutdown(sctx)
		cancel()
	}
	if p.pair != nil {
		p.pair.close()
	}
	if acting && !d.Idle() {
		if p.StateFile != "" {
			p.Log.Warnf("Undelivered messages saved to %s; they are sent after the restart", p.StateFile)
		} else {
			p.Log.Error("Undelivered messages are lost at exit: set state_file to keep them")
		}
	}
	p.mu.Lock()
	st := p.stats
	p.mu.Unlock()
	p.Log.Debugf("Closed: %d metrics seen, %d without level, %d with a bad level", st.Metrics, st.Unleveled, st.BadLevel)
	return nil
}

// New returns the plugin with its defaults.
func New() *WeComSMSMail {
	return &WeComSMSMail{
		LevelKey:       "alert_level",
		ValueField:     "lag",
		KeyExcludeTags: []string{"host"},
		GroupWait:      config.Duration(10 * time.Second),
		RepeatInterval: config.Duration(time.Hour),
		SendResolved:   true,
		StaleAfter:     config.Duration(10 * time.Minute),
		Language:       "zh",
		Timeout:        config.Duration(10 * time.Second),
		MaxRetries:     5,
		ChartWindow:    config.Duration(time.Hour),
		// Two failing collections in a row: one may be a blip.
		CollectFailingAfter: 2,
	}
}

func init() {
	outputs.Add("wecom_sms_mail", func() telegraf.Output { return New() })
}
