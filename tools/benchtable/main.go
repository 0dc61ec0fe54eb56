// Command benchtable turns the output of `go test -bench` for this project
// into the one table `make bench` prints.
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+(.*)$`)

func main() {
	results := map[string]map[string]float64{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		fields := strings.Fields(m[3])
		values := map[string]float64{}
		for i := 0; i+1 < len(fields); i += 2 {
			if v, err := strconv.ParseFloat(fields[i], 64); err == nil {
				values[fields[i+1]] = v
			}
		}
		// Derived units for the table.
		if ns, ok := values["ns/op"]; ok {
			values["ms/op"] = ns / 1e6
		}
		if b, ok := values["B/op"]; ok {
			values["MB/op"] = b / (1 << 20)
		}
		results[m[1]] = values
	}
	get := func(bench, unit string) (float64, bool) {
		v, ok := results[bench][unit]
		return v, ok
	}
	type row struct{ what, figure, target string }
	var rows []row
	add := func(what, target, format string, keys ...[2]string) {
		args := make([]any, len(keys))
		for i, k := range keys {
			v, ok := get(k[0], k[1])
			if !ok {
				rows = append(rows, row{what, "not run", target})
				return
			}
			args[i] = v
		}
		rows = append(rows, row{what, fmt.Sprintf(format, args...), target})
	}
	const c, seq, unpaced = "BenchmarkCollection/concurrent", "BenchmarkCollection/sequential", "BenchmarkCollection/sequential-unpaced"
	add("collection: 500 groups × 20 topics × 16 partitions, 2 instances, 20 ms latency, fake enforcing 20 req/s",
		"≤ 1.2× floor, 0 throttled",
		"%.2f s vs floor %.2f s (%.3f×), %.0f requests, %.0f throttled",
		[2]string{c, "wall_s"}, [2]string{c, "floor_s"}, [2]string{c, "wall/floor"}, [2]string{c, "requests"}, [2]string{c, "throttled"})
	// The sequential runs as ratios to the concurrent one, measured in the
	// same run.
	if cw, ok := get(c, "wall_s"); ok {
		results["ratio"] = map[string]float64{}
		for _, b := range []string{seq, unpaced} {
			if w, ok := get(b, "wall_s"); ok {
				results["ratio"][b] = w / cw
			}
		}
	}
	add("same collection one request at a time, paced at rate_limit", "",
		"%.2f s = %.3f× the concurrent run", [2]string{seq, "wall_s"}, [2]string{"ratio", seq})
	add("same collection one request at a time, unpaced like the 2019 function", "",
		"%.2f s = %.3f× the concurrent run; %.0f requests, %.0f throttled and retried",
		[2]string{unpaced, "wall_s"}, [2]string{"ratio", unpaced}, [2]string{unpaced, "requests"}, [2]string{unpaced, "throttled"})
	for _, run := range []struct{ limit, suffix, what string }{
		{"20", "", "same collection"}, {"50", "", "same collection"}, {"100", "", "same collection"},
		{"50", "-2000topics", "500 groups each reading 4 topics of their own (2,000 topics: more retention lookups than offset reads)"},
		{"100", "-2000topics", "same 2,000 topics"},
	} {
		auto := "BenchmarkCollection/auto-" + run.limit + run.suffix
		add(run.what+" with rate_limit = \"auto\", the fake enforcing "+run.limit+" req/s per action (not told)",
			"≤ 1.15× the busiest action's requests ÷ limit, ≤ 3% throttled",
			"%.2f s = %.3f× floor (%.2f s), %.0f throttled (%.1f%%); offsets %.0f/s over %.2f s, retention %.0f/s over %.2f s",
			[2]string{auto, "wall_s"}, [2]string{auto, "wall/floor"}, [2]string{auto, "floor_s"}, [2]string{auto, "throttled"}, [2]string{auto, "throttled_%"},
			[2]string{auto, "DescribeGroupOffsets_per_s"}, [2]string{auto, "DescribeGroupOffsets_span_s"},
			[2]string{auto, "DescribeTopicAttributes_per_s"}, [2]string{auto, "DescribeTopicAttributes_span_s"})
	}
	add("ckafka_lag -once peak RSS", "≤ 40 MB", "%.1f MB", [2]string{c, "peak_rss_MB"})
	const hist, tracker = "BenchmarkCollectionHistory", "BenchmarkTimeTracker"
	add("ckafka_lag under the shim, 10 collections of the same cluster with moving offsets (fake and rate_limit 200 req/s): peak RSS with full history",
		"≤ 60 MB", "%.1f MB; %.2f s and %.0f ms CPU per collection",
		[2]string{hist, "peak_rss_MB"}, [2]string{hist, "wall_s/collection"}, [2]string{hist, "cpu_ms/collection"})
	// The tracker's share: its replay of the same ten collections, over the
	// binary's CPU per collection, measured in the same run.
	if cpu, ok := get(hist, "cpu_ms/collection"); ok {
		if tr, ok := get(tracker, "tracker_ms/collection"); ok {
			if results["ratio"] == nil {
				results["ratio"] = map[string]float64{}
			}
			results["ratio"][tracker] = 100 * tr / cpu
		}
	}
	add("history and estimator (lag_seconds, rates, stalls) CPU per collection", "≤ 5% of the collection's CPU",
		"%.1f ms = %.1f%% of the binary's", [2]string{tracker, "tracker_ms/collection"}, [2]string{"ratio", tracker})
	const kafka = "BenchmarkKafkaCollection"
	add("source = \"kafka\": ckafka_lag -once on kfake (3 brokers, 200 topics × 50 partitions, 500 groups × 20 topics: 500,000 group-partition lags)",
		"≤ 1.3× kadm.Lag (cold)", "%.2f s = %.2f× kadm.Lag cold (%.2f s)",
		[2]string{kafka, "once_s"}, [2]string{kafka, "once/kadm"}, [2]string{kafka, "kadm_lag_cold_s"})
	add("same, peak RSS", "≤ 80 MB", "%.1f MB", [2]string{kafka, "once_peak_rss_MB"})
	add("same under the shim: the tenth collection (best of the last three, against the best of three warm kadm.Lag)", "≤ 1.2× kadm.Lag (warm)", "%.2f s = %.2f× kadm.Lag warm (%.2f s)",
		[2]string{kafka, "shim_10th_s"}, [2]string{kafka, "shim10th/kadm_warm"}, [2]string{kafka, "kadm_lag_warm_s"})
	add("same under the shim: peak RSS over ten collections", "≤ 100 MB", "%.1f MB", [2]string{kafka, "shim_peak_rss_MB"})
	const kafka2M = "BenchmarkKafkaCollection2M"
	if big, ok := get(kafka2M, "once_peak_rss_MB"); ok {
		if small, ok := get(kafka, "once_peak_rss_MB"); ok {
			results[kafka2M]["rss_ratio"] = big / small
		}
	}
	add("same -once at 2,000 groups (2,000,000 lags)", "peak RSS ≤ 1.5× the 500,000 figure", "%.2f s, %.1f MB = %.2f× the 500,000 run's",
		[2]string{kafka2M, "once_s"}, [2]string{kafka2M, "once_peak_rss_MB"}, [2]string{kafka2M, "rss_ratio"})
	add("same with time_lag = \"exact\", 10% of partitions lagging (1,000 records read)", "", "%+.2f s",
		[2]string{kafka, "exact_extra_s"})
	if v, ok := results[kafka]["retention_extra"]; ok {
		results[kafka]["retention_extra_pct"] = 100 * v
	}
	add("same, what the retention fields add (DescribeConfigs, earliest ListOffsets) against retention_refresh = \"0s\"", "≤ 15% of the collection",
		"%+.0f%% (%.2f s without)", [2]string{kafka, "retention_extra_pct"}, [2]string{kafka, "no_retention_s"})
	add("lag chart: 5 alerts × 120 points, 800×360 PNG", "≤ 50 ms, ≤ 10 MB allocated", "%.1f ms, %.1f MB allocated",
		[2]string{"BenchmarkChart", "ms/op"}, [2]string{"BenchmarkChart", "MB/op"})
	add("wecom_sms_mail stdin: 1,000,000 lines, 100,000 alert keys", "≥ 300,000 metrics/s", "%.0f metrics/s", [2]string{"BenchmarkThroughput", "metrics/s"})
	add("wecom_sms_mail peak RSS (100,000 series, each with its recent chart points)", "≤ 120 MB", "%.1f MB", [2]string{"BenchmarkThroughput", "peak_rss_MB"})
	add("wecom_sms_mail: due line → webhook request (group_wait 1 s)", "≤ group_wait + 100 ms",
		"%.0f ms worst (+%.0f ms)", [2]string{"BenchmarkAlertLatency", "worst_latency_ms"}, [2]string{"BenchmarkAlertLatency", "over_group_wait_ms"})
	add("wecom_sms_mail: receiver accepted → delivery durable in the journal (state file on; 200 messages)", "as short as the store allows",
		"p50 %.2f ms, p99 %.2f ms, max %.2f ms", [2]string{"BenchmarkAcceptToDurable", "p50_ms"},
		[2]string{"BenchmarkAcceptToDurable", "p99_ms"}, [2]string{"BenchmarkAcceptToDurable", "max_ms"})
	add("HA pair: SIGKILL of the active member → the new active's first delivery (takeover notice), 10 kills, session_timeout 2 s",
		"≤ session_timeout + group_wait", "median %.2f s, worst %.2f s", [2]string{"BenchmarkFailover", "median_s"}, [2]string{"BenchmarkFailover", "worst_s"})
	add("HA pair: what replication adds to a delivery (line → webhook request, 200 messages, against stand-alone in the same run)", "",
		"p50 %+.1f ms, p99 %+.1f ms (stand-alone p50 %.1f ms, p99 %.1f ms)", [2]string{"BenchmarkReplication", "added_p50_ms"},
		[2]string{"BenchmarkReplication", "added_p99_ms"}, [2]string{"BenchmarkReplication", "alone_p50_ms"}, [2]string{"BenchmarkReplication", "alone_p99_ms"})
	add("HA pair: cluster topic bytes per delivery (keys and values, before compression)", "", "%.0f B",
		[2]string{"BenchmarkReplication", "topic_bytes/delivery"})
	add("real Telegraf: breaching collection → webhook request (flush 1 s, group_wait 1 s)", "",
		"%.0f ms mean, %.0f ms worst", [2]string{"BenchmarkPipelineLatency", "mean_ms"}, [2]string{"BenchmarkPipelineLatency", "worst_ms"})

	w := [3]int{len("benchmark"), len("result"), len("target")}
	for _, r := range rows {
		w[0], w[1], w[2] = max(w[0], len([]rune(r.what))), max(w[1], len([]rune(r.figure))), max(w[2], len([]rune(r.target)))
	}
	line := func(a, b, c string) {
		fmt.Printf("| %s | %s | %s |\n", pad(a, w[0]), pad(b, w[1]), pad(c, w[2]))
	}
	line("benchmark", "result", "target")
	line(strings.Repeat("-", w[0]), strings.Repeat("-", w[1]), strings.Repeat("-", w[2]))
	for _, r := range rows {
		line(r.what, r.figure, r.target)
	}
}

func pad(s string, n int) string {
	return s + strings.Repeat(" ", n-len([]rune(s)))
}
