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
	"text/template"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/outputs"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/cluster"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/engine"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/heartbeat"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/alertmanager"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/dingtalk"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/email"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/feishu"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/sms"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/voice"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/webhook"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/wecom"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/oncall"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/silence"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/web"
)

//go:embed sample.conf
var sampleConfig string

// closeBudget bounds Close: Telegraf kills an execd output 5 s after
// closing its stdin, so everything pending is sent or saved before that.
const closeBudget = 3 * time.Second

// WeComSMSMail is the wecom_sms_mail output: its configuration and the
// parts Init wires from it.
type WeComSMSMail struct {
	Config
	Log telegraf.Logger `toml:"-"`
	// TestCall makes -test-notify place one call (-call).
	TestCall bool `toml:"-"`

	// retryBase is the first backoff step; tests shorten it.
	retryBase time.Duration
	// tickEvery is how often reminders and staleness are checked.
	tickEvery time.Duration

	// Built by Init from the configuration above.
	parts  *parts
	engine *engine.Engine
	member *cluster.Member // nil without [outputs.wecom_sms_mail.cluster]
	web    *web.Server     // nil without [outputs.wecom_sms_mail.web] listen

	closeMu sync.Mutex
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// parts are what Init builds from the configuration besides the engine:
// the destinations and what renders and serves messages.
type parts struct {
	channels  []notify.Channel
	am        *alertmanager.Client
	beat      *heartbeat.Sender
	dests     *destinations
	silences  *silence.Store // nil without a silence file
	tpls      *render.Templates
	dashboard *template.Template
	charts    *render.Charts
	location  *time.Location
	voice     *voice.Channel // nil without [outputs.wecom_sms_mail.voice]
	oncall    *engine.OnCall // nil without rosters or escalations
	overrides *oncall.Store  // nil without a silence file
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
	pt := &parts{}
	p.parts = pt
	if pt.tpls, err = render.Load(p.Language); err != nil {
		return err
	}
	if pt.dashboard, err = render.ParseDashboardURL(p.DashboardURL); err != nil {
		return err
	}
	timeout := time.Duration(p.Timeout)
	if p.WeCom != nil {
		setDefault(&p.WeCom.MsgType, "markdown")
		setDefault(&p.WeCom.MinLevel, "warning")
		robots, err := wecom.New(p.WeCom, pt.tpls, p.Language, &http.Client{Timeout: timeout})
		if err != nil {
			return err
		}
		pt.channels = append(pt.channels, robots...)
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
		pt.channels = append(pt.channels, ch)
	}
	if pt.voice, err = p.initVoice(timeout); err != nil {
		return err
	}
	if pt.voice != nil && len(p.Voice.PhoneNumbers) > 0 {
		pt.channels = append(pt.channels, pt.voice)
	}
	if p.Email != nil {
		if p.Email.SMTPPort == 0 {
			p.Email.SMTPPort = 465
		}
		setDefault(&p.Email.TLSMode, "auto")
		setDefault(&p.Email.Auth, "auto")
		setDefault(&p.Email.MinLevel, "warning")
		ch, err := email.New(p.Email, pt.tpls, p.Language, timeout)
		if err != nil {
			return err
		}
		pt.channels = append(pt.channels, ch)
	}
	httpClient := &http.Client{Timeout: timeout}
	if p.DingTalk != nil {
		robots, err := dingtalk.New(p.DingTalk, pt.tpls, p.Language, httpClient)
		if err != nil {
			return err
		}
		pt.channels = append(pt.channels, robots...)
	}
	if p.Feishu != nil {
		bots, err := feishu.New(p.Feishu, pt.tpls, p.Language, httpClient)
		if err != nil {
			return err
		}
		pt.channels = append(pt.channels, bots...)
	}
	if p.Webhook != nil {
		receivers, err := webhook.New(p.Webhook, pt.tpls, httpClient)
		if err != nil {
			return err
		}
		pt.channels = append(pt.channels, receivers...)
	}
	if p.Alertmanager != nil {
		if pt.am, err = alertmanager.New(p.Alertmanager, pt.tpls, p.Language, httpClient, p.Log); err != nil {
			return err
		}
	}
	if len(pt.channels) == 0 && pt.am == nil {
		return errors.New("no channel configured: add [outputs.wecom_sms_mail.wecom], .sms, .voice (with phone_numbers), .email, .dingtalk, .feishu, .webhook or .alertmanager")
	}
	if pt.dests, err = p.buildRoutes(pt.channels, timeout); err != nil {
		return err
	}
	pt.channels = pt.dests.channels
	if pt.oncall, err = p.initOnCall(pt.channels, pt.dests.Defaults(), pt.voice); err != nil {
		return err
	}
	if path, err := p.SilencePath(); err == nil {
		pt.silences = silence.NewStore(path, p.Log)
	}
	if p.retryBase == 0 {
		p.retryBase = time.Second
	}
	if p.tickEvery == 0 {
		p.tickEvery = time.Second
	}
	if p.Heartbeat != nil {
		if pt.beat, err = heartbeat.New(p.Heartbeat, httpClient, p.Log); err != nil {
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
	pt.charts, pt.location = charts, loc
	var member engine.Member = engine.Standalone{}
	p.member = nil
	if p.Cluster != nil {
		if p.member, err = cluster.NewMember(p.Cluster, p.Language, p.StateFile, pt.silences, p.Log); err != nil {
			return err
		}
		member = p.member
	}
	if err := p.initWeb(); err != nil {
		return err
	}
	var links notify.Linker
	if p.web != nil {
		links = actionLinks{p.web}
	}
	p.engine = engine.New(engine.Config{
		Lang:                 p.Language,
		LevelKey:             p.LevelKey,
		ValueField:           p.ValueField,
		KeyExcludeTags:       p.KeyExcludeTags,
		GroupWait:            time.Duration(p.GroupWait),
		Repeat:               time.Duration(p.RepeatInterval),
		SendResolved:         p.SendResolved,
		StaleAfter:           time.Duration(p.StaleAfter),
		Timeout:              timeout,
		MaxRetries:           p.MaxRetries,
		RetryBase:            p.retryBase,
		ChartWindow:          time.Duration(p.ChartWindow),
		CollectFailingAfter:  p.CollectFailingAfter,
		CollectorSilentAfter: time.Duration(p.CollectorSilentAfter),
		StateFile:            p.StateFile,
		Dashboard:            pt.dashboard,
		Location:             loc,
		Charts:               charts,
		Channels:             pt.channels,
		Routes:               pt.dests,
		Silences:             pt.silences,
		Alertmanager:         pt.am,
		Links:                links,
		OnCall:               pt.oncall,
	}, member, p.Log)
	if p.member != nil && pt.oncall != nil {
		path, _ := p.OverridePath()
		p.member.SetOnCall(pt.overrides, path, func(callID, result string) {
			if err := p.engine.ApplyCallResult(callID, result, time.Now()); err != nil && !errors.Is(err, oncall.ErrUnknownCall) {
				p.Log.Warnf("Escalation: call %s (from the standby): %v", callID, err)
			}
		})
	}
	return nil
}

func setDefault(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

// Connect restores the state file (or, in an HA pair, joins it) and starts
// the workers.
func (p *WeComSMSMail) Connect() error {
	now := time.Now()
	if p.member == nil {
		if err := p.engine.RestoreFile(now); err != nil {
			return err
		}
	}
	if p.parts.silences == nil {
		p.Log.Info("Silences are off: set silence_file or state_file to use wecom_sms_mail -silence")
	}
	p.parts.silences.Refresh(now)
	if p.web != nil {
		if err := p.web.Start(); err != nil {
			return err
		}
		p.Log.Infof("Alert page and links: %s (listening on %s)", p.Web.ExternalURL, p.Web.Listen)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	if p.member == nil {
		p.engine.Run(ctx, &p.wg)
	} else if err := p.member.Begin(ctx, &p.wg, p.engine); err != nil {
		cancel()
		return err
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.tickLoop(ctx)
	}()
	if p.parts.beat != nil || p.parts.am != nil {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.heartbeatLoop(ctx)
		}()
	}
	return nil
}

// tickLoop is the output's clock: silences re-read, the HA pair's sync,
// then the engine's reminders, staleness and saves.
func (p *WeComSMSMail) tickLoop(ctx context.Context) {
	t := time.NewTicker(p.tickEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			p.parts.silences.Refresh(now)
			p.parts.overrides.Refresh(now)
			if p.member != nil {
				p.member.Tick(ctx, now)
			}
			p.engine.Tick(ctx, now)
		}
	}
}

// Write hands metrics to the engine; it never waits on the network.
func (p *WeComSMSMail) Write(metrics []telegraf.Metric) error {
	p.engine.Write(metrics, time.Now())
	return nil
}

// Close sends what is pending within the close budget and saves the rest.
// It is safe to call more than once and from a signal handler.
func (p *WeComSMSMail) Close() error {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	if p.cancel == nil {
		return nil
	}
	e := p.engine
	acting := e.Acting()
	if acting {
		e.Drain(time.Now().Add(closeBudget))
	}
	p.cancel()
	p.cancel = nil
	p.wg.Wait()
	e.WaitSteps()
	// Ends owed to Alertmanager go now; firing ones would time out there.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	e.SyncAlertmanager(ctx, time.Now())
	cancel()
	e.Save()
	if p.web != nil {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = p.web.Shutdown(sctx)
		cancel()
	}
	if p.member != nil {
		p.member.Close()
	}
	if acting && !e.Idle() {
		if p.StateFile != "" {
			p.Log.Warnf("Undelivered messages saved to %s; they are sent after the restart", p.StateFile)
		} else {
			p.Log.Error("Undelivered messages are lost at exit: set state_file to keep them")
		}
	}
	st := e.Stats()
	p.Log.Debugf("Closed: %d metrics seen, %d without level, %d with a bad level", st.Metrics, st.Unleveled, st.BadLevel)
	return nil
}

// New returns the plugin with its defaults.
func New() *WeComSMSMail {
	return &WeComSMSMail{Config: Config{
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
	}}
}

func init() {
	outputs.Add("wecom_sms_mail", func() telegraf.Output { return New() })
}
