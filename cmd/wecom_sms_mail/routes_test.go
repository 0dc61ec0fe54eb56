package main

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/wecom"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
)

const (
	platformKey = "platform-0000-1111-2222-3333444455551"
	billingKey  = "billing-00000-1111-2222-3333444455552"
	dataKey     = "data-00000000-1111-2222-3333444455553"
)

// teams is one fake robot server answering for three robots: the
// platform's (the default route), the billing team's and the data team's.
type teams struct {
	robot *wecom.Robot
	url   string
	env   []string
}

func startTeams(t *testing.T) *teams {
	t.Helper()
	tm := &teams{robot: wecom.New(platformKey, billingKey, dataKey)}
	srv := httptest.NewServer(tm.robot)
	t.Cleanup(srv.Close)
	tm.url = srv.URL + "/cgi-bin/webhook/send?key="
	tm.env = append(os.Environ(), "TEST_ROBOT_BASE="+tm.url)
	return tm
}

func teamsConfig(t *testing.T, top, routes string) string {
	t.Helper()
	conf := `[[outputs.wecom_sms_mail]]
  timeout = "2s"
  group_wait = "200ms"
` + top + `
  [outputs.wecom_sms_mail.wecom]
    webhook_urls = ["${TEST_ROBOT_BASE}` + platformKey + `"]
` + routes
	p, err := testkit.WriteFile(t.TempDir(), "wecom_sms_mail.conf", conf)
	require.NoError(t, err)
	return p
}

const teamRoutes = `
  [[outputs.wecom_sms_mail.route]]
    match = { group = "billing-*" }
    wecom_webhook_urls = ["${TEST_ROBOT_BASE}` + billingKey + `"]

  [[outputs.wecom_sms_mail.route]]
    match = { group = "etl-*" }
    wecom_webhook_urls = ["${TEST_ROBOT_BASE}` + dataKey + `"]
    continue = true

  [[outputs.wecom_sms_mail.route]]
    match = { group = "*" }
    min_level = "critical"
    wecom_webhook_urls = ["${TEST_ROBOT_BASE}` + platformKey + `"]
`

func (tm *teams) start(t *testing.T, conf string) *proc {
	t.Helper()
	cmd := exec.Command(binary, "-config", conf, "-debug")
	cmd.Env = tm.env
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	p := &proc{cmd: cmd, stdin: stdin, stderr: testkit.NewSyncBuffer()}
	cmd.Stderr = p.stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return p
}

// received waits for the next message and says which robot got it.
func (tm *teams) received(t *testing.T, what string) (robot, content string) {
	t.Helper()
	m := testkit.Await(t, tm.robot.Received(), 15*time.Second, what)
	switch m.Key {
	case platformKey:
		return "platform", m.Content
	case billingKey:
		return "billing", m.Content
	case dataKey:
		return "data", m.Content
	}
	return m.Key, m.Content
}

func TestRoutesReachTheTeamThatOwnsTheAlert(t *testing.T) {
	tm := startTeams(t)
	p := tm.start(t, teamsConfig(t, "", teamRoutes))
	p.send(t, line("billing-pay", "warning", 1500))
	robot, content := tm.received(t, "billing's alert")
	require.Equal(t, "billing", robot)
	require.Contains(t, content, "billing-pay")

	p.send(t, line("etl-daily", "critical", 2500)) // data team, and by continue the platform's critical route
	got := map[string]string{}
	for range 2 {
		robot, content := tm.received(t, "etl's alert")
		got[robot] = content
	}
	require.Contains(t, got["data"], "etl-daily")
	require.Contains(t, got["platform"], "etl-daily")

	p.send(t, line("search", "warning", 1500)) // no route: the default destinations
	robot, content = tm.received(t, "the default route")
	require.Equal(t, "platform", robot)
	require.Contains(t, content, "search")
	testkit.Quiet(t, tm.robot.Received(), 500*time.Millisecond, "a message to a team that does not own the alert")
}

func TestRoutesTestNotifyListsEveryDestination(t *testing.T) {
	tm := startTeams(t)
	cmd := exec.Command(binary, "-config", teamsConfig(t, "", teamRoutes), "-test-notify")
	cmd.Env = tm.env
	out, err := cmd.Output()
	require.NoError(t, err, string(out))
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, 3, "the platform robot named twice is one destination: %s", out)
	require.Regexp(t, `^default wecom robot 127\.0\.0\.1:\d+ key \*\*\*5551: ok$`, lines[0])
	require.Regexp(t, `^route 1 wecom robot 127\.0\.0\.1:\d+ key \*\*\*5552: ok$`, lines[1])
	require.Regexp(t, `^route 2 wecom robot 127\.0\.0\.1:\d+ key \*\*\*5553: ok$`, lines[2])
	for _, k := range []string{platformKey, billingKey, dataKey} {
		require.NotContains(t, string(out), k)
	}
}

func TestRouteNamingAnAbsentChannelIsAConfigError(t *testing.T) {
	tm := startTeams(t)
	conf := teamsConfig(t, "", `
  [[outputs.wecom_sms_mail.route]]
    match = { group = "billing-*" }
    phone_numbers = ["13800000001"]
`)
	cmd := exec.Command(binary, "-config", conf)
	cmd.Env, cmd.Stdin = tm.env, strings.NewReader("")
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "route[0].phone_numbers: [outputs.wecom_sms_mail.sms] is absent")
}

// TestSilenceWhileRunning: a silence added from the command line mutes a
// firing alert in the running plugin; expiring it lets the alert through
// within group_wait + 5 s.
func TestSilenceWhileRunning(t *testing.T) {
	tm := startTeams(t)
	state := filepath.Join(t.TempDir(), "alerts.state")
	conf := teamsConfig(t, fmt.Sprintf("  state_file = %q", state), "")
	p := tm.start(t, conf)

	add := exec.Command(binary, "-config", conf, "-silence", "add", "-match", "group=billing-*", "-for", "2h", "-comment", "backfill", "-author", "ops")
	add.Env = tm.env
	out, err := add.Output()
	require.NoError(t, err)
	id := strings.TrimSpace(string(out))
	require.Regexp(t, `^[0-9a-f]{16}$`, id, "the ID alone on stdout")
	time.Sleep(1500 * time.Millisecond) // the plugin re-reads the file within a tick

	p.send(t, line("billing-pay", "critical", 2500), line("search", "warning", 1500))
	robot, content := tm.received(t, "the unsilenced alert")
	require.Equal(t, "platform", robot)
	require.Contains(t, content, "search")
	require.NotContains(t, content, "billing-pay", "silenced")
	testkit.Quiet(t, tm.robot.Received(), time.Second, "a message about the silenced alert")

	list := exec.Command(binary, "-config", conf, "-silence", "list")
	list.Env = tm.env
	out, err = list.Output()
	require.NoError(t, err)
	require.Contains(t, string(out), id)
	require.Contains(t, string(out), "group=billing-*")
	require.Contains(t, string(out), `"backfill"`)
	require.Contains(t, string(out), "active")

	expire := exec.Command(binary, "-config", conf, "-silence", "expire", id)
	expire.Env = tm.env
	require.NoError(t, expire.Run())
	expired := time.Now()
	_, content = tm.received(t, "the alert after its silence ended")
	require.Contains(t, content, "billing-pay")
	require.Less(t, time.Since(expired), 200*time.Millisecond+5*time.Second, "within group_wait + 5 s")
	require.NoError(t, p.stdin.Close())
	require.NoError(t, p.cmd.Wait())
}

func TestSilenceCommandNeedsAFile(t *testing.T) {
	tm := startTeams(t)
	cmd := exec.Command(binary, "-config", teamsConfig(t, "", ""), "-silence", "list")
	cmd.Env = tm.env
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "set silence_file (or state_file)")
}

// TestQuietHoursHoldThenDigest: a quiet window around now holds a warning
// (a critical passes through), survives a SIGKILL, and when the window
// closes the robot gets one digest with what still fires and what fired
// and resolved in between.
func TestQuietHoursHoldThenDigest(t *testing.T) {
	t.Parallel()
	if s := time.Now().Second(); s > 45 {
		time.Sleep(time.Duration(61-s) * time.Second) // room to act before the window closes
	}
	now := time.Now().UTC()
	window := fmt.Sprintf("%s-%s", now.Format("15:04"), now.Add(time.Minute).Format("15:04"))
	tm := startTeams(t)
	state := filepath.Join(t.TempDir(), "alerts.state")
	conf := teamsConfig(t, fmt.Sprintf("  state_file = %q\n  timezone = \"UTC\"\n  quiet_hours = [%q]\n  quiet_hours_min_level = \"critical\"", state, window), "")
	p := tm.start(t, conf)
	p.send(t, line("billing", "warning", 1500), line("flap", "warning", 1200), line("etl", "critical", 2500))
	_, content := tm.received(t, "the critical alert, through the quiet hours")
	require.Contains(t, content, "etl")
	require.NotContains(t, content, "billing")
	awaitHeld(t, state, "group=flap", alert.KindFiring)
	p.send(t, line("flap", "ok", 10))
	awaitHeld(t, state, "group=flap", alert.KindResolved)

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	_ = p.cmd.Wait()
	p = tm.start(t, conf)
	p.send(t, line("billing", "warning", 1600))

	digest := testkit.Await(t, tm.robot.Received(), 75*time.Second, "the digest when the quiet hours end").Content
	require.False(t, time.Now().UTC().Before(now.Truncate(time.Minute).Add(time.Minute)), "not before the window closed")
	require.Contains(t, digest, "billing", "still firing")
	require.Contains(t, digest, "flap", "fired and resolved in between")
	require.Contains(t, digest, "已恢复")
	require.NotContains(t, digest, "etl", "already told")
	testkit.Quiet(t, tm.robot.Received(), time.Second, "a second digest")
}

// awaitHeld waits until the state file holds a notification of kind for
// an alert whose key contains keyPart: a kill after it must not lose it.
func awaitHeld(t *testing.T, stateFile, keyPart string, kind alert.Kind) {
	t.Helper()
	require.Eventually(t, func() bool {
		raw, err := os.ReadFile(stateFile)
		if err != nil {
			return false
		}
		var st struct {
			Held map[string][]alert.Notification `json:"held"`
		}
		if json.Unmarshal(raw, &st) != nil {
			return false
		}
		for _, notes := range st.Held {
			for _, n := range notes {
				if n.Kind == kind && strings.Contains(n.Alert.Key, keyPart) {
					return true
				}
			}
		}
		return false
	}, 30*time.Second, 10*time.Millisecond, "the state file holds the %s %s", keyPart, kind)
}
