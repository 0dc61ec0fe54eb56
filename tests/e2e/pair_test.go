package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/wecom"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/sim"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
)

// pairSession is the cluster's session_timeout in these tests.
const pairSession = 2 * time.Second

// host is one Telegraf of the HA pair, with its own state and config.
type host struct {
	name     string
	cmd      *exec.Cmd
	log      *testkit.SyncBuffer
	env      []string
	conf     string // the output's config file
	telegraf string
}

// pairConfDir is etc/ with the cluster table added to both plugins' files.
func pairConfDir(t *testing.T, name string, brokers []string, session time.Duration, outputExtra string) string {
	t.Helper()
	dir := t.TempDir()
	list := `["` + strings.Join(brokers, `", "`) + `"]`
	for file, extra := range map[string]string{
		"wecom_sms_mail.conf": fmt.Sprintf("\n  [outputs.wecom_sms_mail.cluster]\n    brokers = %s\n    member_name = %q\n    session_timeout = %q\n",
			list, name, session) + outputExtra,
		"ckafka_lag.conf": fmt.Sprintf("  cluster_brokers = %s\n  cluster_member_name = %q\n  cluster_session_timeout = %q\n",
			list, name, session),
	} {
		raw, err := os.ReadFile(filepath.Join(root, "etc", file))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, file), append(raw, extra...), 0o600))
	}
	return dir
}

// startHost starts a host of the pair; session is the cluster's
// session_timeout (pairSession when not given).
func startHost(t *testing.T, s *sim.Sim, name string, brokers []string, settings sim.Settings, session ...time.Duration) *host {
	t.Helper()
	return startHostWith(t, s, name, brokers, settings, append(session, pairSession)[0], "")
}

// startHostWith starts a host of the pair whose output config ends with
// outputExtra (tables of [[outputs.wecom_sms_mail]]).
func startHostWith(t *testing.T, s *sim.Sim, name string, brokers []string, settings sim.Settings, session time.Duration, outputExtra string) *host {
	t.Helper()
	settings.ConfDir = pairConfDir(t, name, brokers, session, outputExtra)
	settings.StateDir = t.TempDir()
	settings.BinDir = binDir
	h := &host{name: name, log: testkit.NewSyncBuffer(), conf: filepath.Join(settings.ConfDir, "wecom_sms_mail.conf"),
		telegraf: testkit.TelegrafBinary(t, root)}
	h.env = append(s.Env(root, settings), "CKAFKA_LAG_HOSTNAME="+name)
	h.start(t)
	t.Cleanup(func() {
		if h.cmd.ProcessState == nil {
			_ = h.cmd.Process.Signal(syscall.SIGTERM)
			_ = h.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("%s's Telegraf log:\n%s", name, h.log.String())
		}
	})
	return h
}

func (h *host) start(t *testing.T) {
	t.Helper()
	h.cmd = exec.Command(h.telegraf, "--strict-env-handling", "--config", filepath.Join(root, "sample.conf"))
	h.cmd.Env = h.env
	h.cmd.Stdout, h.cmd.Stderr = h.log, h.log
	require.NoError(t, h.cmd.Start())
}

// kill is the host's death: Telegraf and its children, SIGKILL.
func (h *host) kill(t *testing.T) {
	t.Helper()
	for _, child := range []string{"wecom_sms_mail", "ckafka_lag"} {
		if pid := testkit.ChildPID(h.cmd.Process.Pid, child); pid != 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	require.NoError(t, h.cmd.Process.Kill())
	_ = h.cmd.Wait()
}

func (h *host) output(t *testing.T) int {
	t.Helper()
	var pid int
	require.Eventually(t, func() bool { pid = testkit.ChildPID(h.cmd.Process.Pid, "wecom_sms_mail"); return pid != 0 },
		10*time.Second, 50*time.Millisecond)
	return pid
}

func (h *host) logged(s string) bool { return strings.Contains(h.log.String(), s) }

// alertMessages returns how many messages about the group's alert were
// first (not reminder) messages, and when each message came.
func alertMessages(msgs []wecom.Message, group string) (first int, times []time.Time) {
	for _, m := range msgs {
		if !strings.Contains(m.Content, "group "+group) || strings.Contains(m.Content, "took over") {
			continue
		}
		if !strings.Contains(m.Content, ", for ") { // a reminder says how long it has fired
			first++
		}
		times = append(times, m.At)
	}
	return first, times
}

// pairWorld is a 3-broker kfake for the pair's lease and log, and the
// simulator both hosts collect from; both close with the test.
func pairWorld(t *testing.T) ([]string, *sim.Sim) {
	t.Helper()
	kafka, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "500"}))
	require.NoError(t, err)
	t.Cleanup(kafka.Close)
	s, err := sim.Start(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return kafka.ListenAddrs(), s
}

// TestPairOneVoice: two real Telegrafs run the drop-in config with the
// cluster table against a 3-broker kfake; the robot hears each message
// once, through a SIGKILL of the active host, a SIGSTOP of the new active's
// output (it is fenced after SIGCONT), and a silence added on the standby.
func TestPairOneVoice(t *testing.T) {
	brokers, s := pairWorld(t)
	steadyGroups(s)
	const repeat = 4 * time.Second
	settings := sim.Settings{Interval: "1s", FlushInterval: "1s", GroupWait: "1s", RepeatInterval: repeat.String(),
		StaleAfter: "30s", RestartDelay: "1s", Language: "en"}

	a := startHost(t, s, "host-a", brokers, settings)
	require.Eventually(t, func() bool { return a.logged("Cluster: active") }, 30*time.Second, 100*time.Millisecond, "host-a takes the lease")
	b := startHost(t, s, "host-b", brokers, settings)
	require.Eventually(t, func() bool { return b.logged("Cluster: standby (active: host-a)") }, 30*time.Second, 100*time.Millisecond)

	// Steady state: the first message once, reminders once each.
	s.SetLag("billing", "payments", 3000)
	awaitLine(t, s.Robot, 30*time.Second, titleAlert, "group billing topic payments: lag 3000")
	time.Sleep(3*repeat + time.Second)
	first, times := alertMessages(s.Robot.Messages(), "billing")
	require.Equal(t, 1, first, "one first message")
	requireSpaced(t, times, repeat, "steady state")

	// host-a dies mid-incident.
	killed := time.Now()
	a.kill(t)
	require.Eventually(t, func() bool { return b.logged("Cluster: active") }, pairSession+10*time.Second, 50*time.Millisecond)
	tookOver := time.Since(killed)
	notice, _ := awaitLine(t, s.Robot, 30*time.Second, "Alerting host changed: host-b took over from host-a", "Alerting host changed: host-b took over from host-a")
	require.Contains(t, notice.Content, "critical <font color=\"warning\">1</font>", "the notice counts what still fires")
	require.NotContains(t, notice.Content, "group billing", "without listing it (a long list would read as reminders)")
	t.Logf("SIGKILL of host-a → host-b active: %s (session_timeout %s)", tookOver.Round(10*time.Millisecond), pairSession)
	// Reminders go on after the takeover: wait for the fifth message about
	// billing (the event), not a fixed window a loaded machine overruns.
	told := len(times)
	require.Eventually(t, func() bool {
		_, times = alertMessages(s.Robot.Messages(), "billing")
		return len(times) > max(4, told)
	}, 2*repeat+30*time.Second, 100*time.Millisecond, "reminders go on after the takeover")
	first, times = alertMessages(s.Robot.Messages(), "billing")
	require.Equal(t, 1, first, "the takeover does not repeat the first message: %v", contents(s.Robot.Messages()))
	requireSpaced(t, times, repeat, "across the kill")

	// host-a comes back as standby; host-b's output is paused for three
	// session timeouts: host-a takes over, host-b is fenced after SIGCONT.
	a.log = testkit.NewSyncBuffer()
	a.start(t)
	require.Eventually(t, func() bool { return a.logged("Cluster: standby (active: host-b)") }, 30*time.Second, 100*time.Millisecond)
	out := b.output(t)
	stopped := time.Now()
	require.NoError(t, syscall.Kill(out, syscall.SIGSTOP))
	require.Eventually(t, func() bool { return a.logged("Cluster: active") }, 3*pairSession+10*time.Second, 50*time.Millisecond)
	time.Sleep(time.Until(stopped.Add(3 * pairSession)))
	require.NoError(t, syscall.Kill(out, syscall.SIGCONT))
	require.Eventually(t, func() bool { return b.logged("Cluster: lost the lease") }, 10*time.Second, 50*time.Millisecond, "host-b learns it was replaced")
	time.Sleep(2*repeat + time.Second)
	first, times = alertMessages(s.Robot.Messages(), "billing")
	require.Equal(t, 1, first)
	requireSpaced(t, times, repeat, "across the pause")

	// A silence added on the standby (host-b) silences the alert on the
	// active host-a.
	silence := exec.Command(filepath.Join(binDir, "wecom_sms_mail"), "-config", b.conf, "-silence", "add",
		"-match", "group=billing", "-for", "1h", "-author", "e2e")
	silence.Env = b.env
	outB, err := silence.CombinedOutput()
	require.NoError(t, err, string(outB))
	time.Sleep(3 * time.Second) // replicated within a tick or two, and a message in flight lands
	_, before := alertMessages(s.Robot.Messages(), "billing")
	time.Sleep(2*repeat + time.Second)
	_, after := alertMessages(s.Robot.Messages(), "billing")
	require.Equal(t, len(before), len(after), "no reminder while silenced")
}

// requireSpaced fails when two messages about one alert came closer than
// half the repeat interval: one of them was sent twice.
func requireSpaced(t *testing.T, times []time.Time, repeat time.Duration, when string) {
	t.Helper()
	for i := 1; i < len(times); i++ {
		gap := times[i].Sub(times[i-1])
		require.GreaterOrEqual(t, gap, repeat/2, "%s: messages %d and %d came %s apart: a duplicate", when, i-1, i, gap)
	}
}

func contents(msgs []wecom.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "--- %s\n%s\n", m.At.Format("15:04:05.000"), m.Content)
	}
	return b.String()
}

// TestPairResolutionAfterKill: host-a delivers two critical alerts and is
// SIGKILLed at the moment one of them (ha-g2) recovers. host-b takes over
// with a cold processor: ha-g1 still breaches (its reminders go on),
// ha-g2's resolution is owed to the robot that heard of it and must come
// within session_timeout + interval + group_wait of the data that resolves
// it (plus the time Telegraf takes to flush, and host-b's collector to
// learn the lease moved).
func TestPairResolutionAfterKill(t *testing.T) {
	brokers, s := pairWorld(t)
	for _, g := range []string{"ha-g1", "ha-g2"} {
		s.SetLag(g, "orders", 100)
		s.SetFlow(g, "orders", 20, 20)
	}
	const session, interval, groupWait = 4 * time.Second, 2 * time.Second, time.Second
	settings := sim.Settings{Interval: interval.String(), FlushInterval: "1s", GroupWait: groupWait.String(), RepeatInterval: "8s",
		StaleAfter: "1m", RestartDelay: "1s", Language: "en"}
	a := startHost(t, s, "host-a", brokers, settings, session)
	require.Eventually(t, func() bool { return a.logged("Cluster: active") }, 30*time.Second, 100*time.Millisecond, "host-a takes the lease")
	b := startHost(t, s, "host-b", brokers, settings, session)
	require.Eventually(t, func() bool { return b.logged("Cluster: standby (active: host-a)") }, 30*time.Second, 100*time.Millisecond)

	s.SetLag("ha-g1", "orders", 3000)
	s.SetLag("ha-g2", "orders", 3000)
	// Each alert's first line is waited for on its own: under load the two
	// may fire a collection apart and go out in two messages.
	told := map[string]bool{}
	testkit.AwaitMatch(t, s.Robot.Received(), 40*time.Second, "an alert message with each of ha-g1's and ha-g2's lines",
		func(m wecom.Message) bool {
			if m.Title() != titleAlert {
				return false
			}
			for _, g := range []string{"ha-g1", "ha-g2"} {
				if wecom.HasLine("group " + g + " topic orders: lag 3000")(m) {
					told[g] = true
				}
			}
			return told["ha-g1"] && told["ha-g2"]
		})
	// Killed the moment the robot accepted the message that completes them
	// (host-a may not have recorded the delivery yet), as ha-g2 recovers.
	s.SetLag("ha-g2", "orders", 0)
	a.kill(t)
	recovered := time.Now()
	resolved, seen := awaitAlertLine(t, s.Robot, session+interval+groupWait+20*time.Second, "group ha-g2 topic orders", ", resolved")
	took := time.Since(recovered)
	require.Contains(t, resolved.Content, "resolved")
	require.False(t, wecom.HasLine("group ha-g1 topic orders", ", resolved")(resolved), "ha-g1 still breaches: %v", contents(seen))
	t.Logf("kill + recovery → ha-g2's resolution from host-b: %s (session_timeout %s, interval %s, group_wait %s)",
		took.Round(10*time.Millisecond), session, interval, groupWait)
	// Telegraf's flush (1s) and the collector's look at the lease (once a
	// collection) come on top of the contract's sum.
	require.Less(t, took, session+interval+groupWait+interval+2*time.Second)
}
