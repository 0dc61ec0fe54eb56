package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/ckafka"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
)

// BenchmarkCollection measures one `ckafka_lag -once` over 500 groups × 20
// topics × 16 partitions on 2 instances, against the fake answering after
// 20 ms.
//
//   - concurrent: max_concurrency 8, rate_limit = 20, the fake enforcing 20
//     requests/s.
//   - sequential: one request at a time, paced at the same rate.
//   - sequential-unpaced: one request at a time as fast as answers come,
//     as the 2019 function did; the fake throttles it and we retry.
//   - auto-N: the default rate_limit = "auto", the fake enforcing N
//     requests/s per action; the floor is the answered requests ÷ N.
func BenchmarkCollection(b *testing.B) {
	const (
		instances  = 2
		groups     = 500
		topics     = 20
		partitions = 16
		rateLimit  = 20
	)
	shared := benchFake(instances, groups, topics, partitions, false)
	sharedSrv := httptest.NewServer(shared)
	defer sharedSrv.Close()
	// 2,000 topics: each group reads 4 of its own, so retention lookups
	// (one a topic) outnumber the offset reads (one a group).
	const spreadTopics = 4
	spread := benchFakeSpread(instances, groups, spreadTopics, partitions)
	spreadSrv := httptest.NewServer(spread)
	defer spreadSrv.Close()

	cases := []struct {
		name        string
		concurrency int
		rate        string // rate_limit
		perAction   int    // the fake's limit per action, unknown to the plugin; 0: rateLimit for all
		spread      bool   // the 2,000-topic cluster
	}{
		{"concurrent", 8, "20", 0, false},
		{"sequential", 1, "20", 0, false},
		{"sequential-unpaced", 1, "100000", 0, false},
		// rate_limit = "auto" finding a per-action limit it is not told.
		{"auto-20", 8, `"auto"`, 20, false},
		{"auto-50", 8, `"auto"`, 50, false},
		{"auto-100", 8, `"auto"`, 100, false},
		{"auto-50-2000topics", 8, `"auto"`, 50, true},
		{"auto-100-2000topics", 8, `"auto"`, 100, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			conf := writeConfig(b, fmt.Sprintf("  max_concurrency = %d\n  rate_limit = %s\n  timeout = \"60s\"\n", c.concurrency, c.rate))
			limit := float64(rateLimit)
			fake, srv, perGroup, distinct := shared, sharedSrv, topics, instances*topics
			if c.spread {
				fake, srv, perGroup, distinct = spread, spreadSrv, spreadTopics, groups*spreadTopics
			}
			for range b.N {
				fake.SetLatency(20 * time.Millisecond)
				if c.perAction > 0 {
					fake.SetRateLimit(0)
					fake.SetActionRateLimit(c.perAction)
					limit = float64(c.perAction)
				} else {
					fake.SetActionRateLimit(0)
					fake.SetRateLimit(rateLimit)
				}
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
				if n := len(testkit.Select(ms, "ckafka_lag")); n != groups*perGroup {
					b.Fatalf("got %d ckafka_lag metrics, want %d", n, groups*perGroup)
				}
				st := fake.Stats()
				// The floor counts answered requests: throttled ones are the
				// price of not pacing, not work the rate limit must allow.
				floor := time.Duration(float64(st.Requests-st.Throttled) / limit * float64(time.Second))
				if c.perAction > 0 {
					// Each action has its own limit: the busiest one sets
					// the floor.
					busiest := 0
					for action, n := range st.ByAction {
						busiest = max(busiest, n)
						if span := st.Span[action]; n > 1 {
							secs := span[1].Sub(span[0]).Seconds()
							b.ReportMetric(secs, action+"_span_s")
							b.ReportMetric(float64(n-1)/secs, action+"_per_s")
						}
					}
					floor = time.Duration(float64(busiest) / limit * float64(time.Second))
				}
				b.ReportMetric(wall.Seconds(), "wall_s")
				b.ReportMetric(floor.Seconds(), "floor_s")
				b.ReportMetric(wall.Seconds()/floor.Seconds(), "wall/floor")
				b.ReportMetric(float64(st.Requests), "requests")
				b.ReportMetric(float64(st.Throttled), "throttled")
				b.ReportMetric(100*float64(st.Throttled)/float64(st.Requests), "throttled_%")
				// One per topic and instance, not per group and topic.
				if n := st.ByAction["DescribeTopicAttributes"]; st.Throttled == 0 && n > distinct {
					b.Fatalf("%d DescribeTopicAttributes for %d topics", n, distinct)
				}
				b.ReportMetric(float64(st.ByAction["DescribeTopicAttributes"]), "retention_requests")
				b.ReportMetric(float64(rss)/(1<<20), "peak_rss_MB")
			}
		})
	}
}

// benchFakeSpread is a cluster where each group reads topics of its own.
func benchFakeSpread(instances, groups, topics, partitions int) *ckafka.Fake {
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
				fake.SetTopic(id, fmt.Sprintf("group-%03d", g), fmt.Sprintf("topic-%03d-%d", g, t), parts)
			}
		}
	}
	return fake
}

// benchFake is the cluster of the collection benchmarks: every group of an
// instance reads the same topics; with flows, producers add 50 messages a
// second to each partition and consumers keep up.
func benchFake(instances, groups, topics, partitions int, flows bool) *ckafka.Fake {
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
				group, topic := fmt.Sprintf("group-%03d", g), fmt.Sprintf("topic-%02d", t)
				fake.SetTopic(id, group, topic, parts)
				if flows {
					fake.SetFlow(id, group, topic, 50, 50)
				}
			}
		}
	}
	return fake
}

// BenchmarkCollectionHistory runs the binary as inputs.execd does, under
// the shim with a line on stdin per collection, for ten collections of the
// same cluster with moving offsets (fake at 200 requests/s, rate_limit
// 200): the peak RSS with full histories, and the binary's CPU time per
// collection, which make bench compares with BenchmarkTimeTracker's.
func BenchmarkCollectionHistory(b *testing.B) {
	const (
		instances, groups, topics, partitions = 2, 500, 20, 16
		collections, rateLimit                = 10, 200
	)
	fake := benchFake(instances, groups, topics, partitions, true)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	conf := writeConfig(b, fmt.Sprintf("  rate_limit = %d\n  timeout = \"60s\"\n", rateLimit))
	for range b.N {
		fake.SetLatency(5 * time.Millisecond)
		fake.SetRateLimit(rateLimit)
		cmd := exec.Command(binary, "-config", conf, "-poll_interval_disabled")
		cmd.Env = append(cmd.Environ(), "TEST_CKAFKA_ENDPOINT="+srv.URL, "TEST_CKAFKA_SECRET_KEY="+secretKey)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		peak := testkit.PeakRSS(cmd.Process.Pid, done)
		lines := bufio.NewScanner(stdout)
		lines.Buffer(make([]byte, 1<<20), 1<<20)
		start := time.Now()
		var withSeconds int
		for c := range collections {
			if _, err := io.WriteString(stdin, "\n"); err != nil {
				b.Fatal(err)
			}
			withSeconds = 0
			for lines.Scan() {
				line := lines.Text()
				if strings.HasPrefix(line, "ckafka_lag,") && strings.Contains(line, "lag_seconds=") {
					withSeconds++
				}
				if strings.HasPrefix(line, "ckafka_lag_gather,") {
					break
				}
			}
			if c == 0 {
				start = time.Now()
			}
		}
		cpu := cpuTime(cmd.Process.Pid)
		close(done)
		rss := <-peak
		_ = stdin.Close()
		if err := cmd.Wait(); err != nil {
			b.Fatalf("ckafka_lag: %v\n%s", err, stderr.String())
		}
		if withSeconds != groups*topics {
			b.Fatalf("%d of %d ckafka_lag metrics have lag_seconds in the last collection", withSeconds, groups*topics)
		}
		b.ReportMetric(float64(rss)/(1<<20), "peak_rss_MB")
		b.ReportMetric(cpu.Seconds()*1000/collections, "cpu_ms/collection")
		b.ReportMetric(time.Since(start).Seconds()/(collections-1), "wall_s/collection")
	}
}

// cpuTime is a running process's user + system CPU time from /proc.
func cpuTime(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// utime and stime are fields 14 and 15 of stat, in clock ticks (100/s).
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
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
