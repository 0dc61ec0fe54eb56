package ckafka_lag

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/ckafka"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/tcapi"
)

func TestCalculateRetention(t *testing.T) {
	unknown := Optional{}
	// retention 3600 s; headroom 3000 (600 s behind) or -400 (4000 s).
	tests := []struct {
		name                             string
		retention, lag, lagSeconds, p, c Optional
		wantHeadroom, wantETA            Optional
	}{
		{name: "no retention known", retention: unknown, lag: known(100), lagSeconds: known(10), p: known(2), c: known(1)},
		{name: "no lag in seconds", retention: known(3600), lag: known(100), lagSeconds: unknown, p: known(2), c: known(1)},
		{name: "caught up: nothing unread to lose", retention: known(3600), lag: known(0), lagSeconds: known(0), p: known(2), c: known(0),
			wantHeadroom: known(3600)},

		// produce > 0
		{name: "produced, nothing consumed: the age grows in real time", retention: known(3600), lag: known(1200), lagSeconds: known(600), p: known(2), c: known(0),
			wantHeadroom: known(3000), wantETA: known(3000)},
		{name: "produced, consumed slower: at half speed", retention: known(3600), lag: known(1200), lagSeconds: known(600), p: known(2), c: known(1),
			wantHeadroom: known(3000), wantETA: known(6000)},
		{name: "produced, consumed faster: no loss ahead", retention: known(3600), lag: known(1200), lagSeconds: known(600), p: known(2), c: known(3),
			wantHeadroom: known(3000)},
		{name: "produced, consumed as fast: no loss ahead", retention: known(3600), lag: known(1200), lagSeconds: known(600), p: known(2), c: known(2),
			wantHeadroom: known(3000)},
		{name: "produced, nothing consumed, already deleting", retention: known(3600), lag: known(8000), lagSeconds: known(4000), p: known(2), c: known(0),
			wantHeadroom: known(-400), wantETA: known(0)},
		{name: "produced, consumed slower, already deleting", retention: known(3600), lag: known(8000), lagSeconds: known(4000), p: known(2), c: known(1),
			wantHeadroom: known(-400), wantETA: known(0)},
		{name: "produced, consumed faster, already deleting", retention: known(3600), lag: known(8000), lagSeconds: known(4000), p: known(2), c: known(3),
			wantHeadroom: known(-400), wantETA: known(0)},

		// produce = 0: an idle topic
		{name: "idle topic, nothing consumed: loss in exactly the headroom", retention: known(3600), lag: known(1200), lagSeconds: known(600), p: known(0), c: known(0),
			wantHeadroom: known(3000), wantETA: known(3000)},
		{name: "idle topic, draining outlasts the headroom", retention: known(3600), lag: known(1200), lagSeconds: known(600), p: known(0), c: known(0.2),
			wantHeadroom: known(3000), wantETA: known(3000)},
		{name: "idle topic, drained before the headroom", retention: known(3600), lag: known(1200), lagSeconds: known(600), p: known(0), c: known(1),
			wantHeadroom: known(3000)},
		{name: "idle topic, nothing consumed, already deleting", retention: known(3600), lag: known(1200), lagSeconds: known(4000), p: known(0), c: known(0),
			wantHeadroom: known(-400), wantETA: known(0)},
		{name: "idle topic, consumed, already deleting", retention: known(3600), lag: known(1200), lagSeconds: known(4000), p: known(0), c: known(1),
			wantHeadroom: known(-400), wantETA: known(0)},

		// rates unknown
		{name: "nothing consumed, production unknown", retention: known(3600), lag: known(1200), lagSeconds: known(600), p: unknown, c: known(0),
			wantHeadroom: known(3000), wantETA: known(3000)},
		{name: "consumed, production unknown", retention: known(3600), lag: known(1200), lagSeconds: known(600), p: unknown, c: known(1),
			wantHeadroom: known(3000)},
		{name: "consumption unknown", retention: known(3600), lag: known(1200), lagSeconds: known(600), p: known(2), c: unknown,
			wantHeadroom: known(3000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CalculateRetention(tt.retention, tt.lag, tt.lagSeconds, tt.p, tt.c)
			require.Equal(t, tt.retention, got.Retention)
			require.Equal(t, tt.wantHeadroom, got.Headroom)
			require.Equal(t, tt.wantETA, got.LossETA)
		})
	}
}

// The topic's loss ETA is its soonest partition's: a quiet partition whose
// consumer stopped loses data while the busy one is read in time, which
// the topic's summed rates (produced 10/s, consumed 10/s) would hide.
func TestTopicLossETA(t *testing.T) {
	busy := CalculateRetention(known(3600), known(50), known(5), known(10), known(10))
	quiet := CalculateRetention(known(3600), known(40), known(3000), known(0), known(0))
	require.False(t, busy.LossETA.Known)
	require.Equal(t, known(600), quiet.LossETA)
	require.Equal(t, known(600), TopicLossETA([]RetentionFields{busy, quiet}))
	summed := CalculateRetention(known(3600), known(90), known(3000), known(10), known(10))
	require.False(t, summed.LossETA.Known, "the sums say nothing is lost")
	require.False(t, TopicLossETA([]RetentionFields{busy, busy}).Known)
	require.Equal(t, known(0), TopicLossETA([]RetentionFields{quiet, {LossETA: known(0)}}), "loss has begun on one")
}

func TestLostMessages(t *testing.T) {
	i := func(v int64) *int64 { return &v }
	parts := []PartitionOffset{
		{Partition: 0, Committed: 2, LogEnd: i(10), LogStart: i(6)},  // 4 deleted unread
		{Partition: 1, Committed: 5, LogEnd: i(10), LogStart: i(4)},  // none
		{Partition: 2, Committed: -1, LogEnd: i(10), LogStart: i(8)}, // never committed: not lost, not counted
	}
	lag := CalculateTopicLag("t", parts, true)
	require.True(t, lag.LostKnown)
	require.Equal(t, int64(4), lag.Lost)
	require.Equal(t, []bool{true, true, false}, []bool{lag.PartitionLags[0].LostKnown, lag.PartitionLags[1].LostKnown, lag.PartitionLags[2].LostKnown})
	require.False(t, CalculateTopicLag("t", []PartitionOffset{{Committed: 1, LogEnd: i(3)}}, false).LostKnown, "no log start: unknown, not 0")
}

// TestLossETAAgainstTheTimeline: a consumer caught up at the start reads
// half of what is produced on a topic that keeps 120 s. The oldest unread
// message's age is t/2, so unread messages start being deleted at 240 s.
// Every collection's loss_eta_seconds must point there within one
// collection interval, and the headroom must be retention − lag_seconds.
func TestLossETAAgainstTheTimeline(t *testing.T) {
	fake, url := newFake(t)
	fake.AddInstance("ckafka-a", "orders", ckafka.StatusRunning)
	fake.SetTopic("ckafka-a", "slow", "orders", []ckafka.Partition{{Committed: 10000, LogEnd: 10000}})
	fake.SetRetention("ckafka-a", "orders", 120*time.Second)
	var mu sync.Mutex
	clock := time.Unix(1_800_000_000, 0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	fake.Now = now
	fake.SetFlow("ckafka-a", "slow", "orders", 1000, 500)
	start := now()
	const interval = 10 * time.Second
	lossAt := 240.0

	p := newPlugin(t, url)
	p.clock = now
	predictions := 0
	for i := range 24 {
		if i > 0 {
			mu.Lock()
			clock = clock.Add(interval)
			mu.Unlock()
		}
		acc := gather(t, p)
		require.Empty(t, acc.Errors)
		f := byName(acc, "ckafka_lag")[0].Fields()
		if i == 0 {
			require.NotContains(t, f, "retention_seconds", "looked up beside the first collection, not before its lag")
			continue
		}
		require.Equal(t, 120.0, f["retention_seconds"])
		if s, ok := f["lag_seconds"].(float64); ok {
			require.InDelta(t, 120-s, f["retention_headroom_seconds"], 1e-9)
		}
		eta, ok := f["loss_eta_seconds"].(float64)
		if !ok {
			continue
		}
		predictions++
		elapsed := now().Sub(start).Seconds()
		require.InDelta(t, lossAt, elapsed+eta, interval.Seconds(), "collection %d at %.0fs predicts loss at %.0fs", i, elapsed, elapsed+eta)
	}
	require.Greater(t, predictions, 15, "from the second collection on")
	require.Equal(t, 1, fake.Stats().ByAction["DescribeTopicAttributes"], "cached for retention_refresh (10m)")
}

// lagClock is an accumulator that notes when the first ckafka_lag metric
// came.
type lagClock struct {
	testutil.Accumulator
	start time.Time
	lagAt time.Duration
}

func (a *lagClock) AddFields(name string, fields map[string]interface{}, tags map[string]string, t ...time.Time) {
	if name == "ckafka_lag" && a.lagAt == 0 {
		a.lagAt = time.Since(a.start)
	}
	a.Accumulator.AddFields(name, fields, tags, t...)
}

// TestRetentionLookupOffTheLagPath: a topic's first retention lookup
// answers late; the group's lag is emitted without waiting for it, the
// collection ends when the lookup does, and the next collection carries
// the retention.
func TestRetentionLookupOffTheLagPath(t *testing.T) {
	fake, url := newFake(t)
	fake.AddInstance("ckafka-a", "orders", ckafka.StatusRunning)
	fake.SetTopic("ckafka-a", "g", "t", []ckafka.Partition{{Committed: 5, LogEnd: 9}})
	fake.SetRetention("ckafka-a", "t", time.Hour)
	const late = time.Second // within the test plugin's 2 s request timeout
	fake.Inject(tcapi.Fault{Action: "DescribeTopicAttributes", Delay: late})
	p := newPlugin(t, url)

	acc := &lagClock{start: time.Now()}
	require.NoError(t, p.Gather(acc))
	took := time.Since(acc.start)
	require.Empty(t, acc.Errors)
	require.NotZero(t, acc.lagAt, "no lag emitted")
	require.Less(t, acc.lagAt, late, "the lag waited for the retention lookup")
	require.GreaterOrEqual(t, took, late, "the collection ended before its lookup")
	require.NotContains(t, byName(&acc.Accumulator, "ckafka_lag")[0].Fields(), "retention_seconds")
	require.Equal(t, int64(5), gatherFields(&acc.Accumulator)["api_requests"], "the lookup is the collection's") // instances, groups, group info, offsets, retention

	next := gather(t, p)
	require.Equal(t, 3600.0, byName(next, "ckafka_lag")[0].Fields()["retention_seconds"])
	require.Equal(t, 1, fake.Stats().ByAction["DescribeTopicAttributes"])
}

// TestKafkaRetentionAndLostMessages: retention.ms from DescribeConfigs, the
// log start from ListOffsets, and a group whose commits fell below it
// after DeleteRecords.
func TestKafkaRetentionAndLostMessages(t *testing.T) {
	e := startKafka(t, nil)
	ctx := context.Background()
	_, err := e.admin.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("86400000")}}, "orders")
	require.NoError(t, err)
	e.commit(t, "billing", map[string]map[int32]int64{"orders": {0: 2, 1: 5}})
	var del kadm.Offsets
	del.AddOffset("orders", 0, 6, -1)
	del.AddOffset("orders", 1, 4, -1)
	_, err = e.admin.DeleteRecords(ctx, del)
	require.NoError(t, err)

	p := newKafkaPlugin(t, e, func(p *CKafkaLag) { p.TimeLag = timeLagExact; p.PartitionMetrics = true })
	acc := gather(t, p)
	require.Empty(t, acc.Errors)
	f := kafkaLag(acc)["billing/orders"]
	require.Equal(t, int64(4), f["lost_messages"], "p0: 6 − 2 deleted unread; p1 committed above the log start")
	require.Equal(t, 86400.0, f["retention_seconds"])
	require.InDelta(t, 86400-f["lag_seconds"].(float64), f["retention_headroom_seconds"], 1e-9)
	lost := map[string]any{}
	for _, m := range byName(acc, "ckafka_partition_lag") {
		lost[m.Tags()["partition"]] = m.Fields()["lost_messages"]
	}
	require.Equal(t, map[string]any{"0": int64(4), "1": int64(0), "2": nil}, lost, "partition 2 was never committed")
}
