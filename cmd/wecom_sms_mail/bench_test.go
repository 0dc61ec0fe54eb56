package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/wecom"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/engine"
)

const (
	benchLines = 1_000_000
	benchKeys  = 100_000
)

// writeBenchInput writes 1,000,000 ckafka_lag lines over 100,000 alert keys
// (2 instances × 5,000 groups × 10 topics), ten collections in a row. In
// every collection 1% of the keys are critical and 2% warning, the rest ok.
func writeBenchInput(b *testing.B) string {
	path := filepath.Join(b.TempDir(), "lines.lp")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	ts := time.Now().UnixNano()
	for i := range benchLines {
		k := i % benchKeys
		level, lag := "ok", int64(k%900)
		switch k % 100 {
		case 0:
			level, lag = "critical", 2000+int64(k)
		case 1, 2:
			level, lag = "warning", 1000+int64(k%1000)
		}
		fmt.Fprintf(w, "ckafka_lag,group=group-%04d,host=collector-1,instance_id=ckafka-%d,instance_name=prod-%d,region=ap-guangzhou,topic=topic-%d alert_level=%q,alert_threshold=2000i,committed_offset=123456789i,lag=%di,log_end_offset=123457789i,max_partition_lag=%di,partitions=16i,uncommitted_partitions=0i %d\n",
			(k/10)%5000, k/50000, k/50000, k%10, level, lag, lag, ts+int64(i/benchKeys)*int64(time.Minute))
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

func benchConfig(b *testing.B, robotURL, groupWait string) string {
	conf := fmt.Sprintf(`[[outputs.wecom_sms_mail]]
  group_wait = %q
  [outputs.wecom_sms_mail.wecom]
    webhook_urls = [%q]
`, groupWait, robotURL+"/cgi-bin/webhook/send?key="+robotKey)
	p, err := testkit.WriteFile(b.TempDir(), "bench.conf", conf)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkThroughput pipes the million lines into the built binary's stdin
// from a file and measures metrics/s and peak RSS.
func BenchmarkThroughput(b *testing.B) {
	input := writeBenchInput(b)
	robot := wecom.New(robotKey)
	robot.SetPerMinute(0) // the sink must not be the bottleneck
	srv := httptest.NewServer(robot)
	defer srv.Close()
	conf := benchConfig(b, srv.URL, "1s")
	b.ResetTimer()
	for range b.N {
		in, err := os.Open(input)
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(binary, "-config", conf)
		cmd.Stdin = in
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		peak := testkit.PeakRSS(cmd.Process.Pid, done)
		consumed := testkit.WaitForInputConsumed(cmd.Process.Pid, 0, stat(b, input).Size())
		err = cmd.Wait()
		close(done)
		// Ingest ends when stdin has been read to the end; what follows is
		// delivery of the queued messages, paced at 20 a minute per robot.
		ingest := (<-consumed).Sub(start)
		in.Close()
		if err != nil {
			b.Fatalf("%v\n%s", err, stderr.String())
		}
		b.ReportMetric(benchLines/ingest.Seconds(), "metrics/s")
		b.ReportMetric(float64(<-peak)/(1<<20), "peak_rss_MB")
		b.ReportMetric(float64(len(robot.Messages())), "wecom_messages")
	}
}

// BenchmarkAlertLatency measures, with group_wait 1s, the time from writing
// the line that makes an alert due to the robot receiving the request.
func BenchmarkAlertLatency(b *testing.B) {
	const groupWait = time.Second
	robot := wecom.New(robotKey)
	srv := httptest.NewServer(robot)
	defer srv.Close()
	cmd := exec.Command(binary, "-config", benchConfig(b, srv.URL, groupWait.String()))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	var worst time.Duration
	b.ResetTimer()
	for i := range max(b.N, 5) {
		sent := time.Now()
		fmt.Fprintf(stdin, "ckafka_lag,group=latency-%d,instance_id=ckafka-1,topic=t alert_level=\"critical\",alert_threshold=2000i,lag=2500i %d\n", i, sent.UnixNano())
		select {
		case m := <-robot.Received():
			worst = max(worst, m.At.Sub(sent))
		case <-time.After(10 * time.Second):
			b.Fatal("no message")
		}
	}
	b.ReportMetric(float64(worst.Milliseconds()), "worst_latency_ms")
	b.ReportMetric(float64((worst - groupWait).Milliseconds()), "over_group_wait_ms")
}

// BenchmarkAcceptToDurable measures, with a state file, the time from a
// webhook receiver accepting a message to the output's journal holding it
// (the "Delivery recorded" line's time): a kill inside that window sends
// the message again after the restart. A webhook, not a robot: robots are
// paced at 20 messages a minute.
func BenchmarkAcceptToDurable(b *testing.B) {
	accepted := make(chan time.Time, 1024)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		accepted <- time.Now()
	}))
	defer srv.Close()
	state := filepath.Join(b.TempDir(), "alerts.state")
	conf, err := testkit.WriteFile(b.TempDir(), "bench.conf", fmt.Sprintf(`[[outputs.wecom_sms_mail]]
  group_wait = "10ms"
  state_file = %q
  [outputs.wecom_sms_mail.webhook]
    urls = [%q]
`, state, srv.URL+"/alerts"))
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(binary, "-config", conf, "-debug")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stderr := testkit.NewSyncBuffer()
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	const messages = 200
	var windows []time.Duration
	b.ResetTimer()
	for i := range max(b.N, messages) {
		fmt.Fprintf(stdin, "ckafka_lag,group=durable-%d,instance_id=ckafka-1,topic=t alert_level=\"critical\",alert_threshold=2000i,lag=2500i %d\n", i, time.Now().UnixNano())
		var at time.Time
		select {
		case at = <-accepted:
		case <-time.After(10 * time.Second):
			b.Fatalf("message %d never came:\n%s", i, stderr.String())
		}
		rec := awaitRecord(b, stderr, i+1)
		windows = append(windows, rec.Recorded.Sub(at))
	}
	b.StopTimer()
	slices.Sort(windows)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(windows[len(windows)/2]), "p50_ms")
	b.ReportMetric(ms(windows[len(windows)*99/100]), "p99_ms")
	b.ReportMetric(ms(windows[len(windows)-1]), "max_ms")
}

// awaitRecord returns the output's nth "Delivery recorded" line.
func awaitRecord(b *testing.B, stderr *testkit.SyncBuffer, n int) engine.Recorded {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Microsecond) {
		lines := strings.Split(stderr.String(), engine.RecordedPrefix)
		if len(lines) > n {
			var r engine.Recorded
			js, _, _ := strings.Cut(lines[n], "\n")
			if err := json.Unmarshal([]byte(js), &r); err != nil {
				b.Fatalf("a recorded line that does not parse: %v", err)
			}
			return r
		}
	}
	b.Fatalf("delivery %d never recorded:\n%s", n, stderr.String())
	return engine.Recorded{}
}

func stat(b *testing.B, path string) os.FileInfo {
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return fi
}
