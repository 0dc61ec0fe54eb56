package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/wecom"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
)

const benchSession = 2 * time.Second

// member is one wecom_sms_mail binary of an HA pair, fed on stdin.
type member struct {
	name   string
	conf   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *testkit.SyncBuffer
}

// memberConfig writes a member's config: its own state file, the cluster
// table when brokers are given.
func memberConfig(tb testing.TB, name string, brokers []string, dest string) string {
	tb.Helper()
	conf := fmt.Sprintf("[[outputs.wecom_sms_mail]]\n  group_wait = \"10ms\"\n  state_file = %q\n%s",
		filepath.Join(tb.TempDir(), "alerts.state"), dest)
	if len(brokers) > 0 {
		conf += fmt.Sprintf("  [outputs.wecom_sms_mail.cluster]\n    brokers = [\"%s\"]\n    member_name = %q\n    session_timeout = %q\n",
			strings.Join(brokers, `", "`), name, benchSession)
	}
	path, err := testkit.WriteFile(tb.TempDir(), name+".conf", conf)
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

func startMember(tb testing.TB, name, conf string) *member {
	tb.Helper()
	m := &member{name: name, conf: conf, stderr: testkit.NewSyncBuffer()}
	m.cmd = exec.Command(binary, "-config", conf)
	m.cmd.Stderr = m.stderr
	var err error
	if m.stdin, err = m.cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	if err := m.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	return m
}

func (m *member) stop() {
	if m.cmd.ProcessState == nil {
		m.stdin.Close()
		_ = m.cmd.Wait()
	}
}

func (m *member) kill() {
	_ = m.cmd.Process.Signal(syscall.SIGKILL)
	_ = m.cmd.Wait()
}

func (m *member) await(tb testing.TB, s string, within time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(m.stderr.String(), s) {
		if time.Now().After(deadline) {
			tb.Fatalf("%s never logged %q:\n%s", m.name, s, m.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func pairCluster(tb testing.TB) *kfake.Cluster {
	tb.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "500"}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}

// BenchmarkReplication measures what the HA pair adds to a delivery: the
// time from a firing line to the webhook receiver's request, stand-alone
// and as the active member of a pair (its standby fed the same lines), 200
// messages each in one run; and the topic's bytes per delivery.
func BenchmarkReplication(b *testing.B) {
	accepted := make(chan time.Time, 1024)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		accepted <- time.Now()
	}))
	defer srv.Close()
	dest := fmt.Sprintf("  [outputs.wecom_sms_mail.webhook]\n    urls = [%q]\n", srv.URL+"/alerts")
	kafka := pairCluster(b)
	brokers := kafka.ListenAddrs()
	const messages = 200
	run := func(prefix string, members ...*member) []time.Duration {
		var lat []time.Duration
		for i := range max(b.N, messages) {
			sent := time.Now()
			for _, m := range members {
				fmt.Fprintf(m.stdin, "ckafka_lag,group=%s-%d,instance_id=ckafka-1,topic=t alert_level=\"critical\",alert_threshold=2000i,lag=2500i %d\n",
					prefix, i, sent.UnixNano())
			}
			select {
			case at := <-accepted:
				lat = append(lat, at.Sub(sent))
			case <-time.After(10 * time.Second):
				b.Fatalf("message %d never came:\n%s", i, members[0].stderr.String())
			}
		}
		slices.Sort(lat)
		return lat
	}

	alone := startMember(b, "alone", memberConfig(b, "alone", nil, dest))
	b.ResetTimer()
	standalone := run("alone", alone)
	b.StopTimer()
	alone.stop()

	a := startMember(b, "host-a", memberConfig(b, "host-a", brokers, dest))
	defer a.stop()
	a.await(b, "Cluster: active", 30*time.Second)
	s := startMember(b, "host-b", memberConfig(b, "host-b", brokers, dest))
	defer s.stop()
	s.await(b, "Cluster: standby (active: host-a)", 30*time.Second)
	start := topicBytes(b, brokers)
	b.StartTimer()
	paired := run("pair", a, s)
	b.StopTimer()
	time.Sleep(time.Second) // the last state record after the last delivery
	written := topicBytes(b, brokers) - start

	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	p := func(l []time.Duration, q int) time.Duration { return l[len(l)*q/100] }
	b.ReportMetric(ms(p(standalone, 50)), "alone_p50_ms")
	b.ReportMetric(ms(p(standalone, 99)), "alone_p99_ms")
	b.ReportMetric(ms(p(paired, 50)), "pair_p50_ms")
	b.ReportMetric(ms(p(paired, 99)), "pair_p99_ms")
	b.ReportMetric(ms(p(paired, 50)-p(standalone, 50)), "added_p50_ms")
	b.ReportMetric(ms(p(paired, 99)-p(standalone, 99)), "added_p99_ms")
	b.ReportMetric(float64(written)/float64(len(paired)), "topic_bytes/delivery")
}

// topicBytes reads the cluster topic and sums its records' keys and values.
func topicBytes(tb testing.TB, brokers []string) int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("ckafka_lag_alerting"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		tb.Fatal(err)
	}
	defer adm.Close()
	end := endOffset(ctx, tb, adm)
	var n int64
	for read := int64(0); read < end; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			tb.Fatalf("reading the topic: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			n += int64(len(r.Key) + len(r.Value))
			read = r.Offset + 1
		})
	}
	return n
}

// BenchmarkFailover kills the active member (SIGKILL) ten times and
// measures the time to the new active's first delivery, its takeover
// notice on the robot; the killed member restarts as the standby.
func BenchmarkFailover(b *testing.B) {
	robot := wecom.New(robotKey)
	srv := httptest.NewServer(robot)
	defer srv.Close()
	dest := fmt.Sprintf("  [outputs.wecom_sms_mail.wecom]\n    webhook_urls = [%q]\n", srv.URL+"/cgi-bin/webhook/send?key="+robotKey)
	kafka := pairCluster(b)
	brokers := kafka.ListenAddrs()
	confs := map[string]string{}
	for _, name := range []string{"host-a", "host-b"} {
		confs[name] = memberConfig(b, name, brokers, dest)
	}
	active := startMember(b, "host-a", confs["host-a"])
	active.await(b, "Cluster: active", 30*time.Second)
	standby := startMember(b, "host-b", confs["host-b"])
	standby.await(b, "Cluster: standby (active: host-a)", 30*time.Second)
	defer func() { active.stop(); standby.stop() }()
	const kills = 10
	var times []time.Duration
	b.ResetTimer()
	for range max(b.N, kills) {
		killed := time.Now()
		active.kill()
		want := fmt.Sprintf("%s 接替 %s", standby.name, active.name)
	notice:
		for {
			select {
			case m := <-robot.Received():
				if strings.Contains(m.Content, want) {
					times = append(times, m.At.Sub(killed))
					break notice
				}
			case <-time.After(30 * time.Second):
				b.Fatalf("no takeover notice %q:\n%s", want, standby.stderr.String())
			}
		}
		restarted := startMember(b, active.name, active.conf)
		restarted.await(b, "Cluster: standby (active: "+standby.name+")", 30*time.Second)
		active, standby = standby, restarted
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(times[len(times)/2].Seconds(), "median_s")
	b.ReportMetric(times[len(times)-1].Seconds(), "worst_s")
	b.ReportMetric(benchSession.Seconds(), "session_timeout_s")
}

func endOffset(ctx context.Context, tb testing.TB, cl *kgo.Client) int64 {
	tb.Helper()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, "ckafka_lag_alerting")
	if err != nil {
		tb.Fatal(err)
	}
	end, ok := ends.Lookup("ckafka_lag_alerting", 0)
	if !ok || end.Err != nil {
		tb.Fatalf("no end offset: %v", end.Err)
	}
	return end.Offset
}
