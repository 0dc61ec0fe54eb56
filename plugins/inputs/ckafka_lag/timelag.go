package ckafka_lag

import (
	"sort"
	"time"
)

// Lag in time and trend, from samples the plugin took. Everything here is
// pure: no I/O, no clock; callers pass the time each API answer arrived.
//
// The age of the oldest unconsumed message comes from the history of the
// partition's log end offset: if LEO was ≤ c at t1 and > c at t2, the
// message at offset c was appended in (t1, t2]. The estimate interpolates
// inside that bracket and never extrapolates past what was observed: for an
// offset older than the oldest sample it is the lower bound now − t_oldest.

// offsetSample is a log end offset and the first and last time (Unix
// nanoseconds: cheap to compare, 24 bytes a sample) it was seen at that
// value: an idle topic costs one sample, however long it idles.
type offsetSample struct {
	Offset      int64
	First, Last int64
}

// offsetHistory is the bounded history of one partition's log end offset.
type offsetHistory struct {
	samples []offsetSample
}

// observe records that the log end offset was logEnd at at. Samples older
// than window go. A new sample replaces the newest one when that one is
// closer than window/(8·maxSamples) to its predecessor: many groups read a
// topic within one collection, and their answers need not each keep a
// sample. Beyond maxSamples the sample whose removal widens a bracket
// least goes. Every bracket stays true: removing a sample only widens the
// bracket around it.
func (h *offsetHistory) observe(logEnd int64, at time.Time, window time.Duration, maxSamples int) {
	now := at.UnixNano()
	n := len(h.samples)
	switch {
	case n == 0:
		h.samples = append(h.samples, offsetSample{Offset: logEnd, First: now, Last: now})
	case now <= h.samples[n-1].Last:
		// Answers processed out of arrival order: the later sample already
		// says at least as much.
		return
	case logEnd < h.samples[0].Offset:
		// Offsets went below everything seen: the topic was recreated or
		// truncated. The old samples describe other messages.
		h.samples = append(h.samples[:0], offsetSample{Offset: logEnd, First: now, Last: now})
	case logEnd < h.samples[n-1].Offset:
		// An answer read before the newest one but arriving after it (many
		// groups' requests are in flight at once): it says nothing new, and
		// it is no truncation.
		return
	case logEnd == h.samples[n-1].Offset:
		h.samples[n-1].Last = now
	default:
		minGap := int64(window) / int64(8*max(maxSamples, 2))
		if n >= 2 && h.samples[n-1].First-h.samples[n-2].Last < minGap {
			h.samples = h.samples[:n-1]
		}
		h.samples = append(h.samples, offsetSample{Offset: logEnd, First: now, Last: now})
	}
	h.prune(now - int64(window))
	for len(h.samples) > max(maxSamples, 2) {
		h.thin()
	}
}

// prune drops samples last seen before cutoff, keeping the newest.
func (h *offsetHistory) prune(cutoff int64) {
	drop := 0
	for drop < len(h.samples)-1 && h.samples[drop].Last < cutoff {
		drop++
	}
	if drop > 0 {
		h.samples = append(h.samples[:0], h.samples[drop:]...)
	}
}

// thin removes the inner sample whose neighbours are closest in time: the
// bracket it leaves is the narrowest possible. Ties go to the older one.
func (h *offsetHistory) thin() {
	best, bestWidth := -1, int64(0)
	for i := 1; i < len(h.samples)-1; i++ {
		w := h.samples[i+1].First - h.samples[i-1].Last
		if best < 0 || w < bestWidth {
			best, bestWidth = i, w
		}
	}
	if best < 0 {
		return
	}
	h.samples = append(h.samples[:best], h.samples[best+1:]...)
}

// age estimates how long ago the message at offset committed was appended,
// as of now. ok is false when nothing observed before since can bound it
// (the first collection after start).
func (h *offsetHistory) age(committed int64, now, since time.Time) (time.Duration, bool) {
	i := sort.Search(len(h.samples), func(i int) bool { return h.samples[i].Offset > committed })
	nowNs := now.UnixNano()
	switch {
	case i == len(h.samples):
		return 0, true // nothing unconsumed as far as the history knows
	case i == 0:
		// Older than every sample: appended before the oldest was first
		// seen. A lower bound, never an extrapolation.
		first := h.samples[0].First
		if first >= since.UnixNano() {
			return 0, false
		}
		return time.Duration(max(nowNs-first, 0)), true
	}
	prev, cur := h.samples[i-1], h.samples[i]
	// LEO becomes committed+1 when the message at committed is appended.
	frac := float64(committed+1-prev.Offset) / float64(cur.Offset-prev.Offset)
	appended := prev.Last + int64(frac*float64(cur.First-prev.Last))
	return time.Duration(max(nowNs-appended, 0)), true
}

// partitionKey names a partition's history, shared by every group that
// reads the topic.
type partitionKey struct {
	instance, topic string
	partition       int64
}

type groupTopicKey struct {
	instance, group, topic string
}

// partitionOffsets is one partition of one answer.
type partitionOffsets struct {
	partition, logEnd, committed int64 // committed -1: never committed
}

// groupTopicState is what the previous collection of a group/topic saw,
// packed: it is kept for every group-partition of the cluster, so it is
// most of the memory a large collection holds. The partition IDs and the
// log end offsets are usually shared by every group reading the topic in
// one collection (the Kafka source lists the end offsets once), so they
// are interned per topic; each group keeps only its committed offsets.
type groupTopicState struct {
	at        time.Time
	ids       []int64 // shared
	logEnds   []int64 // shared
	committed []int64 // -1: never committed
	unmoved   int     // consecutive collections whose committed offsets did not move
}

func (s *groupTopicState) partition(i int) partitionOffsets {
	return partitionOffsets{partition: s.ids[i], logEnd: s.logEnds[i], committed: s.committed[i]}
}

// interned are the ID and log end vectors of one topic as last seen.
type interned struct {
	at           time.Time
	ids, logEnds []int64
}

// intern returns the topic's shared vectors when they hold the same IDs
// and log end offsets (another group saw the same answer), else new ones,
// kept as the topic's latest.
func (tr *timeTracker) intern(instance, topic string, at time.Time, cur []partitionOffsets) (ids, logEnds []int64) {
	key := partitionKey{instance: instance, topic: topic, partition: -1}
	in := tr.interned[key]
	if in != nil && len(in.ids) == len(cur) {
		same := true
		for i, c := range cur {
			if in.ids[i] != c.partition || in.logEnds[i] != c.logEnd {
				same = false
				break
			}
		}
		if same {
			in.at = at
			return in.ids, in.logEnds
		}
	}
	in = &interned{at: at, ids: make([]int64, len(cur)), logEnds: make([]int64, len(cur))}
	for i, c := range cur {
		in.ids[i], in.logEnds[i] = c.partition, c.logEnd
	}
	tr.interned[key] = in
	return in.ids, in.logEnds
}

// TimeSettings are the history keys of the configuration.
type TimeSettings struct {
	Window         time.Duration
	MaxSamples     int
	StallIntervals int
	// Once: this is the process's only collection (ckafka_lag -once), so
	// the committed offsets that rates and stalls compare with the next
	// collection are not kept.
	Once bool
}

// timeTracker keeps the histories and previous offsets across collections.
// It is not safe for concurrent use; the plugin serializes calls.
type timeTracker struct {
	settings TimeSettings
	history  map[partitionKey]*offsetHistory
	previous map[groupTopicKey]*groupTopicState
	interned map[partitionKey]*interned // by instance and topic (partition -1)
	// byTopic caches each topic's histories in partition order: every
	// group reading the topic finds them with one look-up, not one per
	// partition. Rebuilt when the partitions change, dropped by sweep.
	byTopic map[partitionKey]*topicHistories
}

// topicHistories are the histories of one topic's partitions, by position.
type topicHistories struct {
	ids []int64
	hs  []*offsetHistory
}

// histories returns the histories of the topic's partitions in the order
// of parts, creating those that are missing.
func (tr *timeTracker) histories(instance, topic string, parts []PartitionOffset) []*offsetHistory {
	key := partitionKey{instance: instance, topic: topic, partition: -1}
	th := tr.byTopic[key]
	if th != nil && len(th.ids) == len(parts) {
		same := true
		for i, p := range parts {
			if th.ids[i] != p.Partition {
				same = false
				break
			}
		}
		if same {
			return th.hs
		}
	}
	th = &topicHistories{ids: make([]int64, len(parts)), hs: make([]*offsetHistory, len(parts))}
	for i, p := range parts {
		pk := partitionKey{instance: instance, topic: topic, partition: p.Partition}
		h := tr.history[pk]
		if h == nil {
			h = &offsetHistory{}
			tr.history[pk] = h
		}
		th.ids[i], th.hs[i] = p.Partition, h
	}
	tr.byTopic[key] = th
	return th.hs
}

func newTimeTracker(s TimeSettings) *timeTracker {
	return &timeTracker{settings: s, history: map[partitionKey]*offsetHistory{}, previous: map[groupTopicKey]*groupTopicState{},
		interned: map[partitionKey]*interned{}, byTopic: map[partitionKey]*topicHistories{}}
}

// Optional is a value that may be unknown: absent in the metric, never 0 or
// NaN in its place.
type Optional struct {
	Value float64
	Known bool
}

func known(v float64) Optional { return Optional{Value: v, Known: true} }

// PartitionTime is one partition's lag in time and its rates.
type PartitionTime struct {
	LagSeconds, ProduceRate, ConsumeRate Optional
	// Lag is the partition's lag in messages; unknown while uncommitted.
	Lag     Optional
	lagging bool // the partition has lag
}

// TopicTime is a group's lag in time and trend on one topic.
type TopicTime struct {
	LagSeconds, ProduceRate, ConsumeRate, DrainSeconds Optional
	Stalled                                            bool
	Partitions                                         []PartitionTime // in the order of the TopicLag's partitions
}

// observe records one answer of a group's offsets on a topic, which arrived
// at at, and returns the topic's time fields. since is when the current
// collection began: samples taken after it do not count as history.
func (tr *timeTracker) observe(instance, group string, t TopicLag, parts []PartitionOffset, at, since time.Time) TopicTime {
	cur := make([]partitionOffsets, len(parts))
	out := TopicTime{Partitions: make([]PartitionTime, len(parts))}
	hs := tr.histories(instance, t.Topic, parts)
	for i, p := range parts {
		pl := partitionLag(p)
		cur[i] = partitionOffsets{partition: p.Partition, logEnd: pl.LogEnd, committed: pl.Committed}
		h := hs[i]
		h.observe(pl.LogEnd, at, tr.settings.Window, tr.settings.MaxSamples)
		out.Partitions[i].lagging = pl.Lag > 0
		if pl.Committed >= 0 {
			out.Partitions[i].Lag = known(float64(pl.Lag))
		}
		switch {
		case pl.Committed < 0:
		case pl.Lag == 0:
			out.Partitions[i].LagSeconds = known(0)
		default:
			if age, ok := h.age(pl.Committed, at, since); ok {
				out.Partitions[i].LagSeconds = known(age.Seconds())
			}
		}
	}

	key := groupTopicKey{instance: instance, group: group, topic: t.Topic}
	prev := tr.previous[key]
	state := &groupTopicState{at: at, committed: make([]int64, len(cur))}
	for i, c := range cur {
		state.committed[i] = c.committed
	}
	state.ids, state.logEnds = tr.intern(instance, t.Topic, at, cur)
	if !tr.settings.Once {
		tr.previous[key] = state
	}
	out.LagSeconds = maxKnown(out.Partitions, t.Lag)
	if prev == nil {
		return out
	}
	dt := at.Sub(prev.at).Seconds()
	moved := false
	var produced, consumed float64
	var producedKnown, consumedKnown bool
	for i, c := range cur {
		p, ok := findPartition(prev, i, c.partition)
		if !ok {
			continue
		}
		if c.committed != p.committed {
			moved = true
		}
		if dt <= 0 {
			continue
		}
		rate := float64(max(c.logEnd-p.logEnd, 0)) / dt
		out.Partitions[i].ProduceRate = known(rate)
		produced += rate
		producedKnown = true
		if c.committed >= 0 && p.committed >= 0 {
			rate := float64(max(c.committed-p.committed, 0)) / dt
			out.Partitions[i].ConsumeRate = known(rate)
			consumed += rate
			consumedKnown = true
		}
	}
	if !moved {
		state.unmoved = prev.unmoved + 1
	}
	out.Stalled = t.Lag > 0 && state.unmoved >= tr.settings.StallIntervals
	if producedKnown {
		out.ProduceRate = known(produced)
	}
	if consumedKnown {
		out.ConsumeRate = known(consumed)
	}
	if t.Lag > 0 && producedKnown && consumedKnown && consumed > produced {
		out.DrainSeconds = known(float64(t.Lag) / (consumed - produced))
	}
	return out
}

// maxKnown is the topic's lag_seconds: 0 without lag, else the largest
// known age among the partitions that lag (a caught-up partition's 0 says
// nothing of the others), unknown when none is known.
func maxKnown(parts []PartitionTime, lag int64) Optional {
	if lag == 0 {
		return known(0)
	}
	var out Optional
	for _, p := range parts {
		if p.lagging && p.LagSeconds.Known && (!out.Known || p.LagSeconds.Value > out.Value) {
			out = p.LagSeconds
		}
	}
	return out
}

// findPartition finds partition id in prev, first at index i where it
// usually is.
func findPartition(prev *groupTopicState, i int, id int64) (partitionOffsets, bool) {
	if i < len(prev.ids) && prev.ids[i] == id {
		return prev.partition(i), true
	}
	for j, p := range prev.ids {
		if p == id {
			return prev.partition(j), true
		}
	}
	return partitionOffsets{}, false
}

// sweep forgets groups, topics and partitions not seen within the window
// (deleted groups, removed topics), so memory follows the live set.
func (tr *timeTracker) sweep(now time.Time) {
	cutoff := now.Add(-tr.settings.Window)
	for k, s := range tr.previous {
		if s.at.Before(cutoff) {
			delete(tr.previous, k)
		}
	}
	for k, h := range tr.history {
		if n := len(h.samples); n == 0 || h.samples[n-1].Last < cutoff.UnixNano() {
			delete(tr.history, k)
		}
	}
	for k, in := range tr.interned {
		if in.at.Before(cutoff) {
			delete(tr.interned, k)
		}
	}
	clear(tr.byTopic) // it may point at histories just dropped
}

// GroupTime folds a group's topics: the largest lag_seconds, summed rates
// (known when any topic's is), stalled when any topic is.
type GroupTime struct {
	LagSeconds, ProduceRate, ConsumeRate Optional
	Stalled                              bool
}

// CalculateGroupTime folds the topics of one group (times[i] is lags[i]'s).
// lag_seconds is 0 without lag, else the largest known among the topics
// that lag: a caught-up topic's 0 says nothing of the others.
func CalculateGroupTime(lags []TopicLag, times []TopicTime) GroupTime {
	var g GroupTime
	var lag int64
	for i, t := range times {
		lag += lags[i].Lag
		if lags[i].Lag > 0 && t.LagSeconds.Known && (!g.LagSeconds.Known || t.LagSeconds.Value > g.LagSeconds.Value) {
			g.LagSeconds = t.LagSeconds
		}
		if t.ProduceRate.Known {
			g.ProduceRate = known(g.ProduceRate.Value + t.ProduceRate.Value)
		}
		if t.ConsumeRate.Known {
			g.ConsumeRate = known(g.ConsumeRate.Value + t.ConsumeRate.Value)
		}
		g.Stalled = g.Stalled || t.Stalled
	}
	if lag == 0 {
		g.LagSeconds = known(0)
	}
	return g
}
