package ckafka_lag

import (
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/stretchr/testify/require"
)

func TestAdaptiveRateSteps(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	a := newAdaptiveRate(100)
	require.InDelta(t, 20, a.rate, 1e-9, "starts at 20/s")
	require.InDelta(t, 22, a.answered(false, t0), 1e-9, "slow start: +10% a clean answer")
	for range 50 {
		a.answered(false, t0)
	}
	require.InDelta(t, 100, a.rate, 1e-9, "never above rate_limit_max")
	require.InDelta(t, 50, a.answered(true, t0), 1e-9, "the first throttled answer halves it")
	require.InDelta(t, 50, a.answered(true, t0.Add(100*time.Millisecond)), 1e-9, "answers in flight do not cut again")
	require.InDelta(t, 50.01, a.answered(false, t0.Add(300*time.Millisecond)), 1e-9, "then +1% a second, spread over the answers")
	require.InDelta(t, 47.5095, a.answered(true, t0.Add(400*time.Millisecond)), 1e-9, "a probe with few answers to measure: 95%")
	for i := range 10 { // ten accepted in the next second: the limit is 10/s
		a.answered(false, t0.Add(400*time.Millisecond+time.Duration(i)*100*time.Millisecond))
	}
	require.InDelta(t, 9.5, a.answered(true, t0.Add(1400*time.Millisecond)), 1e-9, "95% of what was accepted since the cut")
	for range 100 {
		a.answered(true, t0.Add(time.Hour))
		t0 = t0.Add(2 * time.Second)
	}
	require.GreaterOrEqual(t, a.rate, 1.0, "never below 1/s")
}

// TestAdaptiveRateConverges plays the pace against a per-action token
// bucket of one second of requests (the fake's, Tencent Cloud's) on a
// virtual clock: it settles just under each limit, and throttled answers
// stay a small share.
func TestAdaptiveRateConverges(t *testing.T) {
	for _, limit := range []float64{20, 50, 100} {
		t.Run("", func(t *testing.T) {
			now := time.Unix(1_800_000_000, 0)
			a := newAdaptiveRate(100)
			tokens, last := limit, now
			const requests = 600
			throttled := 0
			for sent := 0; sent < requests; {
				now = now.Add(time.Duration(float64(time.Second) / a.rate))
				tokens = min(limit, tokens+now.Sub(last).Seconds()*limit)
				last = now
				if tokens < 1 {
					throttled++
					a.answered(true, now)
					continue
				}
				tokens--
				sent++
				a.answered(false, now)
			}
			elapsed := now.Sub(time.Unix(1_800_000_000, 0)).Seconds()
			floor := requests / limit
			t.Logf("limit %v/s: %d requests in %.2f s (floor %.2f s, %.3f×), %d throttled (%.1f%%)",
				limit, requests, elapsed, floor, elapsed/floor, throttled, 100*float64(throttled)/requests)
			require.LessOrEqual(t, elapsed, 1.15*floor)
			require.LessOrEqual(t, float64(throttled), 0.03*requests)
		})
	}
}

func TestRateLimitConfig(t *testing.T) {
	tests := []struct {
		in   string
		want RateLimit
		err  string
	}{
		{in: `rate_limit = "auto"`, want: RateLimit{Auto: true}},
		{in: `rate_limit = 20`, want: RateLimit{Fixed: 20}},
		{in: `rate_limit = 12.5`, want: RateLimit{Fixed: 12.5}},
		{in: `rate_limit = "15"`, want: RateLimit{Fixed: 15}},
		{in: `rate_limit = "fast"`, err: `"fast" is not "auto" or a number`},
		{in: `rate_limit = true`, err: "is not \"auto\" or a number"},
	}
	for _, tt := range tests {
		var c struct {
			RateLimit RateLimit `toml:"rate_limit"`
		}
		_, err := toml.Decode(tt.in, &c)
		if tt.err != "" {
			require.ErrorContains(t, err, tt.err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, c.RateLimit, tt.in)
	}
}
