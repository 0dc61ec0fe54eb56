package ckafka_lag

import (
	"sync"
	"time"
)

// RetentionFields are how close unread messages are to being deleted by the
// topic's retention.
type RetentionFields struct {
	Retention Optional // seconds the topic keeps messages
	// Headroom is retention − lag_seconds: how long until the oldest
	// unread message is deleted if nothing moved; negative once retention
	// has begun deleting unread messages.
	Headroom Optional
	// LossETA is when the oldest unread message is deleted at the current
	// rates; 0 once loss has begun, unknown when none is ahead (see
	// CalculateRetention).
	LossETA Optional
}

// CalculateRetention relates a topic's (or a partition's) retention to a
// group's lag and its rates. It is pure: the inputs are what one
// collection measured.
//
// The oldest unread message ages one second a second whatever is
// produced; consuming moves "oldest unread" to newer messages, c/p seconds
// of production time a second at produce rate p and consume rate c. So:
//   - nothing consumed (c = 0): loss in exactly the headroom, produced or
//     not (a dead consumer on a quiet topic is the case operators miss);
//   - falling behind (0 < c < p): headroom ÷ (1 − c/p);
//   - keeping up (c ≥ p > 0): none ahead;
//   - nothing produced, consumer moving (p = 0 < c): the backlog is
//     finite; loss only if draining it (lag ÷ c) outlasts the headroom, and
//     then no sooner than the headroom (the rate the backlog was produced
//     at is unknown, and the age grows at most one second a second).
//
// Once the headroom is gone (≤ 0) loss has begun: 0, whatever the rates.
func CalculateRetention(retention, lag, lagSeconds, produce, consume Optional) RetentionFields {
	f := RetentionFields{Retention: retention}
	if !retention.Known || !lagSeconds.Known {
		return f
	}
	f.Headroom = known(retention.Value - lagSeconds.Value)
	h := f.Headroom.Value
	switch {
	case lag.Known && lag.Value <= 0:
		// Caught up: nothing unread to lose.
	case h <= 0:
		f.LossETA = known(0)
	case !consume.Known:
	case consume.Value <= 0:
		f.LossETA = known(h)
	case !produce.Known:
	case produce.Value > 0 && consume.Value < produce.Value:
		f.LossETA = known(h / (1 - consume.Value/produce.Value))
	case produce.Value <= 0 && lag.Known && lag.Value/consume.Value > h:
		f.LossETA = known(h)
	}
	return f
}

// TopicLossETA is a topic's loss ETA from its partitions': the soonest. A
// quiet partition nobody reads loses data while the busy ones are read in
// time, which the topic's summed rates would hide. Unknown when no
// partition's is known.
func TopicLossETA(partitions []RetentionFields) Optional {
	var eta Optional
	for _, p := range partitions {
		if p.LossETA.Known && (!eta.Known || p.LossETA.Value < eta.Value) {
			eta = p.LossETA
		}
	}
	return eta
}

// retentionCache keeps each topic's retention for retention_refresh: it
// changes rarely, and asking costs a request (counted in the rate limit).
//
// Lookups never hold up the lag: lookup answers with what is known and
// starts at most one fetch per topic in the background, so a topic's
// retention fields appear from the collection after its first lookup (the
// first collection seldom knows lag_seconds, which the headroom needs,
// anyway), and a refresh serves the old value until the new one is in.
type retentionCache struct {
	mu      sync.Mutex
	entries map[string]*retentionEntry
}

type retentionEntry struct {
	value    Optional
	fetched  time.Time // when the latest fetch started; zero before the first
	fetching bool
}

// lookup returns what is known of key and, when it is older than refresh
// and no fetch of it is under way, runs fetch through start (which runs it
// in the background and lets the caller wait for it). A failed fetch keeps
// what was known and is not retried before refresh has passed.
func (rc *retentionCache) lookup(key string, now time.Time, refresh time.Duration, start func(func()), fetch func() (Optional, error)) Optional {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.entries == nil {
		rc.entries = map[string]*retentionEntry{}
	}
	e := rc.entries[key]
	if e == nil {
		e = &retentionEntry{}
		rc.entries[key] = e
	}
	if e.fetching || (!e.fetched.IsZero() && now.Sub(e.fetched) < refresh) {
		return e.value
	}
	e.fetching, e.fetched = true, now
	start(func() {
		v, err := fetch()
		rc.mu.Lock()
		defer rc.mu.Unlock()
		e.fetching = false
		if err == nil {
			e.value = v
		}
	})
	return e.value
}

// sweep drops what was not asked for in a refresh period: deleted topics.
func (rc *retentionCache) sweep(now time.Time, refresh time.Duration) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for k, e := range rc.entries {
		if now.Sub(e.fetched) > 2*refresh {
			delete(rc.entries, k)
		}
	}
}

// addRetention adds the retention fields of a topic or partition.
func addRetention(fields map[string]interface{}, r RetentionFields) {
	addOptional(fields, "retention_seconds", r.Retention)
	addOptional(fields, "retention_headroom_seconds", r.Headroom)
	addOptional(fields, "loss_eta_seconds", r.LossETA)
}

// fresh reports whether key was fetched within refresh.
func (rc *retentionCache) fresh(key string, now time.Time, refresh time.Duration) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	e := rc.entries[key]
	return e != nil && now.Sub(e.fetched) < refresh
}

// put stores a value fetched at now (the Kafka source fetches in batches).
func (rc *retentionCache) put(key string, v Optional, now time.Time) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.entries == nil {
		rc.entries = map[string]*retentionEntry{}
	}
	rc.entries[key] = &retentionEntry{value: v, fetched: now}
}

// peek returns what is known of key, fetching nothing.
func (rc *retentionCache) peek(key string) Optional {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if e := rc.entries[key]; e != nil {
		return e.value
	}
	return Optional{}
}
