package ckafka_lag

// A Kafka collection's offsets and batches: the end and start offsets
// listed once and indexed per topic, the groups' commits fetched a batch at
// a time, and each group's lag computed from them.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// kafkaGroupBatch bounds the groups whose committed offsets are held at
// once (two batches: one emitted, the next being fetched): memory grows
// with the batch and the partitions, not with every group of a large
// cluster.
const kafkaGroupBatch = 50

// kafkaOffsets are a collection's end and start offsets, listed once, and
// per topic the partitions they give, sorted, read by every group.
type kafkaOffsets struct {
	ends, starts kadm.ListedOffsets
	topics       map[string]*topicEnds
	arrived      time.Time
}

// topicEnds are one topic's partitions with an end offset, sorted, and
// their end and start offsets (start -1: unknown). Groups' PartitionOffsets
// point into them: built once a collection, not once a group.
type topicEnds struct {
	ids          []int32
	ends, starts []int64
}

func indexOffsets(ends, starts kadm.ListedOffsets) map[string]*topicEnds {
	out := make(map[string]*topicEnds, len(ends))
	for t, parts := range ends {
		to := &topicEnds{}
		for p, e := range parts {
			if e.Err == nil && e.Offset >= 0 {
				to.ids = append(to.ids, p)
			}
		}
		slices.Sort(to.ids)
		to.ends, to.starts = make([]int64, len(to.ids)), make([]int64, len(to.ids))
		for i, p := range to.ids {
			to.ends[i], to.starts[i] = parts[p].Offset, -1
			if st, ok := starts[t][p]; ok && st.Err == nil && st.Offset >= 0 {
				to.starts[i] = st.Offset
			}
		}
		out[t] = to
	}
	return out
}

// fetchedBatch is one batch's answers.
type fetchedBatch struct {
	infos   map[string]groupInfo
	fetched kadm.FetchOffsetsResponses
}

// fetchBatch asks for a batch's commits (and states) in the background.
func (k *kafkaSource) fetchBatch(ctx context.Context, col *collection, groups []string) <-chan fetchedBatch {
	out := make(chan fetchedBatch, 1)
	go func() {
		b := fetchedBatch{infos: map[string]groupInfo{}}
		if col.c.GroupInfo {
			b.infos = k.describe(ctx, col, groups) // its errors are safe to report from here
		}
		b.fetched = k.admin.FetchManyOffsets(ctx, groups...)
		out <- b
	}()
	return out
}

// emitKafkaBatch turns a batch's commits into metrics and lets them go.
func (c *CKafkaLag) emitKafkaBatch(ctx context.Context, col *collection, in instanceInfo, groups []string, b fetchedBatch, o kafkaOffsets) int {
	k := c.kafka
	for _, g := range groups {
		r, ok := b.fetched[g]
		switch {
		case !ok:
			col.kafkaError(errors.New("no answer"), fmt.Sprintf("group %q: OffsetFetch", g))
		case r.Err != nil:
			col.kafkaError(r.Err, fmt.Sprintf("group %q: OffsetFetch", g))
		}
	}
	var exact map[partitionAt]time.Time
	if c.TimeLag == timeLagExact {
		var fallbacks int64
		exact, fallbacks = k.recordTimes(ctx, lagging(groups, b.fetched, o.ends, c.topicFilter), c.MaxConcurrency, time.Duration(c.Timeout))
		col.fallbacks.Add(fallbacks)
	}
	collected := 0
	for _, g := range groups {
		r, ok := b.fetched[g]
		if !ok || r.Err != nil {
			continue
		}
		collected++
		var info *groupInfo
		if i, ok := b.infos[g]; ok {
			info = &i
		}
		lags, times := c.kafkaGroup(in.ID, g, r.Fetched, o.topics, o.arrived, col.since, exact)
		col.emitGroup(in, g, lags, times, info)
		delete(b.fetched, g) // its commits are done with
	}
	return collected
}

// kafkaGroup turns one group's committed offsets and the end offsets into
// the plugin's lag and time fields, per topic, sorted by topic.
func (c *CKafkaLag) kafkaGroup(instance, group string, committed kadm.OffsetResponses, offsets map[string]*topicEnds,
	arrived, since time.Time, exact map[partitionAt]time.Time) ([]TopicLag, []TopicTime) {
	topics := make([]string, 0, len(committed))
	for t := range committed {
		if c.topicFilter.Match(t) {
			topics = append(topics, t)
		}
	}
	sort.Strings(topics)
	lags := make([]TopicLag, 0, len(topics))
	times := make([]TopicTime, 0, len(topics))
	c.trackerMu.Lock()
	defer c.trackerMu.Unlock()
	for _, t := range topics {
		parts := kafkaPartitions(committed[t], offsets[t])
		if len(parts) == 0 {
			continue
		}
		lag := CalculateTopicLag(t, parts, c.PartitionMetrics)
		tt := c.tracker.observe(instance, group, lag, parts, arrived, since)
		if exact != nil {
			applyExact(&tt, t, parts, exact, arrived)
		}
		lags = append(lags, lag)
		times = append(times, tt)
	}
	return lags, times
}

// kafkaPartitions lists every partition of the topic that has an end
// offset, with the group's commit or -1.
func kafkaPartitions(committed map[int32]kadm.OffsetResponse, to *topicEnds) []PartitionOffset {
	if to == nil {
		return nil
	}
	parts := make([]PartitionOffset, len(to.ids))
	for i, p := range to.ids {
		parts[i] = PartitionOffset{Partition: int64(p), Committed: -1, LogEnd: &to.ends[i]}
		if o, ok := committed[p]; ok && o.Err == nil && o.At >= 0 {
			parts[i].Committed = o.At
		}
		if to.starts[i] >= 0 {
			parts[i].LogStart = &to.starts[i]
		}
	}
	return parts
}
