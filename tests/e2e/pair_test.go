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
func pairConfDir(t *testing.T, name string, brokers []string) string {
	t.Helper()
	dir := t.TempDir()
	list := `["` + strings.Join(brokers, `", "`) + `"]`
	for file, extra := range map[string]string{
		"wecom_sms_mail.conf": fmt.Sprintf("\n  [outputs.wecom_sms_mail.cluster]\n    brokers = %s\n    member_name = %q\n    session_timeout = %q\n",
			list, name, pairSession),
		"ckafka_lag.conf": fmt.Sprintf("  cluster_brokers = %s\n  cluster_member_name = %q\n  cluster_session_timeout = %q\n",
			list, name, pairSession),
	} {
		raw, err := os.ReadFile(filepath.Join(root, "etc", file))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, file), append(raw, extra...), 0o600))
	}
	return dir
}

func startHost(t *testing.T, s *sim.Sim, name string, brokers []string, settings sim.Settings) *host {
	t.Helper()
	settings.ConfDir = pairConfDir(t, name, brokers)
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

// TestPairOneVoice: two real Telegrafs run the drop-in config with the
// cluster table against a 3-broker kfake; the robot hears each message
// once, through a SIGKILL of the active host, a SIGSTOP of the new active's
// output (it is fenced after SIGCONT), and a silence added on the standby.
func TestPairOneVoice(t *testing.T) {
	kafka, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.GroupMinSessionTimeout(500*time.Millisecond))
	require.NoError(t, err)
	defer kafka.Close()
	brokers := kafka.ListenAddrs()
	s, err := sim.Start(t.TempDir())
	require.NoError(t, err)
	defer s.Close()
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
	awaitLine(t, s.Robot, 30*time.Second, "group billing topic payments: lag 3000")
	time.Sleep(3*repeat + time.Second)
	first, times := alertMessages(s.Robot.Messages(), "billing")
	require.Equal(t, 1, first, "one first message")
	requireSpaced(t, times, repeat, "steady state")

	// host-a dies mid-incident.
	killed := time.Now()
	a.kill(t)
	require.Eventually(t, func() bool { return b.logged("Cluster: active") }, pairSession+10*time.Second, 50*time.Millisecond)
	tookOver := time.Since(killed)
	notice, _ := awaitLine(t, s.Robot, 30*time.Second, "Alerting host changed: host-b took over from host-a")
	require.Contains(t, notice.Content, "critical <font color=\"warning\">1</font>", "the notice counts what still fires")
	require.NotContains(t, notice.Content, "group billing", "without listing it (a long list would read as reminders)")
	t.Logf("SIGKILL of host-a → host-b active: %s (session_timeout %s)", tookOver.Round(10*time.Millisecond), pairSession)
	time.Sleep(2*repeat + time.Second)
	first, times = alertMessages(s.Robot.Messages(), "billing")
	require.Equal(t, 1, first, "the takeover does not repeat the first message: %v", contents(s.Robot.Messages()))
	requireSpaced(t, times, repeat, "across the kill")
	require.Greater(t, len(times), 4, "reminders go on after the takeover")

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
