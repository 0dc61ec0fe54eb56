package window

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

// win builds a window of samples a minute apart from offsets and log ends.
func win(offsets, logEnds []int64) []Sample {
	w := make([]Sample, len(offsets))
	for i := range offsets {
		w[i] = Sample{At: t0.Add(time.Duration(i) * time.Minute), Offset: offsets[i], LogEnd: logEnds[i], Lag: logEnds[i] - offsets[i]}
	}
	return w
}

func TestPartitionRules(t *testing.T) {
	j := Judge{Need: 5}
	end := t0.Add(4 * time.Minute) // the last sample's time
	tests := []struct {
		name    string
		w       []Sample
		now     time.Time
		members bool
		want    Status
	}{
		{"incomplete window is ok", win([]int64{1, 1, 1}, []int64{9, 10, 11}), end, true, OK},
		{"no lag now is ok", win([]int64{1, 2, 3, 4, 20}, []int64{10, 12, 14, 16, 20}), end, true, OK},
		{"stop: no members, offset unchanged for longer than the window before it",
			win([]int64{5, 5, 5, 5, 5}, []int64{10, 11, 12, 13, 14}), end.Add(time.Minute), false, Stop},
		{"stop exception: caught up a moment ago (a log end at the last offset)",
			win([]int64{10, 10, 10, 10, 10}, []int64{10, 11, 12, 13, 14}), end.Add(time.Minute), false, OK},
		{"stop needs the gap: the last change is recent", win([]int64{1, 2, 3, 4, 5}, []int64{10, 11, 12, 13, 14}),
			end.Add(time.Minute), false, Warn},
		{"rewind not recovered", win([]int64{50, 60, 70, 10, 20}, []int64{100, 110, 120, 130, 140}), end, true, Rewind},
		{"rewind recovered is judged by the rest", win([]int64{50, 60, 10, 65, 70}, []int64{100, 110, 120, 175, 185}), end, true, Warn},
		{"lag was zero in the window: ok", win([]int64{10, 11, 12, 12, 12}, []int64{10, 12, 14, 16, 18}), end, true, OK},
		{"stall: members online, offset unchanged", win([]int64{5, 5, 5, 5, 5}, []int64{10, 11, 12, 13, 14}), end, true, Stall},
		{"warn: moving but lag never decreases", win([]int64{1, 2, 3, 4, 5}, []int64{10, 12, 14, 16, 18}), end, true, Warn},
		{"ok: lag went down once", win([]int64{1, 2, 9, 10, 11}, []int64{10, 12, 14, 16, 18}), end, true, OK},
		{"a rare committer with members (Burrow #303) is not stopped",
			win([]int64{1, 1, 1, 30, 30}, []int64{20, 25, 30, 35, 40}), end.Add(30 * time.Second), true, OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, j.Partition(tt.w, tt.now, tt.members), "got %s", j.Partition(tt.w, tt.now, tt.members))
		})
	}
}

func TestWorstFollowsBurrowsOrder(t *testing.T) {
	require.Equal(t, OK, Worst())
	require.Equal(t, Warn, Worst(OK, Warn, OK))
	require.Equal(t, Stall, Worst(Stop, Stall, Warn))
	require.Equal(t, Rewind, Worst(Rewind, Stall))
	require.Equal(t, "stall", Stall.String())
}

func TestGrowth(t *testing.T) {
	at := []time.Time{t0, t0.Add(10 * time.Second), t0.Add(20 * time.Second)}
	g, ok := Growth(at, []float64{5, 10, 15})
	require.True(t, ok)
	require.InDelta(t, 0.5, g, 1e-9)
	g, ok = Growth(at, []float64{30, 20, 10})
	require.True(t, ok)
	require.InDelta(t, -1, g, 1e-9)
	_, ok = Growth(at[:1], []float64{1})
	require.False(t, ok)
	_, ok = Growth([]time.Time{t0, t0}, []float64{1, 2})
	require.False(t, ok)
}
