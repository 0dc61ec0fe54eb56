package e2e

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/sim"
)

// BenchmarkPipelineLatency measures, in the real Telegraf with sample.conf
// (interval 5s, flush_interval 1s, group_wait 1s, for_intervals 2), the time
// from the collection whose answer makes an alert due to the robot
// receiving the webhook request, for firing and for resolution.
func BenchmarkPipelineLatency(b *testing.B) {
	const groupWait = time.Second
	p := startPipeline(b, sim.Settings{
		Interval: "5s", FlushInterval: "1s", GroupWait: groupWait.String(), RepeatInterval: "1h",
		StaleAfter: "10m", RestartDelay: "1s", Language: "en",
	}, nil, steadyGroups)
	s := p.sim

	var mu sync.Mutex
	var answered []time.Time // DescribeGroupOffsets answers for the billing group
	s.CKafka.OnAnswer(func(action string, body []byte, at time.Time) {
		if action == "DescribeGroupOffsets" && bytes.Contains(body, []byte(`"Group":"billing"`)) {
			mu.Lock()
			answered = append(answered, at)
			mu.Unlock()
		}
	})
	latency := func(arrived time.Time) time.Duration {
		mu.Lock()
		defer mu.Unlock()
		var last time.Time
		for _, t := range answered {
			if t.Before(arrived) {
				last = t
			}
		}
		return arrived.Sub(last)
	}

	var worst, sum time.Duration
	n := 0
	b.ResetTimer()
	for range max(b.N, 2) {
		for _, lag := range []int64{3000, 100} { // fire, then resolve
			s.SetLag("billing", "payments", lag)
			select {
			case m := <-s.Robot.Received():
				l := latency(m.At)
				worst, sum, n = max(worst, l), sum+l, n+1
			case <-time.After(60 * time.Second):
				b.Fatalf("no message for lag %d; Telegraf log:\n%s", lag, p.log.String())
			}
		}
	}
	b.ReportMetric(float64(worst.Milliseconds()), "worst_ms")
	b.ReportMetric(float64((sum / time.Duration(n)).Milliseconds()), "mean_ms")
	b.ReportMetric(float64(groupWait.Milliseconds()), "group_wait_ms")
}
