package ckafka_lag

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit is rate_limit: "auto" (learn each action's limit) or a fixed
// number of requests per second shared by all actions.
type RateLimit struct {
	Auto  bool
	Fixed float64
}

// UnmarshalTOML reads "auto" or a number.
func (r *RateLimit) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case string:
		if strings.TrimSpace(x) == "auto" || strings.TrimSpace(x) == "" {
			*r = RateLimit{Auto: true}
			return nil
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return fmt.Errorf("rate_limit: %q is not \"auto\" or a number of requests per second", x)
		}
		*r = RateLimit{Fixed: f}
	case int64:
		*r = RateLimit{Fixed: float64(x)}
	case float64:
		*r = RateLimit{Fixed: x}
	default:
		return fmt.Errorf("rate_limit: %v is not \"auto\" or a number", v)
	}
	return nil
}

// UnmarshalText lets Telegraf's own config loader read it too.
func (r *RateLimit) UnmarshalText(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		*r = RateLimit{Fixed: f}
		return nil
	}
	return r.UnmarshalTOML(s)
}

// The adaptive pace: start at the documented default and find the limit in
// force per action (Tencent Cloud limits each action per sub-account, and
// raises limits on request). Slow start grows 10% a clean answer until the
// first throttled answer, which halves the rate: a bucket of one second of
// requests hides the limit until it is empty, so the first overshoot is
// large. After that, clean answers add 1% a second, and a throttled one
// sets the rate to 95% of what was accepted since the last cut (the limit
// itself, once the bucket is empty), or 95% of the rate when fewer answers
// came. Answers of requests already in flight within 200 ms of a cut tell
// the same overshoot again and change nothing. So the pace spends its time
// just under the limit and probes it every few seconds, at the cost of a
// throttled answer or two.
const (
	autoStart     = 20
	autoMin       = 1
	slowStartGrow = 1.10
	probeGrowPerS = 0.01
	backoffFirst  = 0.5
	backoffProbe  = 0.95
	inFlight      = 200 * time.Millisecond
	measureAfter  = 3 // accepted answers since a cut that measure the limit
)

// adaptiveRate is one action's learned pace: a pure state machine, the
// time passed in.
type adaptiveRate struct {
	rate      float64
	max       float64
	slowStart bool
	cutAt     time.Time
	okSince   int // accepted answers since cutAt
}

func newAdaptiveRate(max float64) *adaptiveRate {
	return &adaptiveRate{rate: min(autoStart, max), max: max, slowStart: true}
}

// answered moves the pace by one answer at now and returns the new rate.
func (a *adaptiveRate) answered(throttled bool, now time.Time) float64 {
	switch {
	case throttled && a.slowStart:
		a.slowStart = false
		a.cut(max(autoMin, a.rate*backoffFirst), now)
	case throttled && now.Sub(a.cutAt) < inFlight:
	case throttled:
		next := a.rate * backoffProbe
		if elapsed := now.Sub(a.cutAt).Seconds(); a.okSince >= measureAfter && elapsed > 0 {
			next = min(next, backoffProbe*float64(a.okSince)/elapsed)
		}
		a.cut(max(autoMin, next), now)
	case a.slowStart:
		a.okSince++
		a.rate = min(a.max, a.rate*slowStartGrow)
	default:
		a.okSince++
		// probeGrowPerS of the rate a second, spread over its answers.
		a.rate = min(a.max, a.rate+probeGrowPerS)
	}
	return a.rate
}

func (a *adaptiveRate) cut(rate float64, now time.Time) {
	a.rate, a.cutAt, a.okSince = rate, now, 0
}

// pacer spaces the requests of a collection.
type pacer interface {
	Wait(ctx context.Context, action string) error
	// Answered tells the pace how a request of action was answered.
	Answered(action string, throttled bool, now time.Time)
	// Rate is the pace of action now (requests per second).
	Rate(action string) float64
}

// fixedPacer is rate_limit = N: one pace shared by every action.
type fixedPacer struct{ lim *rate.Limiter }

func (f fixedPacer) Wait(ctx context.Context, _ string) error { return f.lim.Wait(ctx) }
func (fixedPacer) Answered(string, bool, time.Time)           {}
func (f fixedPacer) Rate(string) float64                      { return float64(f.lim.Limit()) }

// autoPacer is rate_limit = "auto": a learned pace per action, kept for the
// life of the process (collections start where the last one ended).
//
// It hands out one slot at a time at the pace of the moment, not
// reservations: rate.Limiter.Wait reserves a slot at the pace of the
// moment it is called, so the hundreds of callers of a collection's start
// would hold slots spaced at the start pace (20/s) long after the first
// answers raised it, and SetLimitAt does not move reservations already
// made. A waiter here sleeps until the next slot and asks again, and a
// change of pace wakes every waiter to ask at the new one. (Bounding the
// waiters with a concurrency limit per action would also work, but would
// need that limit to be known; the pace is what we learn.)
type autoPacer struct {
	max     float64
	clock   clock
	mu      sync.Mutex
	actions map[string]*autoAction
}

type autoAction struct {
	pace  *adaptiveRate
	slots *slots
}

func newAutoPacer(max float64) *autoPacer {
	return &autoPacer{max: max, clock: realClock{}, actions: map[string]*autoAction{}}
}

func (p *autoPacer) action(name string) *autoAction {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.actions[name]
	if a == nil {
		pace := newAdaptiveRate(p.max)
		a = &autoAction{pace: pace, slots: newSlots(pace.rate)}
		p.actions[name] = a
	}
	return a
}

func (p *autoPacer) Wait(ctx context.Context, action string) error {
	s := p.action(action).slots
	for {
		wait, changed := s.take(p.clock.Now())
		if wait <= 0 {
			return nil
		}
		if err := p.clock.Sleep(ctx, wait, changed); err != nil {
			return err
		}
	}
}

func (p *autoPacer) Answered(action string, throttled bool, now time.Time) {
	a := p.action(action)
	p.mu.Lock()
	r := a.pace.answered(throttled, now)
	p.mu.Unlock()
	a.slots.setRate(r)
}

func (p *autoPacer) Rate(action string) float64 {
	a := p.action(action)
	p.mu.Lock()
	defer p.mu.Unlock()
	return a.pace.rate
}

// slots spaces requests evenly at a rate that may change at any time: a
// server counting per second never sees more than the rate (burst 1).
type slots struct {
	mu      sync.Mutex
	rate    float64
	last    time.Time     // when the latest slot was handed out
	changed chan struct{} // closed when the rate changes
}

func newSlots(rate float64) *slots {
	return &slots{rate: rate, changed: make(chan struct{})}
}

// take hands out the next slot if it is due at now (wait 0); otherwise it
// says how long until it is due at the current rate, and the channel that
// closes if the rate changes before.
func (s *slots) take(now time.Time) (wait time.Duration, changed <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.last.Add(time.Duration(float64(time.Second) / s.rate))
	if s.last.IsZero() || !now.Before(next) {
		s.last = now
		return 0, nil
	}
	return next.Sub(now), s.changed
}

func (s *slots) setRate(r float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r == s.rate {
		return
	}
	s.rate = r
	close(s.changed)
	s.changed = make(chan struct{})
}

// clock is the time as the pacer sees it; tests drive a fake one.
type clock interface {
	Now() time.Time
	// Sleep returns after d, or early when wake closes; ctx's error if it
	// ends first.
	Sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	case <-wake:
	}
	return nil
}
