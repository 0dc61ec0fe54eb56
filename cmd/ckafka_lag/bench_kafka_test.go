package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
)

const (
	benchTopics          = 200
	benchPartitions      = 50
	benchGroups          = 500
	benchTopicsPerGroup  = 20
	benchRecordsPerPart  = 10
	benchLaggingEveryNth = 10 // one partition in ten lags, for every group reading it
)

// benchKafka is the cluster of the Kafka source benchmarks: kfake with 3
// brokers, 200 topics × 50 partitions of 10 records, 500 groups reading 20
// topics each (500,000 group-partition lags). One partition in ten lags by
// 5 records; the rest are caught up.
func benchKafka(b *testing.B, groups int) (*kfake.Cluster, []string) {
	b.Helper()
	topics := make([]string, benchTopics)
	for i := range topics {
		topics[i] = fmt.Sprintf("topic-%03d", i)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.ClusterID("ckafka-bench"), kfake.SeedTopics(benchPartitions, topics...))
	if err != nil {
		b.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0), kgo.MaxBufferedRecords(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	for _, t := range topics {
		for p := range int32(benchPartitions) {
			for range benchRecordsPerPart {
				cl.Produce(ctx, &kgo.Record{Topic: t, Partition: p, Value: []byte("x")}, func(_ *kgo.Record, err error) {
					if err != nil {
						b.Error(err)
					}
				})
			}
		}
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	for g := range groups {
		var os kadm.Offsets
		for i := range benchTopicsPerGroup {
			t := (g*benchTopicsPerGroup + i) % benchTopics
			for p := range int32(benchPartitions) {
				at := int64(benchRecordsPerPart)
				if (t*benchPartitions+int(p))%benchLaggingEveryNth == 0 {
					at -= 5
				}
				os.AddOffset(topics[t], p, at, -1)
			}
		}
		resp, err := adm.CommitOffsets(ctx, fmt.Sprintf("group-%04d", g), os)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	return c, c.ListenAddrs()
}

// kadmLag is the library's own ceiling: kadm.Client.Lag over every group.
func kadmLag(b *testing.B, adm *kadm.Client) time.Duration {
	b.Helper()
	listed, err := adm.ListGroups(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	lags, err := adm.Lag(context.Background(), listed.Groups()...)
	if err != nil {
		b.Fatal(err)
	}
	if len(lags) != benchGroups {
		b.Fatalf("kadm.Lag: %d groups, want %d", len(lags), benchGroups)
	}
	return time.Since(start)
}

// BenchmarkKafkaCollection measures `ckafka_lag -once` with source =
// "kafka" on 500,000 group-partition lags, against kadm.Lag with a cold
// client in the same run; the tenth collection under the shim against a
// warm kadm.Lag; and what time_lag = "exact" and the retention fields add.
func BenchmarkKafkaCollection(b *testing.B) {
	cluster, brokers := benchKafka(b, benchGroups)
	defer cluster.Close()
	conf := func(extra string) string {
		p, err := testkit.WriteFile(b.TempDir(), "ckafka_lag.conf", `[[inputs.ckafka_lag]]
  source = "kafka"
  brokers = ["`+strings.Join(brokers, `", "`)+`"]
  timeout = "60s"
`+extra)
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	for range b.N {
		cold, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err != nil {
			b.Fatal(err)
		}
		ceiling := kadmLag(b, kadm.NewClient(cold))
		// Warm figures move by a third between single runs here: the best
		// of three, for kadm.Lag and for the shim's last collections alike.
		warm := time.Duration(math.MaxInt64)
		for range 3 {
			warm = min(warm, kadmLag(b, kadm.NewClient(cold)))
		}
		cold.Close()

		wall, rss, _ := runKafkaOnce(b, conf(""), benchGroups)
		// Retention (DescribeConfigs, earliest ListOffsets) is on by
		// default; what it adds is measured against it off, the best of
		// three runs each: one run of 0.6 s moves by ±0.1 s here.
		bareWall, withWall := time.Duration(math.MaxInt64), wall
		for range 3 {
			w, _, _ := runKafkaOnce(b, conf(`  retention_refresh = "0s"`+"\n"), benchGroups)
			bareWall = min(bareWall, w)
			w, _, _ = runKafkaOnce(b, conf(""), benchGroups)
			withWall = min(withWall, w)
		}
		exactWall, _, out := runKafkaOnce(b, conf(`  time_lag = "exact"`+"\n"), benchGroups)
		if !strings.Contains(out, "time_lag_fallbacks=0i") {
			b.Fatal(`time_lag = "exact" fell back to the estimate`)
		}
		tenth, shimRSS := tenthShimCollection(b, conf(""))

		b.ReportMetric(ceiling.Seconds(), "kadm_lag_cold_s")
		b.ReportMetric(wall.Seconds(), "once_s")
		b.ReportMetric(wall.Seconds()/ceiling.Seconds(), "once/kadm")
		b.ReportMetric(float64(rss)/(1<<20), "once_peak_rss_MB")
		b.ReportMetric(warm.Seconds(), "kadm_lag_warm_s")
		b.ReportMetric(tenth.Seconds(), "shim_10th_s")
		b.ReportMetric(tenth.Seconds()/warm.Seconds(), "shim10th/kadm_warm")
		b.ReportMetric(float64(shimRSS)/(1<<20), "shim_peak_rss_MB")
		b.ReportMetric(exactWall.Seconds()-wall.Seconds(), "exact_extra_s")
		b.ReportMetric(bareWall.Seconds(), "no_retention_s")
		b.ReportMetric((withWall.Seconds()-bareWall.Seconds())/bareWall.Seconds(), "retention_extra")
	}
}

// runKafkaOnce runs `ckafka_lag -once` and checks it saw every group.
func runKafkaOnce(b *testing.B, conf string, groups int) (time.Duration, int64, string) {
	b.Helper()
	cmd := exec.Command(binary, "-config", conf, "-once")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	peak := testkit.PeakRSS(cmd.Process.Pid, done)
	for !exited(cmd.Process.Pid) {
		time.Sleep(5 * time.Millisecond)
	}
	wall := time.Since(start)
	close(done)
	rss := <-peak
	if err := cmd.Wait(); err != nil {
		b.Fatalf("ckafka_lag -once: %v\n%s", err, stderr.String())
	}
	n := 0
	for _, line := range strings.Split(stdout.String(), "\n") {
		if strings.HasPrefix(line, "ckafka_lag,") {
			n++
		}
	}
	if n != groups*benchTopicsPerGroup {
		b.Fatalf("got %d ckafka_lag lines, want %d", n, groups*benchTopicsPerGroup)
	}
	return wall, rss, stdout.String()
}

// tenthShimCollection drives the binary under the shim for ten
// collections and times the best of the last three (the tenth and the two
// before it), from the stdin line to its health metric, and measures the
// process's peak RSS over the ten.
func tenthShimCollection(b *testing.B, conf string) (time.Duration, int64) {
	b.Helper()
	cmd := exec.Command(binary, "-config", conf, "-poll_interval_disabled")
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
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	done := make(chan struct{})
	peak := testkit.PeakRSS(cmd.Process.Pid, done)
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	last := time.Duration(math.MaxInt64)
	for i := range 10 {
		start := time.Now()
		if _, err := io.WriteString(stdin, "\n"); err != nil {
			b.Fatal(err)
		}
		for lines.Scan() {
			if strings.HasPrefix(lines.Text(), "ckafka_lag_gather,") {
				break
			}
		}
		if i >= 7 {
			last = min(last, time.Since(start))
		}
	}
	close(done)
	return last, <-peak
}

// BenchmarkKafkaCollection2M: 2,000 groups (2,000,000 group-partition
// lags) through ckafka_lag -once, for its peak RSS against the 500,000 of
// BenchmarkKafkaCollection: the collection holds a batch of groups'
// commits at a time, so memory should not grow with the groups.
func BenchmarkKafkaCollection2M(b *testing.B) {
	const groups = 4 * benchGroups
	cluster, brokers := benchKafka(b, groups)
	defer cluster.Close()
	conf, err := testkit.WriteFile(b.TempDir(), "ckafka_lag.conf", `[[inputs.ckafka_lag]]
  source = "kafka"
  brokers = ["`+strings.Join(brokers, `", "`)+`"]
  timeout = "60s"
`)
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		wall, rss, _ := runKafkaOnce(b, conf, groups)
		b.ReportMetric(wall.Seconds(), "once_s")
		b.ReportMetric(float64(rss)/(1<<20), "once_peak_rss_MB")
	}
}
