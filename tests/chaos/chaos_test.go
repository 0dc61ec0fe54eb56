package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/tcapi"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/lease"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/sim"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/engine"
)

var (
	root   string
	binDir string
)

func TestMain(m *testing.M) {
	var err error
	if root, err = filepath.Abs("../.."); err != nil {
		panic(err)
	}
	os.Exit(testkit.MainWithBinaries(m, func(dir string) { binDir = dir }, "ckafka_lag", "wecom_sms_mail"))
}

// The pipeline's timings: short, so that a few minutes hold many alerts.
var settings = Settings{
	Interval:       2 * time.Second,
	GroupWait:      2 * time.Second,
	RepeatInterval: 30 * time.Second,
	RestartDelay:   time.Second,
	Timeout:        10 * time.Second, // wecom_sms_mail.conf's
	MaxBackoff:     16 * time.Second, // 1 s doubled up to max_retries = 5
	Session:        2 * time.Second,  // with CHAOS_HOSTS=2
	ForIntervals:   2,                // sample.conf's
	Phones:         []string{"+8613800000001", "+8613800000002"},
}

const (
	lagOK       = 0
	lagWarning  = 1500 // sample.conf: warning_lag 1000
	lagCritical = 3000 // critical_lag 2000
)

// chaosSeed is CHAOS_SEED, or a fresh seed that the run prints.
func chaosSeed(t *testing.T) uint64 {
	if v := os.Getenv("CHAOS_SEED"); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, "CHAOS_SEED")
		return seed
	}
	return uint64(time.Now().UnixNano() % 1_000_000)
}

// chaosDuration is CHAOS_DURATION (`make chaos`: the full run), two minutes
// by default (`make test`).
func chaosDuration(t *testing.T) time.Duration {
	if v := os.Getenv("CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err, "CHAOS_DURATION")
		require.GreaterOrEqual(t, d, 2*time.Minute, "CHAOS_DURATION: 20 kills and 50 alerts need two minutes")
		return d
	}
	return 2 * time.Minute
}

func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault-injection run takes minutes")
	}
	settings.Hosts = 1
	if v := os.Getenv("CHAOS_HOSTS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "CHAOS_HOSTS")
		require.Contains(t, []int{1, 2}, n, "CHAOS_HOSTS is 1 or 2")
		settings.Hosts = n
	}
	telegraf := testkit.TelegrafBinary(t, root)
	seed, d := chaosSeed(t), chaosDuration(t)
	plan := NewPlan(seed, d, settings)
	t.Logf("chaos: seed %d, %s, %d host(s), plan %s: %d alert identities, %d faults (replay: CHAOS_SEED=%d CHAOS_DURATION=%s CHAOS_HOSTS=%d make chaos)",
		seed, d, settings.Hosts, plan.Digest(), len(plan.Episodes), len(plan.Faults), seed, d, settings.Hosts)

	dir := t.TempDir()
	state, err := newStateDir(dir, os.Getenv("CHAOS_STATE_BLOCK"))
	require.NoError(t, err)
	t.Cleanup(state.Close)
	s, err := sim.Start(dir)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	s.SMS.SetMaxParamLength(0)
	for _, e := range plan.Episodes {
		s.SetLag(e.Group, e.Topic, lagOK)
	}
	var brokers []string
	if settings.Hosts == 2 {
		kafka, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "500"}))
		require.NoError(t, err)
		t.Cleanup(kafka.Close)
		brokers = kafka.ListenAddrs()
	}
	var hosts []*host
	for i := range settings.Hosts {
		h := &host{name: fmt.Sprintf("host-%c", 'a'+i), telegraf: telegraf, log: testkit.NewSyncBuffer()}
		hostDir := filepath.Join(dir, h.name)
		require.NoError(t, os.Mkdir(hostDir, 0o700))
		stateDir := hostDir
		if i == 0 {
			stateDir = state.path // the state directory faults hit the first host
		}
		confDir := writeConfigs(t, hostDir, h.name, brokers)
		h.confDir = confDir
		h.env = append(s.Env(root, sim.Settings{
			Interval: settings.Interval.String(), FlushInterval: "1s", GroupWait: settings.GroupWait.String(),
			RepeatInterval: settings.RepeatInterval.String(), StaleAfter: "10m", RestartDelay: settings.RestartDelay.String(),
			Language: "en", BinDir: binDir, ConfDir: confDir, StateDir: stateDir,
		}), "CKAFKA_LAG_HOSTNAME="+h.name)
		require.NoError(t, h.start())
		hosts = append(hosts, h)
		if settings.Hosts == 2 && i == 0 {
			require.Eventually(t, func() bool { return strings.Contains(h.log.String(), "Cluster: active") }, 30*time.Second,
				100*time.Millisecond, "host-a takes the lease")
		}
	}
	t.Cleanup(func() {
		for _, h := range hosts {
			h.stop()
			path := filepath.Join(os.TempDir(), fmt.Sprintf("chaos-%d-%s-telegraf.log", seed, h.name))
			if os.WriteFile(path, []byte(h.log.String()), 0o600) == nil {
				t.Logf("%s's Telegraf log: %s", h.name, path)
			}
		}
	})
	require.Eventually(t, func() bool {
		return testkit.ChildPID(hosts[0].cmd.Process.Pid, "wecom_sms_mail") != 0 && s.CKafka.Stats().ByAction["DescribeGroupOffsets"] > 0
	}, 30*time.Second, 100*time.Millisecond, "the pipeline starts")

	drv := driver{t: t, sim: s, state: state, hosts: hosts, brokers: brokers, start: time.Now()}
	drv.run(plan)
	t.Logf("chaos: timeline done; faults lifted; draining")

	dests := destinations()
	var rows []Row
	var findings []Finding
	// Drain: wait until nothing is missing, then a while longer for
	// anything sent twice.
	deadline := time.Now().Add(90 * time.Second)
	var settled time.Time
	for ; time.Now().Before(deadline); time.Sleep(time.Second) {
		rows, findings = Reconcile(plan, settings, dests, drv.deliveries(), drv.killedOutput, drv.records(drv.logs()))
		if slices.ContainsFunc(rows, func(r Row) bool { return r.Lost > 0 }) {
			settled = time.Time{}
			continue
		}
		if settled.IsZero() {
			settled = time.Now()
		}
		if time.Since(settled) > 2*settings.GroupWait+5*time.Second {
			break
		}
	}

	t.Logf("chaos: seed %d, %s, plan %s; faults injected: %s; state directory made unwritable by %s",
		seed, d, plan.Digest(), drv.summary(plan), state.How())
	t.Logf("ledger:\n%s", Table(rows))
	t.Logf("%s", AcceptToDurable(drv.deliveries(), drv.records(drv.logs())))
	for _, f := range findings {
		t.Logf("  %s", f)
	}
	if t.Failed() || slices.ContainsFunc(rows, Row.Failed) {
		explain(t, plan, findings, drv.deliveries())
	}
	require.GreaterOrEqual(t, drv.kills[KillOutput], 20, "SIGKILLs of wecom_sms_mail")
	if settings.Hosts == 2 {
		require.Positive(t, drv.kills[HostKill], "host kills")
		require.Positive(t, drv.kills[HostPause], "host pauses")
	}
	for _, r := range rows {
		if r.Failed() {
			t.Errorf("%s: %d lost, %d duplicated, %d spurious (replay: CHAOS_SEED=%d CHAOS_DURATION=%s make chaos)",
				r.Dest, r.Lost, r.Duplicated, r.Spurious, seed, d)
		}
	}
	// Hundreds of failures were logged; none may carry a secret.
	for _, secret := range []string{sim.CKafkaSecretKey, sim.SMSSecretKey, sim.SMTPPassword, sim.RobotKey} {
		require.NotContains(t, drv.logs(), secret, "a secret in Telegraf's log")
	}
}

// explain logs, for each alert with a lost, duplicated or spurious
// notification, its plan and everything delivered about it.
func explain(t *testing.T, p Plan, findings []Finding, got []Delivery) {
	seen := map[string]bool{}
	for _, f := range findings {
		if seen[f.Identity] || strings.HasPrefix(f.What, "late") {
			continue
		}
		seen[f.Identity] = true
		i := slices.IndexFunc(p.Episodes, func(e Episode) bool { return e.Identity() == f.Identity })
		if i >= 0 {
			e := p.Episodes[i]
			t.Logf("%s: %s at %.0fs, critical at %.0fs, ok at %.0fs", f.Identity, e.StartLevel, e.Start.Seconds(), e.Escalate.Seconds(), e.Resolve.Seconds())
		}
		for _, g := range got {
			if g.Identity == f.Identity {
				t.Logf("    %7.1fs %-20s %s", g.At.Seconds(), g.Dest, g.Level)
			}
		}
	}
}

func destinations() []Destination {
	robot := func(f Fault) bool { return strings.HasPrefix(string(f.Kind), "wecom robot") }
	mail := func(f Fault) bool { return strings.HasPrefix(string(f.Kind), "smtp") }
	out := []Destination{{Name: "wecom", MinLevel: "warning", Delays: robot}, {Name: "email", MinLevel: "warning", Delays: mail}}
	for _, phone := range settings.Phones {
		out = append(out, Destination{Name: "sms " + phone, MinLevel: "critical", Channel: "sms", Delays: func(f Fault) bool {
			return f.Kind == SMSThrottle || f.Kind == SMSNumberFail && f.Phone == phone
		}})
	}
	return out
}

// writeConfigs copies sample.conf and etc/ for the run, with the output's
// debug log on (its "Delivery recorded" lines are the ledger's evidence)
// and the SMS channel sending to two numbers a one-variable template that
// lists every alert (the ledger reads it), and returns the directory.
func writeConfigs(t *testing.T, dir, member string, brokers []string) string {
	confDir := filepath.Join(dir, "etc")
	require.NoError(t, os.Mkdir(confDir, 0o700))
	raw, err := os.ReadFile(filepath.Join(root, "sample.conf"))
	require.NoError(t, err)
	const command = `/wecom_sms_mail.conf"]`
	require.Contains(t, string(raw), command, "sample.conf changed: update the chaos run")
	raw = []byte(strings.Replace(string(raw), command, `/wecom_sms_mail.conf", "-debug"]`, 1))
	require.NoError(t, os.WriteFile(filepath.Join(confDir, "sample.conf"), raw, 0o600))
	raw, err = os.ReadFile(filepath.Join(root, "etc", "ckafka_lag.conf"))
	require.NoError(t, err)
	list := `["` + strings.Join(brokers, `", "`) + `"]`
	if len(brokers) > 0 {
		raw = fmt.Appendf(raw, "  cluster_brokers = %s\n  cluster_member_name = %q\n  cluster_session_timeout = %q\n", list, member, settings.Session)
	}
	require.NoError(t, os.WriteFile(filepath.Join(confDir, "ckafka_lag.conf"), raw, 0o600))
	raw, err = os.ReadFile(filepath.Join(root, "etc", "wecom_sms_mail.conf"))
	require.NoError(t, err)
	conf := string(raw)
	for old, repl := range map[string]string{
		`template_id = "${SMS_TEMPLATE_ID}"`: `template_id = "` + sim.SMSListTemplateID + `"`,
		`phone_numbers = ["${ALERT_PHONE}"]`: `phone_numbers = ["` + strings.Join(settings.Phones, `", "`) + `"]`,
		`param_max_length = 6`:               `param_max_length = 1000`,
	} {
		require.Contains(t, conf, old, "etc/wecom_sms_mail.conf changed: update the chaos run")
		conf = strings.Replace(conf, old, repl, 1)
	}
	lines := strings.Split(conf, "\n")
	i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), "template_params = ") })
	require.GreaterOrEqual(t, i, 0, "etc/wecom_sms_mail.conf has no template_params")
	lines[i] = "    template_params = ['" + SMSTemplate + "']"
	if len(brokers) > 0 {
		lines = append(lines, fmt.Sprintf("  [outputs.wecom_sms_mail.cluster]\n    brokers = %s\n    member_name = %q\n    session_timeout = %q\n",
			list, member, settings.Session))
	}
	require.NoError(t, os.WriteFile(filepath.Join(confDir, "wecom_sms_mail.conf"), []byte(strings.Join(lines, "\n")), 0o600))
	return confDir
}

func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// driver plays a plan against the running pipeline.
type driver struct {
	t       *testing.T
	sim     *sim.Sim
	state   *stateDir
	hosts   []*host
	brokers []string // the pair's cluster, with two hosts
	start   time.Time
	kills   map[FaultKind]int
	// killedOutput are when wecom_sms_mail was killed, from the start.
	killedOutput []time.Duration
	skipped      []string
}

type action struct {
	at   time.Duration
	what string
	do   func() error
}

func (d *driver) run(p Plan) {
	d.kills = map[FaultKind]int{}
	var actions []action
	for _, e := range p.Episodes {
		lag := map[string]int64{"warning": lagWarning, "critical": lagCritical}[e.StartLevel]
		actions = append(actions, d.setLag(e, e.Start, lag), d.setLag(e, e.Resolve, lagOK))
		if e.Escalate > 0 {
			actions = append(actions, d.setLag(e, e.Escalate, lagCritical))
		}
	}
	for _, f := range p.Faults {
		begin, end := d.fault(f)
		actions = append(actions, action{f.At, string(f.Kind), begin})
		if end != nil {
			actions = append(actions, action{f.End(), "end of " + string(f.Kind), end})
		}
	}
	slices.SortStableFunc(actions, func(a, b action) int { return int(a.at - b.at) })
	for _, a := range actions {
		time.Sleep(time.Until(d.start.Add(a.at)))
		if err := a.do(); err != nil {
			d.t.Errorf("%.1fs %s: %v", a.at.Seconds(), a.what, err)
		} else if !strings.Contains(a.what, " lag ") {
			d.t.Logf("%7.1fs %s", time.Since(d.start).Seconds(), a.what)
		}
	}
	time.Sleep(time.Until(d.start.Add(p.Duration)))
}

func (d *driver) setLag(e Episode, at time.Duration, lag int64) action {
	return action{at, fmt.Sprintf("%s lag %d", e.Identity(), lag), func() error {
		d.sim.SetLag(e.Group, e.Topic, lag)
		return nil
	}}
}

// fault returns what begins and what ends a fault (nil for an instant).
func (d *driver) fault(f Fault) (begin, end func() error) {
	s := d.sim
	none := func() error { return nil }
	switch f.Kind {
	case KillOutput:
		return func() error { return d.kill(f.Kind, "wecom_sms_mail") }, nil
	case KillCollector:
		return func() error { return d.kill(f.Kind, "ckafka_lag") }, nil
	case HostKill:
		var h *host
		return func() error {
				h = d.active()
				d.kills[f.Kind]++
				d.killedOutput = append(d.killedOutput, time.Since(d.start))
				h.kill()
				return nil
			}, func() error {
				return h.start()
			}
	case HostPause:
		var pid int
		return func() error {
				// A kill a moment ago leaves the host without the process
				// until Telegraf restarts it: pause the one it starts.
				for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
					if pid = testkit.ChildPID(d.active().cmd.Process.Pid, "wecom_sms_mail"); pid != 0 {
						break
					}
					if time.Now().After(deadline) {
						return errors.New("the active host ran no wecom_sms_mail for 5 s")
					}
				}
				d.kills[f.Kind]++
				// A delivery past the fence when it froze may land after
				// the takeover: in flight, as at a kill.
				d.killedOutput = append(d.killedOutput, time.Since(d.start))
				return syscall.Kill(pid, syscall.SIGSTOP)
			}, func() error {
				if pid == 0 {
					return nil // never paused
				}
				d.killedOutput = append(d.killedOutput, time.Since(d.start))
				return syscall.Kill(pid, syscall.SIGCONT)
			}
	case RobotDown:
		return func() error { s.Robot.Down(-1); return nil }, func() error { s.Robot.Up(); return nil }
	case RobotHang:
		return func() error { s.Robot.SetDelay(settings.Timeout + 2*time.Second); return nil },
			func() error { s.Robot.SetDelay(0); return nil }
	case RobotStorm:
		return func() error { s.Robot.FailAll(45009); return nil }, func() error { s.Robot.FailAll(0); return nil }
	case SMTP451:
		return func() error { s.SMTP.FailNext(-1); return nil }, func() error { s.SMTP.FailNext(0); return nil }
	case SMTPDrop:
		return func() error { s.SMTP.DropNext(-1); return nil }, func() error { s.SMTP.DropNext(0); return nil }
	case SMSNumberFail:
		codes := slices.Repeat([]string{"InternalError.Timeout"}, 1000)
		return func() error { s.SMS.FailNumber(f.Phone, codes...); return nil },
			func() error { s.SMS.ClearNumber(f.Phone); return nil }
	case SMSThrottle:
		return func() error {
			s.SMS.Inject(tcapi.Fault{Action: "SendSms", Code: "RequestLimitExceeded", Message: "throttled by the chaos run", Times: -1})
			return nil
		}, func() error { s.SMS.ClearFaults(); return nil }
	case StateReadOnly:
		// A fault the machine refuses to inject is reported, not failed;
		// undoing one that was injected must work.
		blocked := false
		return func() error {
				if err := d.state.Block(); err != nil {
					d.skipped = append(d.skipped, fmt.Sprintf("state directory unwritable at %.0fs (%v)", f.At.Seconds(), err))
					return nil
				}
				blocked = true
				return nil
			}, func() error {
				if !blocked {
					return nil
				}
				return d.state.Unblock()
			}
	case StateFull:
		if !d.state.CanFill() {
			d.skipped = append(d.skipped, "state directory full (needs a tmpfs: mount is not permitted here)")
			return none, none
		}
		return d.state.Fill, d.state.Drain
	case APIThrottle:
		return d.apiFault(tcapi.Fault{Code: "RequestLimitExceeded", Message: "throttled by the chaos run", Times: -1})
	case API5xx:
		return d.apiFault(tcapi.Fault{Status: 502, Body: "<html><body>502 Bad Gateway</body></html>", Times: -1})
	case APISlow:
		return d.apiFault(tcapi.Fault{Delay: 1500 * time.Millisecond, Times: -1})
	}
	panic("unknown fault " + f.Kind)
}

func (d *driver) apiFault(f tcapi.Fault) (begin, end func() error) {
	return func() error { d.sim.CKafka.Inject(f); return nil }, func() error { d.sim.CKafka.ClearFaults(); return nil }
}

// kill SIGKILLs Telegraf's child running name, waiting up to ten seconds
// for Telegraf to have restarted it after an earlier kill.
func (d *driver) kill(kind FaultKind, name string) error {
	h := d.active()
	for wait := time.Now().Add(10 * time.Second); time.Now().Before(wait); time.Sleep(50 * time.Millisecond) {
		if pid := testkit.ChildPID(h.cmd.Process.Pid, name); pid != 0 {
			d.kills[kind]++
			// Taken before the signal: a record stamped earlier was
			// durable before the kill.
			at := time.Since(d.start)
			err := syscall.Kill(pid, syscall.SIGKILL)
			if kind == KillOutput {
				d.killedOutput = append(d.killedOutput, at)
			}
			return err
		}
	}
	return fmt.Errorf("Telegraf did not restart %s within 10 s", name)
}

// records reads the output's "Delivery recorded" lines from Telegraf's
// log: for each, the ledger destinations and alert lines it covers.
func (d *driver) records(log string) []Record {
	var out []Record
	for line := range strings.Lines(log) {
		_, js, ok := strings.Cut(line, engine.RecordedPrefix)
		if !ok {
			continue
		}
		var r engine.Recorded
		if err := json.Unmarshal([]byte(strings.TrimSpace(js)), &r); err != nil {
			d.t.Errorf("a recorded line that does not parse (%v): %s", err, line)
			continue
		}
		var dests []string
		switch kind, _, _ := strings.Cut(r.Dest, " "); kind {
		case "wecom", "email":
			dests = []string{kind}
		case "sms":
			for _, phone := range settings.Phones {
				if !slices.Contains(r.Phones, phone) {
					dests = append(dests, "sms "+phone)
				}
			}
		}
		for _, ref := range r.Alerts {
			_, tags := alert.ParseKey(ref.Key)
			var group, topic string
			for _, tag := range tags {
				switch tag.Key {
				case "group":
					group = tag.Value
				case "topic":
					topic = tag.Value
				}
			}
			level := ref.Level.String()
			if ref.Kind == alert.KindResolved || ref.Kind == alert.KindStale {
				level = "resolved"
			}
			for _, dest := range dests {
				out = append(out, Record{Dest: dest, Identity: group + "/" + topic, Level: level,
					Accepted: r.Accepted.Sub(d.start), Recorded: r.Recorded.Sub(d.start)})
			}
		}
	}
	return out
}

// deliveries reads every alert line the fakes accepted. A takeover notice
// lists what still fires; it is news about the alerting, not a message
// about those alerts.
func (d *driver) deliveries() []Delivery {
	var out []Delivery
	for _, m := range d.sim.Robot.Messages() {
		if !strings.Contains(m.Content, takeoverNotice) {
			out = append(out, ParseLines("wecom", m.Content, m.At.Sub(d.start))...)
		}
	}
	for _, m := range d.sim.SMTP.Messages() {
		if !strings.Contains(m.Text, takeoverNotice) {
			out = append(out, ParseLines("email", m.Text, m.At.Sub(d.start))...)
		}
	}
	for _, m := range d.sim.SMS.Messages() {
		out = append(out, ParseSMS("sms "+m.Phone, strings.Join(m.Params, ""), m.At.Sub(d.start))...)
	}
	return out
}

func (d *driver) summary(p Plan) string {
	counts := map[FaultKind]int{}
	var kinds []FaultKind
	for _, f := range p.Faults {
		if counts[f.Kind] == 0 {
			kinds = append(kinds, f.Kind)
		}
		counts[f.Kind]++
	}
	counts[KillOutput], counts[KillCollector] = d.kills[KillOutput], d.kills[KillCollector]
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, counts[k]))
	}
	if len(d.skipped) > 0 {
		parts = append(parts, "skipped: "+strings.Join(slices.Compact(d.skipped), "; "))
	}
	return strings.Join(parts, ", ")
}

// takeoverNotice is in the HA pair's takeover message (English).
const takeoverNotice = "Alerting host changed: "

// host is one Telegraf of the run; the pair's second host with
// CHAOS_HOSTS=2. Its log survives restarts.
type host struct {
	name     string
	telegraf string
	confDir  string
	env      []string
	log      *testkit.SyncBuffer
	cmd      *exec.Cmd
}

func (h *host) start() error {
	h.cmd = exec.Command(h.telegraf, "--strict-env-handling", "--config", filepath.Join(h.confDir, "sample.conf"))
	h.cmd.Env = h.env
	h.cmd.Stdout, h.cmd.Stderr = h.log, h.log
	return h.cmd.Start()
}

// kill is the host's death: its children and Telegraf, SIGKILL.
func (h *host) kill() {
	for _, child := range []string{"wecom_sms_mail", "ckafka_lag"} {
		if pid := testkit.ChildPID(h.cmd.Process.Pid, child); pid != 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	_ = h.cmd.Process.Kill()
	_ = h.cmd.Wait()
}

func (h *host) stop() {
	if h.cmd.ProcessState == nil {
		stop(h.cmd)
	}
}

// active is the host whose output holds the lease (the only host without
// a pair); while nobody does (a takeover), a live host.
func (d *driver) active() *host {
	if len(d.hosts) == 1 {
		return d.hosts[0]
	}
	live := slices.IndexFunc(d.hosts, func(h *host) bool { return h.cmd.ProcessState == nil })
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.brokers...))
	if err == nil {
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		holder, err := lease.Holder(ctx, cl, "ckafka_lag_alerting", "ckafka_lag_alerting")
		for _, h := range d.hosts {
			if err == nil && h.name == holder.Name && h.cmd.ProcessState == nil {
				return h
			}
		}
	}
	return d.hosts[max(live, 0)]
}

// logs is every host's Telegraf log.
func (d *driver) logs() string {
	var b strings.Builder
	for _, h := range d.hosts {
		b.WriteString(h.log.String())
	}
	return b.String()
}
