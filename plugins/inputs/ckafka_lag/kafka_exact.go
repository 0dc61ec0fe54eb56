package ckafka_lag

import (
	"context"
	"sort"
	"time"

	"github.com/influxdata/telegraf/filter"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Exact lag in seconds: the timestamp of the first unconsumed record is in
// the log. For each lagging partition the record at the committed offset is
// read and lag_seconds = collection time − its timestamp.

const (
	timeLagEstimate = "estimate"
	timeLagExact    = "exact"
)

// partitionAt is a record to read: a partition and the offset a group
// committed on it.
type partitionAt struct {
	topic     string
	partition int32
	offset    int64
}

// lagging lists, once each, the records whose time is needed: the
// committed offsets of every group's partitions that have lag.
func lagging(groups []string, fetched kadm.FetchOffsetsResponses, ends kadm.ListedOffsets, topics filter.Filter) []partitionAt {
	seen := map[partitionAt]bool{}
	for _, g := range groups {
		r, ok := fetched[g]
		if !ok || r.Err != nil {
			continue
		}
		for topic, parts := range r.Fetched {
			if !topics.Match(topic) {
				continue
			}
			for p, o := range parts {
				end, ok := ends.Lookup(topic, p)
				if o.Err != nil || o.At < 0 || !ok || end.Err != nil || o.At >= end.Offset {
					continue
				}
				seen[partitionAt{topic, p, o.At}] = true
			}
		}
	}
	out := make([]partitionAt, 0, len(seen))
	for at := range seen {
		out = append(out, at)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.topic != b.topic {
			return a.topic < b.topic
		}
		if a.partition != b.partition {
			return a.partition < b.partition
		}
		return a.offset < b.offset
	})
	return out
}

// rounds splits the records so that each round reads a partition once: a
// consumer reads one offset per partition at a time, and groups reading the
// same partition may have committed different offsets.
func rounds(wanted []partitionAt) [][]partitionAt {
	var out [][]partitionAt
	type tp struct {
		topic     string
		partition int32
	}
	next := map[tp]int{}
	for _, w := range wanted {
		k := tp{w.topic, w.partition}
		r := next[k]
		next[k]++
		for len(out) <= r {
			out = append(out, nil)
		}
		out[r] = append(out[r], w)
	}
	return out
}

// recordTimes reads the records and returns their timestamps; fallbacks
// counts the records that could not be read in time (their partitions keep
// the estimate). At most concurrency fetches are in flight.
func (k *kafkaSource) recordTimes(ctx context.Context, wanted []partitionAt, concurrency int, timeout time.Duration) (map[partitionAt]time.Time, int64) {
	times := make(map[partitionAt]time.Time, len(wanted))
	for _, round := range rounds(wanted) {
		k.readRound(ctx, round, concurrency, timeout, times)
	}
	return times, int64(len(wanted) - len(times))
}

func (k *kafkaSource) readRound(ctx context.Context, round []partitionAt, concurrency int, timeout time.Duration, times map[partitionAt]time.Time) {
	consume := map[string]map[int32]kgo.Offset{}
	want := map[string]map[int32]partitionAt{}
	for _, w := range round {
		if consume[w.topic] == nil {
			consume[w.topic] = map[int32]kgo.Offset{}
			want[w.topic] = map[int32]partitionAt{}
		}
		consume[w.topic][w.partition] = kgo.NewOffset().At(w.offset)
		want[w.topic][w.partition] = w
	}
	opts := append([]kgo.Opt(nil), k.opts...)
	opts = append(opts,
		kgo.ConsumePartitions(consume),
		kgo.MaxConcurrentFetches(max(concurrency, 1)),
		// One record per partition is all we need; Kafka still returns a
		// whole first batch, whatever these limits.
		kgo.FetchMaxPartitionBytes(1<<10),
		kgo.FetchMaxBytes(1<<20),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	missing := len(round)
	for missing > 0 && ctx.Err() == nil {
		fetches := cl.PollFetches(ctx)
		if fetches.IsClientClosed() {
			return
		}
		fetches.EachRecord(func(r *kgo.Record) {
			w, ok := want[r.Topic][r.Partition]
			if !ok || r.Offset < w.offset {
				return
			}
			if _, done := times[w]; !done {
				times[w] = r.Timestamp
				missing--
			}
			delete(want[r.Topic], r.Partition)
		})
	}
}

// applyExact replaces the estimated lag in seconds of each lagging
// partition whose record was read by the exact figure, and refolds the
// topic's. Partitions whose record could not be read keep the estimate.
func applyExact(tt *TopicTime, topic string, parts []PartitionOffset, exact map[partitionAt]time.Time, now time.Time) {
	var lag int64
	for i, p := range parts {
		pl := partitionLag(p)
		lag += pl.Lag
		if pl.Committed < 0 || pl.Lag == 0 {
			continue
		}
		if ts, ok := exact[partitionAt{topic, int32(p.Partition), pl.Committed}]; ok {
			tt.Partitions[i].LagSeconds = known(max(now.Sub(ts), 0).Seconds())
		}
	}
	tt.LagSeconds = maxKnown(tt.Partitions, lag)
}
