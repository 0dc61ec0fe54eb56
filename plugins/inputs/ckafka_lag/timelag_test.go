package ckafka_lag

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var tl0 = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return tl0.Add(time.Duration(s * float64(time.Second))) }

type obs struct {
	t      float64 // seconds after tl0
	logEnd int64
}

func TestOffsetHistoryAge(t *testing.T) {
	tests := []struct {
		name      string
		samples   []obs
		committed int64
		now       float64
		since     float64 // start of the current collection
		// The estimate must lie in [lo, hi] seconds.
		lo, hi  float64
		unknown bool
	}{
		{name: "steady 10 msgs/s, inside a bracket", samples: []obs{{0, 1000}, {60, 1600}, {120, 2200}},
			committed: 1300, now: 120, since: 120, lo: 60, hi: 120},
		{name: "steady, interpolated", samples: []obs{{0, 1000}, {60, 1600}, {120, 2200}},
			committed: 1299, now: 120, since: 120, lo: 90, hi: 90},
		{name: "consumer stuck behind the whole history: a lower bound", samples: []obs{{0, 1000}, {60, 1600}, {120, 2200}},
			committed: 500, now: 120, since: 120, lo: 120, hi: 120},
		{name: "burst after an idle hour is minutes old, not an hour", samples: []obs{{0, 100}, {1800, 100}, {3600, 100}, {3660, 10100}},
			committed: 100, now: 3660, since: 3660, lo: 0, hi: 60},
		{name: "idle topic, consumer caught up", samples: []obs{{0, 100}, {3600, 100}},
			committed: 100, now: 3600, since: 3600, lo: 0, hi: 0},
		{name: "first collection: no earlier sample", samples: []obs{{0, 1000}},
			committed: 500, now: 0, since: 0, unknown: true},
		{name: "earlier sample in the same collection does not count", samples: []obs{{0, 1000}, {0.5, 1000}},
			committed: 500, now: 0.5, since: 0, unknown: true},
		{name: "offset reset forgets the old samples", samples: []obs{{0, 5000}, {60, 6000}, {120, 10}, {180, 610}},
			committed: 300, now: 180, since: 180, lo: 0, hi: 60},
		{name: "message exactly at a sample's offset", samples: []obs{{0, 1000}, {60, 1600}},
			committed: 1000, now: 60, since: 60, lo: 0, hi: 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h offsetHistory
			for _, s := range tt.samples {
				h.observe(s.logEnd, at(s.t), time.Hour*2, 64)
			}
			age, ok := h.age(tt.committed, at(tt.now), at(tt.since))
			if tt.unknown {
				require.False(t, ok)
				return
			}
			require.True(t, ok)
			require.GreaterOrEqual(t, age.Seconds(), tt.lo)
			require.LessOrEqual(t, age.Seconds(), tt.hi)
		})
	}
}

// TestOffsetHistoryStaysBoundedAndTrue feeds a producer with bursts for
// hours and checks every committed offset's estimate against the truth.
func TestOffsetHistoryStaysBoundedAndTrue(t *testing.T) {
	var h offsetHistory
	const window = time.Hour
	appended := map[int64]time.Time{} // offset → when it was appended
	offset := int64(0)
	for s := 0; s < 4*3600; s += 15 {
		now := at(float64(s))
		n := int64(5)
		if (s/600)%3 == 0 {
			n = 500 // bursts
		}
		if (s/600)%5 == 4 {
			n = 0 // idle
		}
		for i := int64(0); i < n; i++ {
			appended[offset+i] = now.Add(-time.Duration(n-i) * time.Millisecond)
		}
		offset += n
		h.observe(offset, now, window, 64)
		require.LessOrEqual(t, len(h.samples), 64)
		for c := range int64(offset) {
			if c%97 != 0 {
				continue
			}
			age, ok := h.age(c, now, now)
			require.True(t, ok || s == 0)
			if !ok {
				continue
			}
			truth := now.Sub(appended[c])
			oldest := time.Unix(0, h.samples[0].First)
			if c < h.samples[0].Offset {
				require.GreaterOrEqual(t, age, now.Sub(oldest), "lower bound for offset %d", c)
				require.LessOrEqual(t, age, truth, "never beyond the truth for offset %d", c)
				continue
			}
			// Inside the history: within the bracket of two samples.
			i := 0
			for h.samples[i].Offset <= c {
				i++
			}
			lo, hi := now.Sub(time.Unix(0, h.samples[i].First)), now.Sub(time.Unix(0, h.samples[i-1].Last))
			require.GreaterOrEqual(t, age, lo, "offset %d", c)
			require.LessOrEqual(t, age, hi, "offset %d", c)
			require.GreaterOrEqual(t, truth, lo, "the bracket holds the truth for offset %d", c)
			require.LessOrEqual(t, truth, hi, "the bracket holds the truth for offset %d", c)
		}
	}
	require.GreaterOrEqual(t, time.Unix(0, h.samples[0].First), at(4*3600).Add(-window-time.Minute), "the window bounds the history")
}

func TestOffsetHistoryThinningKeepsNarrowBrackets(t *testing.T) {
	var h offsetHistory
	for i := range 10 {
		h.observe(int64(100*i), at(float64(i)), 20*time.Second, 4)
	}
	require.Len(t, h.samples, 4)
	require.Equal(t, int64(0), h.samples[0].Offset, "the oldest stays: it bounds the history")
	require.Equal(t, int64(900), h.samples[3].Offset, "the newest stays")
}

func TestOffsetHistoryAnswersOfOneCollectionShareASample(t *testing.T) {
	var h offsetHistory
	// 250 groups read a moving topic within 2.6 s, every minute.
	for c := range 3 {
		for g := range 250 {
			s := float64(60*c) + float64(g)*2.6/250
			h.observe(int64(50*s), at(s), time.Hour, 64)
		}
	}
	require.LessOrEqual(t, len(h.samples), 6, "about one sample per collection, not one per answer")
	age, ok := h.age(int64(50*61), at(122.6), at(120))
	require.True(t, ok)
	require.InDelta(t, 61.6, age.Seconds(), 2.7, "still inside a collection-wide bracket")
}

func partitions(pairs ...int64) []PartitionOffset {
	var out []PartitionOffset
	for i := 0; i+1 < len(pairs); i += 2 {
		logEnd := pairs[i+1]
		out = append(out, PartitionOffset{Partition: int64(i / 2), Committed: pairs[i], LogEnd: &logEnd})
	}
	return out
}

func TestTimeTracker(t *testing.T) {
	settings := TimeSettings{Window: time.Hour, MaxSamples: 64, StallIntervals: 2}
	type step struct {
		t     float64
		parts []PartitionOffset // committed, logEnd pairs
		check func(t *testing.T, tt TopicTime)
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"first collection: rates and drain unknown, lag_seconds unknown", []step{
			{0, partitions(100, 200, 50, 80), func(t *testing.T, tt TopicTime) {
				require.False(t, tt.ProduceRate.Known)
				require.False(t, tt.ConsumeRate.Known)
				require.False(t, tt.DrainSeconds.Known)
				require.False(t, tt.LagSeconds.Known)
				require.False(t, tt.Stalled)
			}},
		}},
		{"rates, drain and lag in seconds", []step{
			{0, partitions(100, 200, 50, 80), nil},
			{10, partitions(400, 300, 250, 130), func(t *testing.T, tt TopicTime) {
				require.Equal(t, known(15), tt.ProduceRate, "(100+50)/10")
				require.Equal(t, known(50), tt.ConsumeRate, "(300+200)/10")
				require.Equal(t, known(0), tt.LagSeconds, "caught up")
				require.False(t, tt.DrainSeconds.Known, "no lag, nothing to drain")
				require.Equal(t, known(10), tt.Partitions[0].ProduceRate)
			}},
			{20, partitions(450, 600, 260, 180), func(t *testing.T, tt TopicTime) {
				// lag 150+... = (600-450)+(180-260→0)
				require.Equal(t, known(35), tt.ProduceRate)
				require.InDelta(t, 6, tt.ConsumeRate.Value, 1e-9)
				require.True(t, tt.LagSeconds.Known)
				require.InDelta(t, 5, tt.LagSeconds.Value, 5, "offset 450 was appended in (10 s, 20 s]")
				require.False(t, tt.DrainSeconds.Known, "consuming slower than producing")
			}},
			{30, partitions(600, 650, 270, 190), func(t *testing.T, tt TopicTime) {
				require.Equal(t, known(6), tt.ProduceRate)
				require.InDelta(t, 16, tt.ConsumeRate.Value, 1e-9)
				require.InDelta(t, 50.0/10, tt.DrainSeconds.Value, 1e-9, "lag 50 at 10/s net")
			}},
		}},
		{"stalled after stall_intervals unchanged collections with lag", []step{
			{0, partitions(100, 200), nil},
			{10, partitions(100, 300), func(t *testing.T, tt TopicTime) { require.False(t, tt.Stalled) }},
			{20, partitions(100, 400), func(t *testing.T, tt TopicTime) {
				require.True(t, tt.Stalled)
				require.Equal(t, known(0), tt.ConsumeRate, "a known 0: the consumer is not moving")
				require.False(t, tt.DrainSeconds.Known)
			}},
			{30, partitions(101, 400), func(t *testing.T, tt TopicTime) { require.False(t, tt.Stalled, "it moved") }},
		}},
		{"idle caught-up group is not stalled", []step{
			{0, partitions(100, 100), nil},
			{10, partitions(100, 100), nil},
			{20, partitions(100, 100), func(t *testing.T, tt TopicTime) {
				require.False(t, tt.Stalled)
				require.Equal(t, known(0), tt.LagSeconds)
				require.Equal(t, known(0), tt.ProduceRate)
			}},
		}},
		{"topic recreated: offsets go back, no negative rate", []step{
			{0, partitions(5000, 6000), nil},
			{10, partitions(0, 100), func(t *testing.T, tt TopicTime) {
				require.Equal(t, known(0), tt.ProduceRate)
				require.Equal(t, known(0), tt.ConsumeRate)
				require.False(t, tt.LagSeconds.Known, "no earlier sample of the new topic")
			}},
		}},
		{"partition added: rates over partitions seen twice", []step{
			{0, partitions(100, 200), nil},
			{10, partitions(200, 300, 0, 50), func(t *testing.T, tt TopicTime) {
				require.Equal(t, known(10), tt.ProduceRate)
				require.False(t, tt.Partitions[1].ProduceRate.Known)
				require.False(t, tt.Partitions[1].LagSeconds.Known)
				require.True(t, tt.Partitions[0].LagSeconds.Known)
			}},
		}},
		{"uncommitted partition has no lag_seconds and no consume rate", []step{
			{0, partitions(-1, 200), nil},
			{10, partitions(-1, 300), func(t *testing.T, tt TopicTime) {
				require.False(t, tt.Partitions[0].LagSeconds.Known)
				require.False(t, tt.Partitions[0].ConsumeRate.Known)
				require.False(t, tt.ConsumeRate.Known)
				require.Equal(t, known(0), tt.LagSeconds, "the topic's lag is 0")
			}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTimeTracker(settings)
			for _, s := range tt.steps {
				lag := CalculateTopicLag("orders", s.parts, false)
				got := tr.observe("ckafka-1", "g", lag, s.parts, at(s.t), at(s.t))
				if s.check != nil {
					s.check(t, got)
				}
			}
		})
	}
}

func TestTimeTrackerSharesHistoryAcrossGroupsAndSweeps(t *testing.T) {
	tr := newTimeTracker(TimeSettings{Window: time.Minute, MaxSamples: 64, StallIntervals: 3})
	a := partitions(100, 1000)
	tr.observe("i", "a", CalculateTopicLag("t", a, false), a, at(0), at(0))
	b := partitions(50, 2000)
	got := tr.observe("i", "b", CalculateTopicLag("t", b, false), b, at(30), at(30))
	require.Equal(t, known(30), got.LagSeconds, "group a's sample bounds group b's first collection")
	require.Len(t, tr.history, 1, "one history per partition, shared")
	tr.sweep(at(200))
	require.Empty(t, tr.history)
	require.Empty(t, tr.previous)
}

func TestCalculateGroupTime(t *testing.T) {
	lags := []TopicLag{{Lag: 5}, {Lag: 7}, {Lag: 1}, {Lag: 0}}
	g := CalculateGroupTime(lags, []TopicTime{
		{LagSeconds: known(10), ProduceRate: known(5), ConsumeRate: known(1)},
		{LagSeconds: known(40), ProduceRate: known(2), Stalled: true},
		{},
		{LagSeconds: known(0)},
	})
	require.Equal(t, GroupTime{LagSeconds: known(40), ProduceRate: known(7), ConsumeRate: known(1), Stalled: true}, g)
	g = CalculateGroupTime([]TopicLag{{Lag: 5}, {Lag: 0}}, []TopicTime{{}, {LagSeconds: known(0)}})
	require.False(t, g.LagSeconds.Known, "a caught-up topic says nothing of one that lags")
	require.Equal(t, GroupTime{LagSeconds: known(0)}, CalculateGroupTime(nil, nil), "no topics, no lag")
}

// BenchmarkTimeTracker replays the history and estimator work of ten
// collections of BenchmarkCollectionHistory (cmd/ckafka_lag): 2 instances ×
// 250 groups × 20 topics × 16 partitions, offsets moving between
// collections. make bench divides its time by the binary's CPU time per
// collection, measured in the same run.
func BenchmarkTimeTracker(b *testing.B) {
	const (
		instances, groups, topics, partitions = 2, 250, 20, 16
		collections                           = 10
		spacing                               = 2600 * time.Millisecond // one collection at 200 requests/s
	)
	type answer struct {
		instance, group string
		lag             TopicLag
		parts           []PartitionOffset
		at              time.Time
	}
	// Build every answer first: the benchmark measures the tracker only.
	var work [collections][]answer
	for c := range collections {
		start := tl0.Add(time.Duration(c) * spacing)
		for in := range instances {
			for g := range groups {
				at := start.Add(time.Duration(g) * spacing / groups)
				for t := range topics {
					parts := make([]PartitionOffset, partitions)
					for p := range parts {
						produced := int64(50 * at.Sub(tl0).Seconds())
						logEnd := int64(1_000_000*p) + produced
						parts[p] = PartitionOffset{Partition: int64(p), Committed: logEnd - 37 - int64(g), LogEnd: &logEnd}
					}
					topic := fmt.Sprintf("topic-%02d", t)
					work[c] = append(work[c], answer{fmt.Sprintf("i%d", in), fmt.Sprintf("g%03d", g), CalculateTopicLag(topic, parts, false), parts, at})
				}
			}
		}
	}
	b.ResetTimer()
	for range b.N {
		tr := newTimeTracker(TimeSettings{Window: time.Hour, MaxSamples: 64, StallIntervals: 3})
		for c := range collections {
			since := tl0.Add(time.Duration(c) * spacing)
			for _, a := range work[c] {
				tt := tr.observe(a.instance, a.group, a.lag, a.parts, a.at, since)
				CalculateGroupTime([]TopicLag{a.lag}, []TopicTime{tt})
			}
			tr.sweep(since.Add(spacing))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/collections, "tracker_ms/collection")
}

// TestStaleAnswerIsNoTruncation: many groups' answers for one topic are in
// flight at once, so one read before the newest may arrive after it with a
// lower log end. That is no truncation: the history stays, and a committed
// offset inside it keeps its age. (Before, the history was reset and a
// quarter of a large collection lost lag_seconds.)
func TestStaleAnswerIsNoTruncation(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	var h offsetHistory
	h.observe(100, t0, time.Hour, 64)
	h.observe(200, t0.Add(10*time.Second), time.Hour, 64)
	h.observe(150, t0.Add(11*time.Second), time.Hour, 64) // read at ~5 s, arrived late
	require.Len(t, h.samples, 2)
	age, ok := h.age(120, t0.Add(20*time.Second), t0.Add(15*time.Second))
	require.True(t, ok)
	require.InDelta(t, 17.9, age.Seconds(), 0.01, "appended 21/100 of the way from 0 s to 10 s")

	// Below everything seen: the topic was recreated.
	h.observe(5, t0.Add(30*time.Second), time.Hour, 64)
	require.Len(t, h.samples, 1)
}

// TestTrackerPacksGroupState: groups reading a topic in one collection
// share its partition IDs and log end offsets; each keeps its commits only,
// and with -once nothing is kept for a next collection.
func TestTrackerPacksGroupState(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	end := func(v int64) *int64 { return &v }
	parts := func(committed int64) []PartitionOffset {
		return []PartitionOffset{{Partition: 0, Committed: committed, LogEnd: end(100)}, {Partition: 1, Committed: committed, LogEnd: end(200)}}
	}
	tr := newTimeTracker(TimeSettings{Window: time.Hour, MaxSamples: 8, StallIntervals: 3})
	tr.observe("i", "a", TopicLag{Topic: "t", Lag: 10}, parts(95), at, at)
	tr.observe("i", "b", TopicLag{Topic: "t", Lag: 20}, parts(90), at, at)
	a, b := tr.previous[groupTopicKey{instance: "i", group: "a", topic: "t"}], tr.previous[groupTopicKey{instance: "i", group: "b", topic: "t"}]
	require.Same(t, &a.logEnds[0], &b.logEnds[0], "the log end offsets are shared")
	require.Same(t, &a.ids[0], &b.ids[0], "so are the partition IDs")
	require.Equal(t, []int64{95, 95}, a.committed)
	require.Equal(t, []int64{90, 90}, b.committed)
	// The next collection still computes rates from them.
	next := tr.observe("i", "a", TopicLag{Topic: "t", Lag: 10}, []PartitionOffset{{Partition: 0, Committed: 105, LogEnd: end(110)}, {Partition: 1, Committed: 95, LogEnd: end(200)}}, at.Add(10*time.Second), at.Add(10*time.Second))
	require.InDelta(t, 1.0, next.ProduceRate.Value, 1e-9)
	require.InDelta(t, 1.0, next.ConsumeRate.Value, 1e-9)

	once := newTimeTracker(TimeSettings{Window: time.Hour, MaxSamples: 8, StallIntervals: 3, Once: true})
	once.observe("i", "a", TopicLag{Topic: "t", Lag: 10}, parts(95), at, at)
	require.Empty(t, once.previous, "-once keeps nothing for a next collection")
}
