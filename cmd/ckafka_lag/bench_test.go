package main

import (
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/ckafka"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
)

// BenchmarkCollection measures one `ckafka_lag -once` over 500 groups × 20
// topics × 16 partitions on 2 instances, against the fake answering after
// 20 ms and enforcing 20 requests/s, the plugin's default rate_limit.
//
//   - concurrent: the defaults (max_concurrency 8, rate_limit 20).
//   - sequential: one request at a time, paced at the same rate.
//   - sequential-unpaced: one request at a time as fast as answers come,
//     as the 2019 function did; the fake throttles it and we retry.
func BenchmarkCollection(b *testing.B) {
	const (
		instances  = 2
		groups     = 500
		topics     = 20
		partitions = 16
		rateLimit  = 20
	)
	fake := ckafka.New(map[string]string{secretID: secretKey})
	parts := make([]ckafka.Partition, partitions)
	for i := range parts {
		parts[i] = ckafka.Partition{Committed: int64(1000 * i), LogEnd: int64(1000*i + 37)}
	}
	for in := range instances {
		id := fmt.Sprintf("ckafka-bench%d", in)
		fake.AddInstance(id, id, ckafka.StatusRunning)
		for g := range groups / instances {
			for t := range topics {
				fake.SetTopic(id, fmt.Sprintf("group-%03d", g), fmt.Sprintf("topic-%02d", t), parts)
			}
		}
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()

	cases := []struct {
		name        string
		concurrency int
		rate        int
	}{
		{"concurrent", 8, rateLimit},
		{"sequential", 1, rateLimit},
		{"sequential-unpaced", 1, 100000},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			conf := writeConfig(b, fmt.Sprintf("  max_concurrency = %d\n  rate_limit = %d\n  timeout = \"60s\"\n", c.concurrency, c.rate))
			for range b.N {
				fake.SetLatency(20 * time.Millisecond)
				fake.SetRateLimit(rateLimit)
				fake.ResetStats()
				cmd := exec.Command(binary, "-config", conf, "-once")
				cmd.Env = append(cmd.Environ(), "TEST_CKAFKA_ENDPOINT="+srv.URL, "TEST_CKAFKA_SECRET_KEY="+secretKey)
				var stdout, stderr strings.Builder
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				start := time.Now()
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				done := make(chan struct{})
				peak := testkit.PeakRSS(cmd.Process.Pid, done)
				// Read the peak before reaping: /proc/PID vanishes with the zombie.
				for !exited(cmd.Process.Pid) {
					time.Sleep(10 * time.Millisecond)
				}
				close(done)
				rss := <-peak
				if err := cmd.Wait(); err != nil {
					b.Fatalf("ckafka_lag -once: %v\n%s", err, stderr.String())
				}
				wall := time.Since(start)
				ms, err := testkit.ParseLines([]byte(stdout.String()))
				if err != nil {
					b.Fatal(err)
				}
				if n := len(testkit.Select(ms, "ckafka_lag")); n != groups*topics {
					b.Fatalf("got %d ckafka_lag metrics, want %d", n, groups*topics)
				}
				st := fake.Stats()
				// The floor counts answered requests: throttled ones are the
				// price of not pacing, not work the rate limit must allow.
				floor := time.Duration(float64(st.Requests-st.Throttled) / rateLimit * float64(time.Second))
				b.ReportMetric(wall.Seconds(), "wall_s")
				b.ReportMetric(floor.Seconds(), "floor_s")
				b.ReportMetric(wall.Seconds()/floor.Seconds(), "wall/floor")
				b.ReportMetric(float64(st.Requests), "requests")
				b.ReportMetric(float64(st.Throttled), "throttled")
				b.ReportMetric(float64(rss)/(1<<20), "peak_rss_MB")
			}
		})
	}
}

// exited reports whether pid has terminated (a zombie not yet reaped counts).
func exited(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z'
}
