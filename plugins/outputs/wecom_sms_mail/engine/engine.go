// Package engine is the output's alerting engine: observations → alert
// state → dispatcher, the clock of reminders and staleness, the state file
// and its delivery journal, claims and the links that acted. It knows
// nothing of the HA pair: it asks a Member whether it may act and tells it
// what it saved and delivered, as Alertmanager's pipeline asks its
// cluster. Standalone is the member of an output without a pair.
package engine

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"text/template"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/health"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/alertmanager"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/silence"
)

// ChartPoints bounds each firing alert's chart history (older points are
// thinned): 120 points of 56 bytes, under 7 KB an alert.
const ChartPoints = 120

// Config is what the engine takes of the output's configuration, parsed.
type Config struct {
	Lang           string
	LevelKey       string
	ValueField     string
	KeyExcludeTags []string
	GroupWait      time.Duration
	Repeat         time.Duration // repeat_interval; 0: no reminders
	SendResolved   bool
	StaleAfter     time.Duration
	Timeout        time.Duration
	MaxRetries     int
	RetryBase      time.Duration
	ChartWindow    time.Duration
	// Collector health (package health).
	CollectFailingAfter  int
	CollectorSilentAfter time.Duration
	// StateFile, when set, keeps the state and its delivery journal
	// (StateFile + ".journal").
	StateFile string
	Dashboard *template.Template
	Location  *time.Location
	Charts    *render.Charts
	Channels  []notify.Channel
	// Routes picks each alert's destinations and their quiet hours.
	Routes Routes
	// Silences is the silence file's cache; nil: nothing is silenced.
	Silences *silence.Store
	// Alertmanager, when set, hears of every alert besides the channels.
	Alertmanager *alertmanager.Client
	// Links gives a firing alert's action links for a destination; nil:
	// messages carry none.
	Links notify.Linker
	// OnCall is the rosters and escalations; nil: none.
	OnCall *OnCall
}

// Routes is where alerts go (the default route and [[route]]s).
type Routes interface {
	notify.Router
	// Defaults are the destinations of an alert no route matches.
	Defaults() []string
}

// Member is the engine's place in an HA pair (package cluster).
type Member interface {
	// Acting reports whether this member delivers (active, or stand-alone
	// after a fallback). A member that does not keeps what it receives
	// (Keep) and saves nothing.
	Acting() bool
	// MayDeliver is asked before each delivery attempt: the fence.
	MayDeliver() bool
	// Keep takes an input received while not acting; the engine's lock
	// is held.
	Keep(in Input, at time.Time)
	// Saved is told of each state the engine saved; mark is DeliveryMark
	// taken before the snapshot.
	Saved(state []byte, at time.Time, mark uint64)
	// Delivered is told of each accepted delivery.
	Delivered(d notify.Delivered)
	DeliveryMark() uint64
	// Records reports whether the member, not the journal, makes a
	// delivery durable (and logs it as recorded).
	Records() bool
}

// Standalone is the member of an output without an HA pair: it always
// acts and replicates nothing.
type Standalone struct{}

func (Standalone) Acting() bool                    { return true }
func (Standalone) MayDeliver() bool                { return true }
func (Standalone) Keep(Input, time.Time)           {}
func (Standalone) Saved([]byte, time.Time, uint64) {}
func (Standalone) Delivered(notify.Delivered)      {}
func (Standalone) DeliveryMark() uint64            { return 0 }
func (Standalone) Records() bool                   { return false }

func isStandalone(m Member) bool { _, ok := m.(Standalone); return ok }

// Stats count what Write saw.
type Stats struct {
	Metrics   int64
	Unleveled int64
	BadLevel  int64
}

// Engine is the alerting engine of one output.
type Engine struct {
	cfg    Config
	log    telegraf.Logger
	member Member

	mu         sync.Mutex // guards what follows to usedLinks
	observer   *observer
	alerts     *alert.Alerts
	health     *health.Tracker
	dispatcher *notify.Dispatcher
	unleveled  map[string]bool
	badLevel   map[string]bool
	usedLinks  map[string]UsedLink // by link ID
	stats      Stats

	journal *journal // nil without a state file
	dirty   atomic.Bool
	saveMu  sync.Mutex

	// runCtx is the context the engine runs in (set by Run and Resume),
	// for calls a callback asks for; steps counts the escalation steps
	// being placed.
	runCtx context.Context
	steps  sync.WaitGroup
}

// New builds an engine, empty, with the member it belongs to (Standalone
// without a pair).
func New(cfg Config, member Member, log telegraf.Logger) *Engine {
	e := &Engine{cfg: cfg, log: log, member: member, observer: newObserver(cfg.LevelKey, cfg.ValueField, cfg.KeyExcludeTags),
		unleveled: map[string]bool{}, badLevel: map[string]bool{}, usedLinks: map[string]UsedLink{}}
	if cfg.StateFile != "" {
		e.journal = &journal{path: cfg.StateFile + ".journal", log: log, replicated: member.Records()}
	}
	e.reset()
	return e
}

// reset empties the alert state, the collector tracker and the dispatcher;
// e.mu is held or nothing runs yet.
func (e *Engine) reset() {
	c := e.cfg
	e.health = health.New(health.Policy{FailingAfter: c.CollectFailingAfter, SilentAfter: c.CollectorSilentAfter})
	e.alerts = alert.NewAlerts(alert.Policy{StaleAfter: c.StaleAfter,
		History: alert.History{Window: c.ChartWindow, Max: ChartPoints}})
	var fence notify.Fence
	if !isStandalone(e.member) {
		fence = e.member
	}
	var silencer notify.Silencer
	if c.Silences != nil {
		silencer = c.Silences
	}
	e.dispatcher = notify.New(c.Channels, e.log, notify.Options{
		Lang:         c.Lang,
		Dashboard:    c.Dashboard,
		GroupWait:    c.GroupWait,
		StaleAfter:   c.StaleAfter,
		Repeat:       c.Repeat,
		SendResolved: c.SendResolved,
		MaxRetries:   c.MaxRetries,
		RetryBase:    c.RetryBase,
		Timeout:      c.Timeout,
		Router:       c.Routes,
		Silencer:     silencer,
		Charts:       c.Charts,
		Location:     c.Location,
		Recorder:     recorder{e},
		Fence:        fence,
		Linker:       c.Links,
		Mentioner:    mentionerOf(c.OnCall),
	})
	if c.OnCall != nil {
		c.OnCall.Book.Restore(nil)
	}
}

// Builder builds every message's data: deliveries, -preview, -test-notify,
// the page and the notices.
func (e *Engine) Builder() render.Builder {
	return render.Builder{Lang: e.cfg.Lang, StaleAfter: e.cfg.StaleAfter, Location: e.cfg.Location}
}

// Acting reports whether this engine delivers (see Member).
func (e *Engine) Acting() bool { return e.member.Acting() }

// recorder is the engine as its dispatcher's notify.Recorder: the
// methods stay unexported on Engine, which the dispatcher alone calls.
type recorder struct{ e *Engine }

func (r recorder) Changed(urgent bool)                      { r.e.changed(urgent) }
func (r recorder) Delivered(d notify.Delivered)             { r.e.delivered(d) }
func (r recorder) History(key string) ([]alert.Point, bool) { return r.e.history(key) }

// delivered is the dispatcher's hook for each accepted delivery.
func (e *Engine) delivered(r notify.Delivered) {
	if e.journal != nil {
		e.journal.append(r)
	}
	e.member.Delivered(r)
}

// history is a firing alert's chart history as it is now.
func (e *Engine) history(key string) ([]alert.Point, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.alerts.History(key)
}

// Input is what one metric tells the engine: an alert's observation or a
// collector's report (ckafka_lag_gather).
type Input struct {
	Obs    alert.Observation
	Gather *health.Gather
}

// Write applies metrics at now; it never waits on the network. While the
// member does not act, each is handed to it instead.
func (e *Engine) Write(metrics []telegraf.Metric, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range metrics {
		e.stats.Metrics++
		if !e.member.Acting() {
			if in, ok := e.parse(m); ok {
				e.member.Keep(in, now)
			}
			continue
		}
		if m.Name() == health.Measurement {
			for _, obs := range e.health.Observe(gatherOf(m), now) {
				e.observe(obs, now)
			}
			continue
		}
		obs, ok, err := e.observer.observe(m)
		if err != nil {
			e.stats.BadLevel++
			if !e.badLevel[m.Name()] {
				e.badLevel[m.Name()] = true
				e.log.Errorf("Skipping metric: %v (logged once per measurement)", err)
			}
			continue
		}
		if !ok {
			e.stats.Unleveled++
			if !e.unleveled[m.Name()] {
				e.unleveled[m.Name()] = true
				e.log.Infof("Ignoring measurement %q: it has no %q tag or field (logged once)", m.Name(), e.cfg.LevelKey)
			}
			continue
		}
		e.observe(obs, now)
	}
}

// parse reads a metric as an input, quietly: a standby logs nothing of
// what it only keeps.
func (e *Engine) parse(m telegraf.Metric) (Input, bool) {
	if m.Name() == health.Measurement {
		g := gatherOf(m)
		return Input{Gather: &g}, true
	}
	obs, ok, err := e.observer.observe(m)
	return Input{Obs: obs}, err == nil && ok
}

// Observation reads a metric's observation (for -preview).
func (e *Engine) Observation(m telegraf.Metric) (alert.Observation, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	obs, ok, err := e.observer.observe(m)
	return obs, err == nil && ok
}

// observe applies one observation and queues the notification it makes
// due; e.mu is held.
func (e *Engine) observe(obs alert.Observation, now time.Time) {
	if n, due := e.alerts.Observe(obs, now); due {
		e.dispatcher.Add(n)
		if n.Resolved() && e.cfg.Alertmanager != nil {
			e.cfg.Alertmanager.Resolve(n)
		}
	}
}

// Run starts the dispatcher's workers until ctx ends.
func (e *Engine) Run(ctx context.Context, wg *sync.WaitGroup) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.runCtx = ctx
	e.dispatcher.Run(ctx, wg)
}

// Tick is the engine's clock, on an acting member: reminders, staleness
// and collector silence, Alertmanager's sync, and the save of a changed
// state.
func (e *Engine) Tick(ctx context.Context, now time.Time) {
	e.mu.Lock()
	if !e.member.Acting() {
		e.mu.Unlock()
		return
	}
	d := e.dispatcher
	for _, obs := range e.health.Tick(now) {
		e.observe(obs, now)
	}
	stale := e.alerts.Tick(now, e.health.Judge)
	firing := e.alerts.Snapshot()
	e.mu.Unlock()
	d.Add(stale...)
	d.Remind(firing, now)
	e.escalate(ctx, firing, now)
	if am := e.cfg.Alertmanager; am != nil {
		for _, n := range stale {
			am.Resolve(n)
		}
		am.Sync(ctx, firing, now)
	}
	if e.dirty.Load() {
		e.Save()
	}
}

// Healthy reports whether a collector reports cleanly (the heartbeat's
// condition).
func (e *Engine) Healthy(now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.health.Healthy(now)
}

// Drain sends what is pending, waiting until deadline at most, and reports
// whether nothing is left.
func (e *Engine) Drain(deadline time.Time) bool {
	e.mu.Lock()
	d := e.dispatcher
	e.mu.Unlock()
	d.Flush()
	for !d.Idle() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	return d.Idle()
}

// Idle reports whether nothing is queued or in flight.
func (e *Engine) Idle() bool {
	e.mu.Lock()
	d := e.dispatcher
	e.mu.Unlock()
	return d.Idle()
}

// SyncAlertmanager sends Alertmanager the firing alerts and the ends it is
// owed (at exit, so that firing ones do not time out there).
func (e *Engine) SyncAlertmanager(ctx context.Context, now time.Time) {
	if e.cfg.Alertmanager == nil {
		return
	}
	e.mu.Lock()
	firing := e.alerts.Snapshot()
	e.mu.Unlock()
	e.cfg.Alertmanager.Sync(ctx, firing, now)
}

// Stats returns what Write saw.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// Firing returns the firing alerts.
func (e *Engine) Firing() []alert.Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.alerts.Snapshot()
}

// Alert returns one firing alert.
func (e *Engine) Alert(key string) (alert.Alert, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.alerts.Get(key)
}

// Claim records that by took the alert key (of the episode since) and
// queues the notice.
func (e *Engine) Claim(key string, since int64, by string, now time.Time) error {
	return e.claim(key, since, by, "", now)
}

func (e *Engine) claim(key string, since int64, by, via string, now time.Time) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	n, err := e.alerts.ClaimVia(key, since, by, via, now)
	if err != nil {
		return err
	}
	e.dispatcher.Add(n)
	e.dirty.Store(true)
	return nil
}

// Notice tells the default destinations that carry free text, once, text
// with the firing alerts' counts (the HA pair's takeover notice). A failed
// attempt is retried a few times; it ends when mayDeliver says no.
func (e *Engine) Notice(ctx context.Context, text string, mayDeliver func() bool) {
	now := time.Now()
	firing := e.Firing()
	notes := make([]alert.Notification, len(firing))
	for i, a := range firing {
		notes[i] = alert.Notification{Kind: alert.KindRepeat, Alert: a, At: now}
	}
	data := e.Builder().Notice(text, notes)
	defaults := e.cfg.Routes.Defaults()
	for _, ch := range e.cfg.Channels {
		if !slices.Contains(defaults, ch.ID()) || !slices.Contains(noticeKinds, ch.Kind()) {
			continue
		}
		var err error
		for attempt := 0; attempt < 3; attempt++ {
			if !mayDeliver() || ctx.Err() != nil {
				return
			}
			if err = notify.Try(ctx, ch, data, e.cfg.Timeout); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(e.cfg.RetryBase << attempt):
			}
		}
		if err != nil {
			e.log.Errorf("Cluster: announcing the takeover on %s: %v", ch.ID(), err)
		}
	}
}

// noticeKinds are the channels a notice goes to: those that carry free
// text. SMS templates are fixed, and webhooks and Alertmanager take
// alerts, not news about the alerting.
var noticeKinds = []string{"wecom", "email", "dingtalk", "feishu"}

// DispatchState is the dispatcher's state as the state file saves it.
func (e *Engine) DispatchState() notify.State {
	e.mu.Lock()
	d := e.dispatcher
	e.mu.Unlock()
	return d.Snapshot()
}
