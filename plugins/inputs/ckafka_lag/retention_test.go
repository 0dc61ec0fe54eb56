package ckafka_lag

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/ckafka"
)

func TestCalculateRetention(t *testing.T) {
	unknown := Optional{}
	tests := []struct {
		name                        string
		retention, lagSeconds, p, c Optional
		wantHeadroom, wantETA       Optional
	}{
		{name: "no retention known", retention: unknown, lagSeconds: known(10), p: known(2), c: known(1)},
		{name: "no lag in seconds", retention: known(3600), lagSeconds: unknown, p: known(2), c: known(1)},
		{name: "keeping up: no loss ahead", retention: known(3600), lagSeconds: known(600), p: known(2), c: known(2),
			wantHeadroom: known(3000)},
		{name: "falling behind at half speed", retention: known(3600), lagSeconds: known(600), p: known(2), c: known(1),
			wantHeadroom: known(3000), wantETA: known(6000)},
		{name: "nothing consumed: the age grows in real time", retention: known(3600), lagSeconds: known(600), p: known(2), c: known(0),
			wantHeadroom: known(3000), wantETA: known(3000)},
		{name: "already deleting", retention: known(3600), lagSeconds: known(4000), p: known(2), c: known(1),
			wantHeadroom: known(-400), wantETA: known(0)},
		{name: "rates unknown", retention: known(3600), lagSeconds: known(600), p: unknown, c: known(1),
			wantHeadroom: known(3000)},
		{name: "nothing produced", retention: known(3600), lagSeconds: known(600), p: known(0), c: known(0),
			wantHeadroom: known(3000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CalculateRetention(tt.retention, tt.lagSeconds, tt.p, tt.c)
			require.Equal(t, tt.retention, got.Retention)
			require.Equal(t, tt.wantHeadroom, got.Headroom)
			require.Equal(t, tt.wantETA, got.LossETA)
		})
	}
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
