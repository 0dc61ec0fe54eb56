package wecom_sms_mail

import (
	"net"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	fakewecom "github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/wecom"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/kafkaconn"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/cluster"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/wecom"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/silence"
)

// pairEnv is a kfake cluster and one robot that two members share.
type pairEnv struct {
	kafka *kfake.Cluster
	ports map[int32]int // by node ID
	robot *fakewecom.Robot
	url   string
}

func newPairEnv(t *testing.T) *pairEnv {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "100"}))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	e := &pairEnv{kafka: c, robot: fakewecom.New(robotKey), ports: map[int32]int{}}
	for node, addr := range c.ListenAddrs() { // node IDs are 0..n-1 in order at start
		_, port, err := net.SplitHostPort(addr)
		require.NoError(t, err)
		e.ports[int32(node)], err = strconv.Atoi(port)
		require.NoError(t, err)
	}
	srv := httptest.NewServer(e.robot)
	t.Cleanup(srv.Close)
	e.url = srv.URL + "/cgi-bin/webhook/send?key=" + robotKey
	return e
}

// member starts a member named name with its own state directory.
func (e *pairEnv) member(t *testing.T, name string, modify ...func(*WeComSMSMail)) (*WeComSMSMail, *testutil.CaptureLogger) {
	t.Helper()
	log := &testutil.CaptureLogger{Name: name}
	p := New()
	p.Log = log
	p.GroupWait = config.Duration(50 * time.Millisecond)
	p.RepeatInterval = config.Duration(time.Second)
	p.Timeout = config.Duration(2 * time.Second)
	p.retryBase = 10 * time.Millisecond
	p.tickEvery = 20 * time.Millisecond
	p.StateFile = filepath.Join(t.TempDir(), "state.json")
	p.WeCom = &wecom.Config{WebhookURLs: []string{e.url}}
	p.Cluster = &cluster.Config{Config: kafkaconn.Config{Brokers: e.kafka.ListenAddrs()}, MemberName: name,
		SessionTimeout: config.Duration(time.Second)}
	for _, m := range modify {
		m(p)
	}
	require.NoError(t, p.Init())
	require.NoError(t, p.Connect())
	t.Cleanup(func() { _ = p.Close() })
	return p, log
}

func writeBoth(t *testing.T, ms []telegraf.Metric, ps ...*WeComSMSMail) {
	t.Helper()
	for _, p := range ps {
		require.NoError(t, p.Write(ms))
	}
}

func count(msgs []fakewecom.Message, substr string) int {
	n := 0
	for _, m := range msgs {
		if strings.Contains(m.Content, substr) {
			n++
		}
	}
	return n
}

// awaitOneActive waits until exactly one member delivers and returns it.
func awaitOneActive(t *testing.T, ps map[string]*WeComSMSMail) string {
	t.Helper()
	require.Eventually(t, func() bool { return len(activeOf(ps)) == 1 }, 20*time.Second, 10*time.Millisecond)
	return activeOf(ps)[0]
}

// activeAndStandby waits until one of the two members is active and
// returns it, then the other.
func activeAndStandby(t *testing.T, a, b *WeComSMSMail) (active, standby *WeComSMSMail) {
	t.Helper()
	if awaitOneActive(t, map[string]*WeComSMSMail{"host-a": a, "host-b": b}) == "host-a" {
		return a, b
	}
	return b, a
}

// requireSpaced fails when two reminders of the alert came closer than half
// the repeat interval (1 s here): one of them was sent twice.
func requireSpaced(t *testing.T, msgs []fakewecom.Message, when string) {
	t.Helper()
	var last time.Time
	for _, m := range msgs {
		if !strings.Contains(m.Content, "持续") {
			continue
		}
		require.False(t, !last.IsZero() && m.At.Sub(last) < 500*time.Millisecond, "%s: two reminders %s apart: %v", when, m.At.Sub(last), msgs)
		last = m.At
	}
}

func activeOf(ps map[string]*WeComSMSMail) []string {
	var out []string
	for name, p := range ps {
		if p.member.Acting() {
			out = append(out, name)
		}
	}
	return out
}

// Two members fed the same metrics deliver each message once; when the
// active one leaves, the other takes over, says so once, and neither
// repeats the first message nor loses the reminders.
func TestPairDeliversOnceAndHandsOver(t *testing.T) {
	e := newPairEnv(t)
	a, _ := e.member(t, "host-a")
	b, logB := e.member(t, "host-b")
	ps := map[string]*WeComSMSMail{"host-a": a, "host-b": b}
	awaitOneActive(t, ps)

	// Fed every 100 ms until two reminders came (the events this part
	// waits for), not for a fixed window: on a loaded machine the first
	// message alone may take seconds.
	start := time.Now()
	var msgs []fakewecom.Message
	for count(msgs, "持续") < 2 {
		require.Less(t, time.Since(start), 30*time.Second, "reminders each second: %v", msgs)
		require.LessOrEqual(t, len(activeOf(ps)), 1, "never two active")
		writeBoth(t, []telegraf.Metric{lagMetric("billing", "critical", 2500, 2000)}, a, b)
		time.Sleep(100 * time.Millisecond)
		msgs = e.robot.Messages()
	}
	elapsed := time.Since(start)
	require.Equal(t, 1, count(msgs, "billing")-count(msgs, "持续"), "one first message: %v", msgs)
	reminders := count(msgs, "持续")
	require.LessOrEqual(t, reminders, int(elapsed/time.Second)+1, "no reminder twice (repeat 1 s, %s): %v", elapsed, msgs)

	requireSpaced(t, msgs, "steady state")
	active := activeOf(ps)[0]
	standby := "host-b"
	if active == "host-b" {
		standby = "host-a"
	}
	before := len(msgs)
	require.NoError(t, ps[active].Close())
	require.Eventually(t, func() bool { return ps[standby].member.Acting() }, 10*time.Second, 10*time.Millisecond)
	notice := cluster.TakeoverNotice("zh", standby, active)
	require.Eventually(t, func() bool { return count(e.robot.Messages(), notice) == 1 }, 10*time.Second, 10*time.Millisecond)
	for range 20 {
		writeBoth(t, []telegraf.Metric{lagMetric("billing", "critical", 2600, 2000)}, ps[standby])
		time.Sleep(100 * time.Millisecond)
	}
	after := e.robot.Messages()[before:]
	require.Zero(t, count(after, "billing")-count(after, "持续"), "the new active does not repeat the first message: %v", after)
	require.GreaterOrEqual(t, count(after, "持续"), 1, "reminders go on: %v", after)
	require.Equal(t, 1, count(e.robot.Messages(), notice), "the takeover is told once")
	if standby == "host-b" {
		require.NotEmpty(t, logB.Messages())
	}
}

// A silence added on the standby's host silences the alert on the active.
func TestPairSilenceOnStandbyReachesActive(t *testing.T) {
	e := newPairEnv(t)
	a, _ := e.member(t, "host-a")
	b, _ := e.member(t, "host-b")
	active, standby := activeAndStandby(t, a, b)
	path, err := standby.SilencePath()
	require.NoError(t, err)
	matchers, err := silence.ParseMatcherArgs([]string{"group=billing"})
	require.NoError(t, err)
	_, err = silence.Add(path, silence.Silence{Matchers: matchers,
		StartsAt: time.Now(), EndsAt: time.Now().Add(time.Hour), CreatedBy: "test"}, time.Now())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		obs, ok := active.engine.Observation(lagMetric("billing", "critical", 2500, 2000))
		return ok && active.parts.silences.Silenced(obs.Key, time.Now())
	}, 10*time.Second, 20*time.Millisecond, "the active member learns the silence")
	for range 10 {
		writeBoth(t, []telegraf.Metric{lagMetric("billing", "critical", 2500, 2000)}, a, b)
		time.Sleep(100 * time.Millisecond)
	}
	require.Zero(t, count(e.robot.Messages(), "billing"), "silenced on the active member: %v", e.robot.Messages())
}

// A broker restart (the group's coordinator and the log's leader go away
// and come back) neither repeats nor loses a message, whichever member
// ends up active.
func TestPairSurvivesBrokerRestart(t *testing.T) {
	e := newPairEnv(t)
	a, _ := e.member(t, "host-a")
	b, _ := e.member(t, "host-b")
	ps := map[string]*WeComSMSMail{"host-a": a, "host-b": b}
	awaitOneActive(t, ps)
	feed := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); {
			writeBoth(t, []telegraf.Metric{lagMetric("billing", "critical", 2500, 2000)}, a, b)
			time.Sleep(100 * time.Millisecond)
		}
	}
	feed(2 * time.Second)
	restarted := map[int32]bool{}
	for _, node := range []int32{e.kafka.CoordinatorFor(cluster.DefaultName), e.kafka.LeaderFor(cluster.DefaultName, 0)} {
		if restarted[node] {
			continue
		}
		restarted[node] = true
		port := e.ports[node]
		require.NoError(t, e.kafka.RemoveNode(node))
		feed(time.Second)
		_, _, err := e.kafka.AddNode(node, port)
		require.NoError(t, err)
	}
	feed(4 * time.Second)
	awaitOneActive(t, ps)
	// Reminders go on after the restart: the next one is waited for by its
	// kind, not judged by the age of the last message (which a loaded
	// machine stretches).
	after := time.Now()
	reminded := func() bool {
		for _, m := range e.robot.Messages() {
			if m.At.After(after) && strings.Contains(m.Content, "billing") && strings.Contains(m.Content, "持续") {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(10 * time.Second); !reminded(); {
		require.True(t, time.Now().Before(deadline), "no reminder within 10 s after the restart: %v", e.robot.Messages())
		feed(100 * time.Millisecond)
	}
	msgs := e.robot.Messages()
	require.Equal(t, 1, count(msgs, "billing")-count(msgs, "持续")-count(msgs, "告警主机切换"), "one first message: %v", msgs)
	requireSpaced(t, msgs, "across the restart")
}

// A quiet-hour hold survives a takeover: the new active member holds the
// same notification for its digest, and nothing is sent in between.
func TestPairKeepsQuietHourHolds(t *testing.T) {
	e := newPairEnv(t)
	now := time.Now().UTC()
	window := now.Add(-time.Hour).Format("15:04") + "-" + now.Add(time.Hour).Format("15:04")
	quiet := func(p *WeComSMSMail) {
		p.QuietHours, p.QuietHoursMinLevel, p.Timezone = []string{window}, "critical", "UTC"
	}
	a, _ := e.member(t, "host-a", quiet)
	b, _ := e.member(t, "host-b", quiet)
	active, standby := activeAndStandby(t, a, b)
	held := func(p *WeComSMSMail) int {
		n := 0
		for _, notes := range p.engine.DispatchState().Held {
			n += len(notes)
		}
		return n
	}
	require.Eventually(t, func() bool {
		writeBoth(t, []telegraf.Metric{lagMetric("billing", "warning", 1500, 1000)}, a, b)
		return held(active) > 0
	}, 10*time.Second, 100*time.Millisecond, "the warning is held in quiet hours")
	require.NoError(t, active.Close())
	require.Eventually(t, func() bool { return standby.member.Acting() }, 10*time.Second, 10*time.Millisecond)
	require.Positive(t, held(standby), "the new active holds it too")
	require.Zero(t, count(e.robot.Messages(), "billing"), "nothing about it is sent during quiet hours")
}
