package alert

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRecentKeepsTheNewestPointsInOrder(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	at := func(s int) Point {
		return Point{At: t0.Add(time.Duration(s) * time.Second), Lag: float64(s), LagSeconds: -1}
	}
	tests := []struct {
		name string
		add  []int // seconds after t0, in arrival order; the lag is the same number
		want []int
	}{
		{"in order", []int{1, 2, 3}, []int{1, 2, 3}},
		{"the same instant keeps the newer value", []int{1, 2, 2}, []int{1, 2}},
		{"a late point goes in place", []int{1, 3, 2}, []int{1, 2, 3}},
		{"full: the oldest goes", seq(1, 20), seq(5, 20)},
		{"full: a late point inside the kept span goes in place", append(odd(1, 31), 4), append([]int{3, 4}, odd(5, 31)...)},
		{"full: a point older than all kept is dropped", append(seq(10, 25), 1), seq(10, 25)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r recent
			for _, s := range tt.add {
				r.add(at(s))
			}
			var got []int
			for _, p := range r.history() {
				got = append(got, int(p.At.Sub(t0)/time.Second))
				require.Equal(t, float64(got[len(got)-1]), p.Lag)
				require.Equal(t, -1.0, p.LagSeconds)
			}
			require.Equal(t, tt.want, got)
			require.True(t, t0.Add(time.Duration(tt.want[len(tt.want)-1])*time.Second).Equal(r.last()))
		})
	}
}

func odd(from, to int) []int {
	var out []int
	for i := from; i <= to; i += 2 {
		out = append(out, i)
	}
	return out
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// The first firing notification charts the series before the breach, at
// the metrics' own times; a resolved alert's tail charts its next episode.
func TestFirstFiringCarriesThePointsBeforeTheBreach(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	arrival := t0.Add(time.Hour) // a backfilled batch: all arrive at once
	a := NewAlerts(Policy{History: History{Window: time.Hour, Max: 120}})
	obs := func(level Level, lag float64, s int) Observation {
		return Observation{Key: "k", Level: level, Value: lag, HasValue: true, Threshold: 2000, At: arrival.Add(time.Duration(s-60) * time.Second)}
	}
	for s := range 3 {
		_, due := a.Observe(obs(LevelOK, float64(1000+500*s), s), arrival)
		require.False(t, due)
	}
	n, due := a.Observe(obs(LevelCritical, 2500, 3), arrival)
	require.True(t, due)
	require.Len(t, n.Alert.History, 4)
	for i, p := range n.Alert.History {
		require.True(t, arrival.Add(time.Duration(i-60)*time.Second).Equal(p.At), "keyed by the metric's time")
		require.Equal(t, 2000.0, p.Threshold)
	}
	require.Equal(t, []float64{1000, 1500, 2000, 2500}, lags(n.Alert.History))

	n, due = a.Observe(obs(LevelOK, 500, 4), arrival)
	require.True(t, due)
	require.Equal(t, KindResolved, n.Kind)
	n, _ = a.Observe(obs(LevelWarning, 1500, 5), arrival)
	require.Equal(t, []float64{1000, 1500, 2000, 2500, 500, 1500}, lags(n.Alert.History), "the tail of the last episode")
}

func lags(h []Point) []float64 {
	var out []float64
	for _, p := range h {
		out = append(out, p.Lag)
	}
	return out
}

// Series that stopped reporting are forgotten after a chart window.
func TestQuietSeriesAreSwept(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	a := NewAlerts(Policy{History: History{Window: 10 * time.Minute, Max: 120}})
	a.Observe(Observation{Key: "gone", Level: LevelOK, Value: 1, HasValue: true, At: t0}, t0)
	a.Observe(Observation{Key: "live", Level: LevelOK, Value: 1, HasValue: true, At: t0.Add(9 * time.Minute)}, t0.Add(9*time.Minute))
	require.Len(t, a.quiet, 2)
	a.Tick(t0.Add(15*time.Minute), nil)
	require.Len(t, a.quiet, 1)
	require.NotNil(t, a.quiet[a.hash("live")])
}
