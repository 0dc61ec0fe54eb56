package wecom_sms_mail

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
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/cluster"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/health"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
)

// The HA pair: which member delivers, and how a takeover picks up where
// the last active member stopped. The replicated log is package cluster,
// the lease package lease; this file decides.

// Roles of a member.
const (
	roleStandby int32 = iota // reads the log, delivers nothing
	roleActive               // holds the lease, delivers, appends to the log
	roleAlone                // fell back to stand-alone: delivers without a lease
)

// bufferMargin is how much earlier than the log's latest state a standby keeps the observations it received: a
// takeover replays those the last active member may not have saved.
const bufferMargin = time.Second

// pair is one member of the HA pair.
type pair struct {
	p    *WeComSMSMail
	cfg  *cluster.Config
	log  telegraf.Logger
	opts []kgo.Opt

	lease *lease.Lease
	clog  *cluster.Log
	start time.Time

	role      atomic.Int32
	cancelRun context.CancelFunc // the active's dispatcher workers
	// buffered are the observations received while standing by, in
	// order; guarded by p.mu.
	buffered []buffered

	mu       sync.Mutex // guards what follows
	holder   string     // the active member as last seen
	joinErr  string     // the join error last logged
	topicOK  bool
	cachedAt time.Time // the replica state last written to the state file
	failing  bool      // an append failed; logged once until one works
}

// buffered is one observation a standby received.
type buffered struct {
	at     time.Time
	obs    alert.Observation
	gather *health.Gather
}

func newPair(p *WeComSMSMail) (*pair, error) {
	if p.Cluster == nil {
		return nil, nil
	}
	if err := p.Cluster.Validate(); err != nil {
		return nil, err
	}
	opts, _, err := p.Cluster.Opts("cluster.", time.Duration(p.Cluster.SessionTimeout))
	if err != nil {
		return nil, err
	}
	return &pair{p: p, cfg: p.Cluster, log: p.Log, opts: opts}, nil
}

// connect creates the clients; only a running output joins the group (a
// -test-notify or -silence run must not move the lease).
func (pr *pair) connect() error {
	var err error
	if pr.clog, err = cluster.Open(pr.opts, pr.cfg.Topic, pr.cfg.MemberName); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if pr.lease, err = lease.Start(pr.opts, lease.Config{Topic: pr.cfg.Topic, Group: pr.cfg.Group,
		Member: pr.cfg.MemberName, Host: pr.cfg.Host(), SessionTimeout: time.Duration(pr.cfg.SessionTimeout)}); err != nil {
		pr.clog.Close()
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// status tells -test-notify whether the brokers answer, which member is
// active, and what would stop the group accepting this member or the
// lease working (a session timeout the brokers refuse, a topic with more
// partitions or without compaction), without joining the group.
func (pr *pair) status(ctx context.Context) (string, error) {
	client, err := kgo.NewClient(pr.opts...)
	if err != nil {
		return "", err
	}
	defer client.Close()
	holder, err := lease.Holder(ctx, client, pr.cfg.Group, pr.cfg.Topic)
	if err != nil {
		return "", fmt.Errorf("cluster.brokers %v: %w", pr.cfg.Brokers, err)
	}
	var problems []string
	if err := lease.CheckSessionTimeout(ctx, client, time.Duration(pr.cfg.SessionTimeout), "cluster.session_timeout"); err != nil {
		problems = append(problems, err.Error())
	}
	_, warnings, err := lease.CheckTopic(ctx, client, pr.cfg.Topic, "cluster.topic")
	if err != nil {
		problems = append(problems, err.Error())
	}
	problems = append(problems, warnings...)
	var result string
	switch holder.Name {
	case "":
		result = fmt.Sprintf("member %s; no member is active", pr.cfg.MemberName)
	case pr.cfg.MemberName:
		result = fmt.Sprintf("member %s is active", pr.cfg.MemberName)
	default:
		result = fmt.Sprintf("member %s: standby (active: %s)", pr.cfg.MemberName, holder.Name)
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("%s; %s", result, strings.Join(problems, "; "))
	}
	return result, nil
}

// acting reports whether this member delivers: active or alone.
func (pr *pair) acting() bool { return pr.role.Load() != roleStandby }

// mayDeliver is the dispatcher's fence: the active delivers only while its
// lease is fresh.
func (pr *pair) mayDeliver() bool {
	switch pr.role.Load() {
	case roleAlone:
		return true
	case roleActive:
		return pr.lease.Held()
	}
	return false
}

// Describe is the role as logs and -test-notify say it.
func (pr *pair) describe() string {
	switch pr.role.Load() {
	case roleActive:
		return "active"
	case roleAlone:
		return "stand-alone (fallback)"
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.holder == "" {
		return "standby (active: none yet)"
	}
	return fmt.Sprintf("standby (active: %s)", pr.holder)
}

// begin checks the topic and runs the log reader and the role loop.
// Brokers unreachable at start are an error, unless fallback_after is set.
func (pr *pair) begin(ctx context.Context, wg *sync.WaitGroup) error {
	pr.start = time.Now()
	if err := pr.connect(); err != nil {
		return err
	}
	if err := pr.checkTopic(ctx); err != nil {
		if pr.cfg.FallbackAfter == 0 {
			return fmt.Errorf("cluster.brokers %v: %w (set cluster.fallback_after to run stand-alone when they stay unreachable)", pr.cfg.Brokers, err)
		}
		pr.log.Errorf("cluster.brokers %v: %v; standing by, stand-alone in %s unless they answer", pr.cfg.Brokers, err, time.Duration(pr.cfg.FallbackAfter))
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		pr.clog.Run(ctx, func(err error) { pr.log.Warnf("Cluster log: %v", err) })
	}()
	go func() {
		defer wg.Done()
		pr.loop(ctx)
	}()
	pr.log.Infof("Cluster: member %q of group %q on topic %q; standing by until the group assigns the lease", pr.cfg.MemberName, pr.cfg.Group, pr.cfg.Topic)
	return nil
}

func (pr *pair) checkTopic(ctx context.Context) error {
	pr.mu.Lock()
	done := pr.topicOK
	pr.mu.Unlock()
	if done {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, time.Duration(pr.cfg.SessionTimeout))
	defer cancel()
	warnings, err := lease.EnsureTopic(cctx, pr.clog.Client(), pr.cfg.Topic, "cluster.topic")
	if err != nil {
		return err
	}
	for _, w := range warnings {
		pr.log.Warn(w)
	}
	pr.mu.Lock()
	pr.topicOK = true
	pr.mu.Unlock()
	return nil
}

// loop turns lease changes into roles.
func (pr *pair) loop(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-pr.lease.Changes():
		case <-t.C:
		}
		switch role := pr.role.Load(); {
		case role == roleAlone:
		case role == roleStandby && pr.lease.Held():
			if err := pr.takeOver(ctx); err != nil {
				pr.log.Errorf("Cluster: taking over: %v (retrying)", err)
			}
		case role == roleActive && !pr.lease.Assigned():
			pr.standBy()
		case role == roleStandby && pr.cfg.FallbackAfter > 0 && !pr.lease.Joined() &&
			time.Since(pr.start) > time.Duration(pr.cfg.FallbackAfter):
			pr.goAlone(ctx)
		case role == roleStandby:
			pr.reportJoinError(ctx)
			_ = pr.checkTopic(ctx)
		}
	}
}

// reportJoinError logs, once each, why the group refuses this member: the
// broker's error and the key to change. Without it a refused member would
// stand by for ever, saying only that it waits for the lease.
func (pr *pair) reportJoinError(ctx context.Context) {
	err := pr.lease.JoinError()
	if err == nil {
		return
	}
	pr.mu.Lock()
	same := pr.joinErr == err.Error()
	pr.joinErr = err.Error()
	pr.mu.Unlock()
	if same {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, time.Duration(pr.cfg.SessionTimeout)/2)
	limits, _ := lease.SessionTimeouts(cctx, pr.clog.Client())
	cancel()
	next := "standing by until it is accepted"
	if pr.cfg.FallbackAfter > 0 {
		next = fmt.Sprintf("standing by; stand-alone at %s (cluster.fallback_after) unless it is accepted",
			pr.start.Add(time.Duration(pr.cfg.FallbackAfter)).Format(time.TimeOnly))
	}
	pr.log.Errorf("Cluster: %s; %s", lease.ExplainJoinError(err, pr.cfg.Group, "cluster.session_timeout",
		time.Duration(pr.cfg.SessionTimeout), limits), next)
}

// takeOver makes this member active: it reads the log to its end, restores
// what it says exactly as a restart restores the state file, replays the
// observations the last active member may not have saved, and only then
// delivers.
func (pr *pair) takeOver(ctx context.Context) error {
	p := pr.p
	cctx, cancel := context.WithTimeout(ctx, time.Duration(pr.cfg.SessionTimeout))
	rep, err := pr.clog.CatchUp(cctx)
	cancel()
	if err != nil {
		return err
	}
	now := time.Now()
	s, records, previous, err := pr.stateToRestore(rep, now)
	if err != nil {
		return err
	}
	if !pr.lease.Held() {
		return nil // lost it while reading; the loop decides again
	}
	pr.clog.Baseline(rep)
	p.mu.Lock()
	p.newEngine()
	p.mu.Unlock()
	p.restore(s, records, now)
	runCtx, cancelRun := context.WithCancel(ctx)
	p.mu.Lock()
	since := s.SavedAt.Add(-bufferMargin)
	seen := map[string]time.Time{}
	for _, a := range p.alerts.Snapshot() {
		seen[a.Key] = a.SeenAt
	}
	replayed := 0
	for _, b := range pr.buffered {
		if b.at.Before(since) {
			continue
		}
		if b.gather != nil {
			for _, obs := range p.health.Observe(*b.gather, now) {
				p.observe(obs, now)
			}
		} else if at, ok := seen[b.obs.Key]; !ok || b.obs.At.After(at) {
			p.observe(b.obs, now)
		}
		replayed++
	}
	pr.buffered = nil
	pr.cancelRun = cancelRun
	pr.role.Store(roleActive)
	p.dispatcher.Run(runCtx, &p.wg)
	p.mu.Unlock()
	pr.mu.Lock()
	pr.holder = pr.cfg.MemberName
	pr.mu.Unlock()
	p.dirty.Store(true)
	p.save() // the log now names this member as the writer
	pr.log.Infof("Cluster: active (took over from %s; %d firing alert(s), %d delivery record(s) and %d buffered observation(s) replayed)",
		orNobody(previous), len(s.Alerts), len(records), replayed)
	if previous != "" && previous != pr.cfg.MemberName {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			pr.announce(runCtx, previous)
		}()
	}
	return nil
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
func (pr *pair) stateToRestore(rep cluster.Replica, now time.Time) (*savedState, []notify.Delivered, string, error) {
	p := pr.p
	var local []notify.Delivered
	if p.journal != nil {
		var err error
		if local, err = readJournal(p.journal.path); err != nil {
			return nil, nil, "", err
		}
	}
	if rep.State == nil {
		s := &savedState{}
		if p.StateFile != "" {
			var quarantined string
			var err error
			s, quarantined, err = readState(p.StateFile, now)
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
	s := &savedState{}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, nil, "", fmt.Errorf("the log's state from %s: %w", rep.State.Member, err)
	}
	s.migrate()
	return s, append(rep.Journal(), local...), rep.State.Member, nil
}

// standBy stops delivering: the lease is gone (revoked, or fenced after a
// pause). What was queued is left to the new active member, which restored
// it from the log.
func (pr *pair) standBy() {
	p := pr.p
	p.mu.Lock()
	pr.role.Store(roleStandby)
	if pr.cancelRun != nil {
		pr.cancelRun()
		pr.cancelRun = nil
	}
	p.mu.Unlock()
	pr.log.Warnf("Cluster: lost the lease; standing by (delivering nothing until the group assigns it again)")
}

// goAlone runs the member without a lease: the brokers never answered.
func (pr *pair) goAlone(ctx context.Context) {
	p := pr.p
	why := fmt.Sprintf("cluster.brokers %v unreachable", pr.cfg.Brokers)
	if err := pr.lease.JoinError(); err != nil {
		why = fmt.Sprintf("group %q refused this member (%v)", pr.cfg.Group, err)
	}
	pr.log.Errorf("Cluster: %s for cluster.fallback_after (%s): running STAND-ALONE; if the other member runs too, alerts are sent twice. Restart once the cluster accepts it.",
		why, time.Duration(pr.cfg.FallbackAfter))
	if err := p.restoreFile(time.Now()); err != nil {
		pr.log.Errorf("Cluster: %v", err)
	}
	p.mu.Lock()
	pr.buffered = nil
	pr.role.Store(roleAlone)
	p.dispatcher.Run(ctx, &p.wg)
	p.mu.Unlock()
}

// keep records an observation received while standing by; p.mu is held.
// What arrived before the log's latest state is trimmed by tick; without
// one (no member was ever active) only the last bufferKeep is kept, so a
// long standby does not grow.
func (pr *pair) keep(b buffered) {
	pr.buffered = append(pr.buffered, b)
	if first := pr.buffered[0].at; b.at.Sub(first) > pr.bufferKeep() {
		pr.trim(b.at.Add(-pr.bufferKeep() + bufferMargin))
	}
}

// bufferKeep bounds the buffer by age: a takeover replays what came after
// the log's latest state, which a live active member writes every tick.
func (pr *pair) bufferKeep() time.Duration {
	return max(time.Minute, 10*time.Duration(pr.cfg.SessionTimeout))
}

// trim drops buffered observations the log's latest state covers; p.mu is
// held.
func (pr *pair) trim(savedAt time.Time) {
	since := savedAt.Add(-bufferMargin)
	i := 0
	for i < len(pr.buffered) && pr.buffered[i].at.Before(since) {
		i++
	}
	pr.buffered = pr.buffered[i:]
}

// tick runs each second whatever the role: silences both ways, and on a
// standby the state file kept as a cache of the log and the buffer trimmed.
func (pr *pair) tick(ctx context.Context, now time.Time) {
	pr.syncSilences(ctx, now)
	if pr.acting() {
		return
	}
	rep := pr.clog.Replica()
	if rep.State != nil {
		pr.p.mu.Lock()
		pr.trim(rep.State.At)
		pr.p.mu.Unlock()
		pr.mu.Lock()
		fresh := !rep.State.At.Equal(pr.cachedAt)
		pr.cachedAt = rep.State.At
		changed := pr.holder != rep.State.Member
		pr.holder = rep.State.Member
		pr.mu.Unlock()
		if changed {
			pr.log.Infof("Cluster: %s", pr.describe())
		}
		if fresh && pr.p.StateFile != "" {
			data, err := rep.StateJSON()
			if err == nil {
				err = atomicfile.Write(pr.p.StateFile, data)
			}
			if err != nil {
				pr.log.Errorf("Cluster: caching the log's state in %s: %v", pr.p.StateFile, err)
			}
		}
	}
}

// appendState replicates a saved state; mark is deliveryMark taken before
// the snapshot. Only the active member, with a fresh lease, writes.
func (pr *pair) appendState(data []byte, savedAt time.Time, mark uint64) {
	if pr.role.Load() != roleActive || !pr.lease.Held() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(pr.cfg.SessionTimeout)/2)
	defer cancel()
	pr.report(pr.clog.AppendState(ctx, pr.generation(), data, savedAt, mark))
}

// appendDelivery replicates an accepted delivery.
func (pr *pair) appendDelivery(d notify.Delivered) {
	if pr.role.Load() != roleActive {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(pr.cfg.SessionTimeout)/2)
	defer cancel()
	err := pr.clog.AppendDelivery(ctx, pr.generation(), d)
	pr.report(err)
	if err == nil {
		logRecorded(pr.log, d, time.Now())
	}
}

func (pr *pair) deliveryMark() uint64 { return pr.clog.DeliveryMark() }

func (pr *pair) generation() int32 { return pr.lease.Generation() }

// report logs a failed append once until one works: the local state file
// still has it, but a takeover now may repeat or miss what it says.
func (pr *pair) report(err error) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	switch {
	case err != nil && !pr.failing:
		pr.failing = true
		pr.log.Errorf("Cluster log: %v (a takeover now may repeat a delivery)", err)
	case err == nil && pr.failing:
		pr.failing = false
		pr.log.Info("Cluster log: appending again")
	}
}

// close hands the lease over at once (leaving the group), then closes the
// clients.
func (pr *pair) close() {
	if pr.lease != nil {
		pr.lease.Close()
		pr.clog.Close()
	}
}

// standBy records a metric a standby received: it is not acted on, only
// kept for a takeover; p.mu is held.
func (p *WeComSMSMail) standBy(m telegraf.Metric, now time.Time) {
	if m.Name() == health.Measurement {
		g := gatherOf(m)
		p.pair.keep(buffered{at: now, gather: &g})
		return
	}
	if obs, ok, err := p.observer.observe(m); err == nil && ok {
		p.pair.keep(buffered{at: now, obs: obs})
	}
}
