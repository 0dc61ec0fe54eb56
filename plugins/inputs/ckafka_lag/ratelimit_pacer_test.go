package ckafka_lag

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeClock is a clock the test moves: sleepers park until it is advanced
// past their time, or their wake channel closes.
type fakeClock struct {
	mu       sync.Mutex
	now      time.Time
	sleepers map[*fakeSleeper]bool
}

type fakeSleeper struct {
	until time.Time
	done  chan struct{}
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) error {
	c.mu.Lock()
	s := &fakeSleeper{until: c.now.Add(d), done: make(chan struct{})}
	c.sleepers[s] = true
	c.mu.Unlock()
	defer func() { c.mu.Lock(); delete(c.sleepers, s); c.mu.Unlock() }()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
	case <-wake:
	}
	return nil
}

// parked counts the sleepers still waiting.
func (c *fakeClock) parked() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.sleepers) }

// advance moves the time to the earliest sleeper's and wakes every sleeper
// due then.
func (c *fakeClock) advance() {
	c.mu.Lock()
	defer c.mu.Unlock()
	var next time.Time
	for s := range c.sleepers {
		if next.IsZero() || s.until.Before(next) {
			next = s.until
		}
	}
	c.now = next
	for s := range c.sleepers {
		if !s.until.After(next) {
			close(s.done)
			delete(c.sleepers, s)
		}
	}
}

// TestPacerManyWaiters: 400 requests wait for one action at once, as the
// groups of a collection's start do, with the limit unknown (rate_limit =
// "auto", rate_limit_max 100, the server's limit). Each granted request is
// answered, accepted, at once. The pace must reach the limit within 50
// answers, and after that no request waits at the start pace (20/s): a
// waiter holds no reservation made at an older, slower pace (issue: the
// first collection never left autoStart for its retention lookups).
func TestPacerManyWaiters(t *testing.T) {
	const waiters, limit = 400, 100.0
	clk := &fakeClock{now: time.Unix(1_800_000_000, 0), sleepers: map[*fakeSleeper]bool{}}
	p := newAutoPacer(limit)
	p.clock = clk
	grants := make(chan time.Time, waiters)
	var granted atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range waiters {
		go func() {
			if p.Wait(ctx, "DescribeTopicAttributes") == nil {
				grants <- clk.Now()
				granted.Add(1)
			}
		}()
	}
	// settled: every waiter either got its slot or sleeps.
	settled := func() {
		require.Eventually(t, func() bool { return int(granted.Load())+clk.parked() == waiters }, 10*time.Second, time.Millisecond)
	}
	var times []time.Time
	var rates []float64
	for len(times) < waiters {
		settled()
		select {
		case at := <-grants:
			times = append(times, at)
			p.Answered("DescribeTopicAttributes", false, at)
			rates = append(rates, p.Rate("DescribeTopicAttributes"))
		default:
			clk.advance()
		}
	}
	reached := -1
	for i, r := range rates {
		if r >= limit {
			reached = i + 1
			break
		}
	}
	require.Positive(t, reached, "the pace never reached the limit")
	require.LessOrEqual(t, reached, 50, "the pace reaches the limit within 50 answers")
	startGap := time.Duration(float64(time.Second) / autoStart)
	for i := 50; i < len(times); i++ {
		gap := times[i].Sub(times[i-1])
		require.Less(t, gap, startGap, "request %d waited %s after the one before: the start pace", i, gap)
		require.LessOrEqual(t, gap, time.Duration(float64(time.Second)/limit)+time.Microsecond, "request %d: slower than the limit", i)
	}
	span := times[len(times)-1].Sub(times[0])
	t.Logf("400 waiters: the limit (100/s) reached after %d answers; span %s = %.2f× 400 ÷ limit", reached, span, span.Seconds()/(waiters/limit))
	require.Less(t, span.Seconds(), 1.15*waiters/limit)
}
