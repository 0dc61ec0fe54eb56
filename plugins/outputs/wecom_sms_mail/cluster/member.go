package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/atomicfile"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/lease"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/engine"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/silence"
)

// The HA pair's member: which member delivers, and how a takeover picks up
// where the last active member stopped. The replicated log is log.go, the
// lease package lease; this file decides, and drives the engine through
// engine.Member: a takeover restores the engine from the log as a restart
// restores it from the state file.

// Roles of a member.
const (
	roleStandby int32 = iota // reads the log, delivers nothing
	roleActive               // holds the lease, delivers, appends to the log
	roleAlone                // fell back to stand-alone: delivers without a lease
)

// bufferMargin is how much earlier than the log's latest state a standby keeps the observations it received: a
// takeover replays those the last active member may not have saved.
const bufferMargin = time.Second

// Member is one member of the HA pair.
type Member struct {
	cfg       *Config
	log       telegraf.Logger
	opts      []kgo.Opt
	lang      string
	stateFile string         // "": none; a standby caches the log's state there
	silences  *silence.Store // nil: silences are off
	onCall    onCallSync     // zero: no on call

	engine *engine.Engine
	wg     *sync.WaitGroup
	lease  *lease.Lease
	clog   *Log
	start  time.Time

	role      atomic.Int32
	cancelRun context.CancelFunc // the active's dispatcher workers

	bufMu sync.Mutex
	// buffered are the inputs received while standing by, in order.
	buffered []engine.Kept

	mu       sync.Mutex // guards what follows
	holder   string     // the active member as last seen
	joinErr  string     // the join error last logged
	topicOK  bool
	cachedAt time.Time // the replica state last written to the state file
	failing  bool      // an append failed; logged once until one works
}

// NewMember checks the configuration and returns the member, not yet
// connected. lang is the takeover notice's; stateFile and silences are
// the output's (either may be unset).
func NewMember(cfg *Config, lang, stateFile string, silences *silence.Store, log telegraf.Logger) (*Member, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts, _, err := cfg.Opts("cluster.", time.Duration(cfg.SessionTimeout))
	if err != nil {
		return nil, err
	}
	return &Member{cfg: cfg, log: log, opts: opts, lang: lang, stateFile: stateFile, silences: silences}, nil
}

// connect creates the clients; only a running output joins the group (a
// -test-notify or -silence run must not move the lease).
func (m *Member) connect() error {
	var err error
	if m.clog, err = Open(m.opts, m.cfg.Topic, m.cfg.MemberName); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if m.lease, err = lease.Start(m.opts, lease.Config{Topic: m.cfg.Topic, Group: m.cfg.Group,
		Member: m.cfg.MemberName, Host: m.cfg.Host(), SessionTimeout: time.Duration(m.cfg.SessionTimeout)}); err != nil {
		m.clog.Close()
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// Status tells -test-notify whether the brokers answer, which member is
// active, and what would stop the group accepting this member or the
// lease working (a session timeout the brokers refuse, a topic with more
// partitions or without compaction), without joining the group.
func (m *Member) Status(ctx context.Context) (string, error) {
	client, err := kgo.NewClient(m.opts...)
	if err != nil {
		return "", err
	}
	defer client.Close()
	holder, err := lease.Holder(ctx, client, m.cfg.Group, m.cfg.Topic)
	if err != nil {
		return "", fmt.Errorf("cluster.brokers %v: %w", m.cfg.Brokers, err)
	}
	var problems []string
	if err := lease.CheckSessionTimeout(ctx, client, time.Duration(m.cfg.SessionTimeout), "cluster.session_timeout"); err != nil {
		problems = append(problems, err.Error())
	}
	_, warnings, err := lease.CheckTopic(ctx, client, m.cfg.Topic, "cluster.topic")
	if err != nil {
		problems = append(problems, err.Error())
	}
	problems = append(problems, warnings...)
	var result string
	switch holder.Name {
	case "":
		result = fmt.Sprintf("member %s; no member is active", m.cfg.MemberName)
	case m.cfg.MemberName:
		result = fmt.Sprintf("member %s is active", m.cfg.MemberName)
	default:
		result = fmt.Sprintf("member %s: standby (active: %s)", m.cfg.MemberName, holder.Name)
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("%s; %s", result, strings.Join(problems, "; "))
	}
	return result, nil
}

// Acting reports whether this member delivers: active or alone.
func (m *Member) Acting() bool { return m.role.Load() != roleStandby }

// MayDeliver is the dispatcher's fence: the active delivers only while its
// lease is fresh.
func (m *Member) MayDeliver() bool {
	switch m.role.Load() {
	case roleAlone:
		return true
	case roleActive:
		return m.lease.Held()
	}
	return false
}

// describe is the role as the logs say it.
func (m *Member) describe() string {
	switch m.role.Load() {
	case roleActive:
		return "active"
	case roleAlone:
		return "stand-alone (fallback)"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.holder == "" {
		return "standby (active: none yet)"
	}
	return fmt.Sprintf("standby (active: %s)", m.holder)
}

// Begin checks the topic and runs the log reader and the role loop, which
// drives e. Brokers unreachable at start are an error, unless
// fallback_after is set.
func (m *Member) Begin(ctx context.Context, wg *sync.WaitGroup, e *engine.Engine) error {
	m.start = time.Now()
	m.engine, m.wg = e, wg
	if err := m.connect(); err != nil {
		return err
	}
	if err := m.checkTopic(ctx); err != nil {
		if m.cfg.FallbackAfter == 0 {
			return fmt.Errorf("cluster.brokers %v: %w (set cluster.fallback_after to run stand-alone when they stay unreachable)", m.cfg.Brokers, err)
		}
		m.log.Errorf("cluster.brokers %v: %v; standing by, stand-alone in %s unless they answer", m.cfg.Brokers, err, time.Duration(m.cfg.FallbackAfter))
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		m.clog.Run(ctx, func(err error) { m.log.Warnf("Cluster log: %v", err) })
	}()
	go func() {
		defer wg.Done()
		m.loop(ctx)
	}()
	m.log.Infof("Cluster: member %q of group %q on topic %q; standing by until the group assigns the lease", m.cfg.MemberName, m.cfg.Group, m.cfg.Topic)
	return nil
}

func (m *Member) checkTopic(ctx context.Context) error {
	m.mu.Lock()
	done := m.topicOK
	m.mu.Unlock()
	if done {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, time.Duration(m.cfg.SessionTimeout))
	defer cancel()
	warnings, err := lease.EnsureTopic(cctx, m.clog.Client(), m.cfg.Topic, "cluster.topic")
	if err != nil {
		return err
	}
	for _, w := range warnings {
		m.log.Warn(w)
	}
	m.mu.Lock()
	m.topicOK = true
	m.mu.Unlock()
	return nil
}

// loop turns lease changes into roles.
func (m *Member) loop(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.lease.Changes():
		case <-t.C:
		}
		switch role := m.role.Load(); {
		case role == roleAlone:
		case role == roleStandby && m.lease.Held():
			if err := m.takeOver(ctx); err != nil {
				m.log.Errorf("Cluster: taking over: %v (retrying)", err)
			}
		case role == roleActive && !m.lease.Assigned():
			m.standBy()
		case role == roleStandby && m.cfg.FallbackAfter > 0 && !m.lease.Joined() &&
			time.Since(m.start) > time.Duration(m.cfg.FallbackAfter):
			m.goAlone(ctx)
		case role == roleStandby:
			m.reportJoinError(ctx)
			_ = m.checkTopic(ctx)
		}
	}
}

// reportJoinError logs, once each, why the group refuses this member: the
// broker's error and the key to change. Without it a refused member would
// stand by for ever, saying only that it waits for the lease.
func (m *Member) reportJoinError(ctx context.Context) {
	err := m.lease.JoinError()
	if err == nil {
		return
	}
	m.mu.Lock()
	same := m.joinErr == err.Error()
	m.joinErr = err.Error()
	m.mu.Unlock()
	if same {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, time.Duration(m.cfg.SessionTimeout)/2)
	limits, _ := lease.SessionTimeouts(cctx, m.clog.Client())
	cancel()
	next := "standing by until it is accepted"
	if m.cfg.FallbackAfter > 0 {
		next = fmt.Sprintf("standing by; stand-alone at %s (cluster.fallback_after) unless it is accepted",
			m.start.Add(time.Duration(m.cfg.FallbackAfter)).Format(time.TimeOnly))
	}
	m.log.Errorf("Cluster: %s; %s", lease.ExplainJoinError(err, m.cfg.Group, "cluster.session_timeout",
		time.Duration(m.cfg.SessionTimeout), limits), next)
}

// takeOver makes this member active: it reads the log to its end, restores
// what it says exactly as a restart restores the state file, replays the
// observations the last active member may not have saved, and only then
// delivers.
func (m *Member) takeOver(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, time.Duration(m.cfg.SessionTimeout))
	rep, err := m.clog.CatchUp(cctx)
	cancel()
	if err != nil {
		return err
	}
	now := time.Now()
	s, records, previous, err := m.stateToRestore(rep, now)
	if err != nil {
		return err
	}
	if !m.lease.Held() {
		return nil // lost it while reading; the loop decides again
	}
	m.clog.Baseline(rep)
	e := m.engine
	e.Restore(s, records, now)
	runCtx, cancelRun := context.WithCancel(ctx)
	replayed := e.Resume(runCtx, m.wg, s.SavedAt.Add(-bufferMargin), m.drain, func() {
		m.bufMu.Lock()
		m.cancelRun = cancelRun
		m.role.Store(roleActive)
		m.bufMu.Unlock()
	})
	m.mu.Lock()
	m.holder = m.cfg.MemberName
	m.mu.Unlock()
	e.MarkDirty()
	e.Save() // the log now names this member as the writer
	m.log.Infof("Cluster: active (took over from %s; %d firing alert(s), %d delivery record(s) and %d buffered observation(s) replayed)",
		orNobody(previous), len(s.Alerts), len(records), replayed)
	if previous != "" && previous != m.cfg.MemberName {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			e.Notice(runCtx, TakeoverNotice(m.lang, m.cfg.MemberName, previous), m.MayDeliver)
		}()
	}
	return nil
}

// TakeoverNotice is the announcement's text.
func TakeoverNotice(lang, member, previous string) string {
	if lang == "en" {
		return fmt.Sprintf("Alerting host changed: %s took over from %s", member, previous)
	}
	return fmt.Sprintf("告警主机切换：%s 接替 %s", member, previous)
}

func orNobody(member string) string {
	if member == "" {
		return "nobody"
	}
	return member
}

// stateToRestore is the log's latest state and the deliveries after it;
// before anything was replicated, the local state file (the cache) and
// its journal. The local journal is replayed in either case: it may hold
// this member's last delivery, accepted before a kill cut the append.
func (m *Member) stateToRestore(rep Replica, now time.Time) (*engine.State, []notify.Delivered, string, error) {
	local, err := m.engine.LocalJournal()
	if err != nil {
		return nil, nil, "", err
	}
	if rep.State == nil {
		s := &engine.State{}
		if m.stateFile != "" {
			var quarantined string
			s, quarantined, err = engine.ReadState(m.stateFile, now)
			if err != nil && quarantined == "" {
				return nil, nil, "", err
			}
		}
		return s, local, "", nil
	}
	data, err := rep.StateJSON()
	if err != nil {
		return nil, nil, "", err
	}
	s := &engine.State{}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, nil, "", fmt.Errorf("the log's state from %s: %w", rep.State.Member, err)
	}
	s.Migrate()
	return s, append(rep.Journal(), local...), rep.State.Member, nil
}

// standBy stops delivering: the lease is gone (revoked, or fenced after a
// pause). What was queued is left to the new active member, which restored
// it from the log.
func (m *Member) standBy() {
	m.bufMu.Lock()
	m.role.Store(roleStandby)
	if m.cancelRun != nil {
		m.cancelRun()
		m.cancelRun = nil
	}
	m.bufMu.Unlock()
	m.log.Warnf("Cluster: lost the lease; standing by (delivering nothing until the group assigns it again)")
}

// goAlone runs the member without a lease: the brokers never answered.
func (m *Member) goAlone(ctx context.Context) {
	why := fmt.Sprintf("cluster.brokers %v unreachable", m.cfg.Brokers)
	if err := m.lease.JoinError(); err != nil {
		why = fmt.Sprintf("group %q refused this member (%v)", m.cfg.Group, err)
	}
	m.log.Errorf("Cluster: %s for cluster.fallback_after (%s): running STAND-ALONE; if the other member runs too, alerts are sent twice. Restart once the cluster accepts it.",
		why, time.Duration(m.cfg.FallbackAfter))
	if err := m.engine.RestoreFile(time.Now()); err != nil {
		m.log.Errorf("Cluster: %v", err)
	}
	m.engine.Resume(ctx, m.wg, time.Now(), func() []engine.Kept {
		m.bufMu.Lock()
		defer m.bufMu.Unlock()
		m.buffered = nil
		return nil
	}, func() { m.role.Store(roleAlone) })
}

// Keep records an input received while standing by: it is not acted on,
// only kept for a takeover. What arrived before the log's latest state is
// trimmed by Tick; without one (no member was ever active) only the last
// bufferKeep is kept, so a long standby does not grow.
func (m *Member) Keep(in engine.Input, at time.Time) {
	m.bufMu.Lock()
	defer m.bufMu.Unlock()
	m.buffered = append(m.buffered, engine.Kept{At: at, Input: in})
	if first := m.buffered[0].At; at.Sub(first) > m.bufferKeep() {
		m.trim(at.Add(-m.bufferKeep() + bufferMargin))
	}
}

// drain hands the buffer over to a takeover.
func (m *Member) drain() []engine.Kept {
	m.bufMu.Lock()
	defer m.bufMu.Unlock()
	out := m.buffered
	m.buffered = nil
	return out
}

// bufferKeep bounds the buffer by age: a takeover replays what came after
// the log's latest state, which a live active member writes every tick.
func (m *Member) bufferKeep() time.Duration {
	return max(time.Minute, 10*time.Duration(m.cfg.SessionTimeout))
}

// trim drops buffered inputs the log's latest state covers; bufMu is
// held.
func (m *Member) trim(savedAt time.Time) {
	since := savedAt.Add(-bufferMargin)
	i := 0
	for i < len(m.buffered) && m.buffered[i].At.Before(since) {
		i++
	}
	m.buffered = m.buffered[i:]
}

// Tick runs each second whatever the role: silences both ways, and on a
// standby the state file kept as a cache of the log and the buffer trimmed.
func (m *Member) Tick(ctx context.Context, now time.Time) {
	m.syncSilences(ctx, now)
	m.syncOnCall(ctx, now)
	if m.Acting() {
		return
	}
	rep := m.clog.Replica()
	if rep.State != nil {
		m.bufMu.Lock()
		m.trim(rep.State.At)
		m.bufMu.Unlock()
		m.mu.Lock()
		fresh := !rep.State.At.Equal(m.cachedAt)
		m.cachedAt = rep.State.At
		changed := m.holder != rep.State.Member
		m.holder = rep.State.Member
		m.mu.Unlock()
		if changed {
			m.log.Infof("Cluster: %s", m.describe())
		}
		if fresh && m.stateFile != "" {
			data, err := rep.StateJSON()
			if err == nil {
				err = atomicfile.Write(m.stateFile, data)
			}
			if err != nil {
				m.log.Errorf("Cluster: caching the log's state in %s: %v", m.stateFile, err)
			}
		}
	}
}

// Saved replicates a saved state; mark is DeliveryMark taken before the
// snapshot. Only the active member, with a fresh lease, writes.
func (m *Member) Saved(data []byte, savedAt time.Time, mark uint64) {
	if m.role.Load() != roleActive || !m.lease.Held() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(m.cfg.SessionTimeout)/2)
	defer cancel()
	m.report(m.clog.AppendState(ctx, m.generation(), data, savedAt, mark))
}

// Delivered replicates an accepted delivery.
func (m *Member) Delivered(d notify.Delivered) {
	if m.role.Load() != roleActive {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(m.cfg.SessionTimeout)/2)
	defer cancel()
	err := m.clog.AppendDelivery(ctx, m.generation(), d)
	m.report(err)
	if err == nil {
		engine.LogRecorded(m.log, d, time.Now())
	}
}

// DeliveryMark is the count of deliveries appended to the log.
func (m *Member) DeliveryMark() uint64 { return m.clog.DeliveryMark() }

// Records: the log, not the local journal, makes a delivery durable.
func (*Member) Records() bool { return true }

func (m *Member) generation() int32 { return m.lease.Generation() }

// report logs a failed append once until one works: the local state file
// still has it, but a takeover now may repeat or miss what it says.
func (m *Member) report(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case err != nil && !m.failing:
		m.failing = true
		m.log.Errorf("Cluster log: %v (a takeover now may repeat a delivery)", err)
	case err == nil && m.failing:
		m.failing = false
		m.log.Info("Cluster log: appending again")
	}
}

// Close hands the lease over at once (leaving the group), then closes the
// clients.
func (m *Member) Close() {
	if m.lease != nil {
		m.lease.Close()
		m.clog.Close()
	}
}
