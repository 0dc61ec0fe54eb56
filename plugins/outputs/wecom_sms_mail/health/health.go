// Package health watches the collectors through their ckafka_lag_gather
// metrics: it raises an alert per collector whose collections fail or that
// stopped reporting, and tells the alert state which firing alerts their
// collector cannot see, so that silence is never taken for "resolved". It
// does no I/O and keeps no clock: callers pass the time.
package health

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
)

// Measurement is the collector's own metric, and AlertMeasurement the name
// of the alerts about collectors.
const (
	Measurement      = "ckafka_lag_gather"
	AlertMeasurement = "ckafka_lag_collector"
)

// Gather is one ckafka_lag_gather as the output received it.
type Gather struct {
	// Tags identify the collector: region and what Telegraf adds (host,
	// [inputs.execd.tags]).
	Tags         []alert.Tag
	Time         time.Time // the collection's time
	Groups       int64     // groups read
	FailedGroups int64     // groups it could not read
	Errors       int64     // failed requests (throttled and retried ones are not)
	LastError    string    // the class of the latest failure
	// Standby: the collector is the standby of an HA pair; it is alive
	// but collects nothing, so it reports no series.
	Standby bool
}

// Failed reports whether the collection failed in part or whole: a group
// it could not read, or an error it named. A failed side request (a
// topic's retention) counts in api_errors only: the lag was read.
func (g Gather) Failed() bool { return g.FailedGroups > 0 || g.LastError != "" }

// Policy is the part of the configuration the tracker needs.
type Policy struct {
	// FailingAfter consecutive failing collections raise the alert.
	FailingAfter int
	// SilentAfter without a collection makes a collector silent; 0 is
	// three times its interval, learned from the gathers' timestamps.
	SilentAfter time.Duration
}

// Collector is what the tracker knows of one collector; exported for the
// state file.
type Collector struct {
	Tags     []alert.Tag   `json:"tags"`
	Last     time.Time     `json:"last"` // the latest collection's time
	Interval time.Duration `json:"interval,omitempty"`
	// Failures counts consecutive failing collections, since Since.
	Failures     int       `json:"failures,omitempty"`
	Since        time.Time `json:"since,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
	FailedGroups int64     `json:"failed_groups,omitempty"`
	Groups       int64     `json:"groups"`
	Silent       bool      `json:"silent,omitempty"`
	Standby      bool      `json:"standby,omitempty"`

	// arrived is when its latest gather arrived, on the output's clock (for
	// silence); lastClean the time of its latest clean collection, on the
	// metrics' clock (what proves a missing series gone).
	arrived, lastClean time.Time
	gaps               []time.Duration // the latest intervals, for Interval
}

// Tracker follows every collector that reports to the output.
type Tracker struct {
	policy     Policy
	collectors map[string]*Collector // by identity key

	// Every collector of an HA pair may report standby at once (each
	// follows a member that is not the active output): they report, but
	// nothing is collected. activeAt is when a collector last reported
	// collecting (or when watching began), on the output's clock.
	activeAt time.Time
	noActive bool // the "no collector is active" alert fires
	// activeSeen: a collecting gather arrived since start or restore (a
	// restored "no collector is active" alert is resolved by the first).
	activeSeen bool
}

// New returns a tracker with no collector.
func New(p Policy) *Tracker {
	if p.FailingAfter < 1 {
		p.FailingAfter = 1
	}
	return &Tracker{policy: p, collectors: map[string]*Collector{}}
}

// gapsKept is how many intervals the learned one is the least of: a
// collection that ran late does not stretch it, and a changed interval is
// learned within as many collections.
const gapsKept = 5

// Observe takes one gather, received at now, and returns the observation
// of the collector's "collection failing" alert (and the end of its
// "collector silent" one if it was silent), to apply like any metric's.
func (t *Tracker) Observe(g Gather, now time.Time) []alert.Observation {
	id := identity(g.Tags)
	if t.activeAt.IsZero() {
		t.activeAt = now
	}
	c := t.collectors[id]
	if c == nil {
		c = &Collector{Tags: slices.Clone(g.Tags)}
		t.collectors[id] = c
	}
	if gap := g.Time.Sub(c.Last); !c.Last.IsZero() && gap > 0 {
		c.gaps = append(c.gaps, gap)
		if len(c.gaps) > gapsKept {
			c.gaps = c.gaps[1:]
		}
		c.Interval = slices.Min(c.gaps)
	}
	if g.Time.After(c.Last) {
		c.Last = g.Time
	}
	c.arrived = now
	c.Groups, c.FailedGroups, c.LastError, c.Standby = g.Groups, g.FailedGroups, g.LastError, g.Standby
	if g.Failed() {
		if c.Failures == 0 {
			c.Since = g.Time
		}
		c.Failures++
	} else {
		c.Failures, c.Since = 0, time.Time{}
		c.lastClean = g.Time
	}
	out := []alert.Observation{t.failing(c)}
	if c.Silent {
		c.Silent = false
		out = append(out, silent(c, alert.LevelOK))
	}
	if !g.Standby {
		t.activeAt = now
		if t.noActive || !t.activeSeen {
			out = append(out, noActive(alert.LevelOK, g.Time))
		}
		t.noActive, t.activeSeen = false, true
	}
	return out
}

// Tick returns the observations of the collectors that fell silent at now.
func (t *Tracker) Tick(now time.Time) []alert.Observation {
	var out []alert.Observation
	for _, id := range t.ids() {
		c := t.collectors[id]
		if !c.Silent && t.silent(c, now) {
			c.Silent = true
			out = append(out, silent(c, alert.LevelCritical))
		}
	}
	if !t.noActive && t.allStandby(now) {
		t.noActive = true
		out = append(out, noActive(alert.LevelCritical, t.activeAt))
	}
	return out
}

// allStandby reports whether every collector reports and stands by, and
// has for the silence bound: an HA pair whose collectors follow no member
// (a collector told another member's name) collects nothing, and would
// otherwise say nothing either. A silent collector has its own alert: the
// active one died, and its standby is about to take over.
func (t *Tracker) allStandby(now time.Time) bool {
	reporting := 0
	var interval time.Duration
	for _, c := range t.collectors {
		if c.Silent || t.silent(c, now) || !c.Standby {
			return false
		}
		reporting++
		if c.Interval > 0 && (interval == 0 || c.Interval < interval) {
			interval = c.Interval
		}
	}
	bound := t.policy.SilentAfter
	if bound <= 0 {
		bound = 3 * interval
	}
	return reporting > 0 && bound > 0 && now.Sub(t.activeAt) > bound
}

// Healthy reports whether the heartbeat may go: some collector reports and
// every one known is collecting cleanly and on time.
func (t *Tracker) Healthy(now time.Time) bool {
	if len(t.collectors) == 0 {
		return false
	}
	for _, c := range t.collectors {
		if c.Failures > 0 || c.Silent || t.silent(c, now) {
			return false
		}
	}
	return true
}

// silent reports whether c has not reported for its silence bound; a
// collector whose interval is not learned yet (one collection) cannot be.
func (t *Tracker) silent(c *Collector, now time.Time) bool {
	bound := t.policy.SilentAfter
	if bound <= 0 {
		bound = 3 * c.Interval
	}
	return bound > 0 && now.Sub(c.arrived) > bound
}

// Judge is the alert state's alert.Judge: what the collectors that may
// report a firing alert's series know of it, given the time of the last
// collection that reported it (the metrics' own time: a collection's lag
// metrics and its gather carry the same one, however Telegraf batches
// them). A collector may report it when every tag the two share has the
// same value.
func (t *Tracker) Judge(key string, seenAt time.Time) alert.Verdict {
	name, tags := alert.ParseKey(key)
	if name == AlertMeasurement {
		return alert.Verdict{Coverage: alert.Managed}
	}
	v := alert.Verdict{Coverage: alert.Uncovered}
	// An owner that collects cleanly and reported the series in its latest
	// collection speaks for it: the HA pair's new active collector, while
	// the dead one is silent.
	reported := false
	for _, id := range t.ids() {
		c := t.collectors[id]
		if owns(c.Tags, tags) && !c.Standby && !c.Silent && c.Failures == 0 && !seenAt.Before(c.Last) {
			reported = true
		}
	}
	for _, id := range t.ids() {
		c := t.collectors[id]
		if !owns(c.Tags, tags) || c.Standby {
			continue
		}
		switch {
		case reported && (c.Silent || c.Failures > 0):
			continue
		case c.Silent:
			return alert.Verdict{Coverage: alert.Blind, Since: c.Last, Reason: "collector silent"}
		case c.Failures > 0 && seenAt.Before(c.Last):
			// Its latest collection failed and did not report the series.
			return alert.Verdict{Coverage: alert.Blind, Since: c.Since, Reason: "collection failing: " + c.LastError}
		case c.lastClean.After(seenAt):
			if v.Coverage == alert.Uncovered {
				v.Coverage = alert.Covered
			}
		default:
			v.Coverage = alert.Waiting
		}
	}
	return v
}

// owns reports whether a collector with tags may report a series with
// series' tags.
func owns(collector, series []alert.Tag) bool {
	for _, ct := range collector {
		for _, st := range series {
			if st.Key == ct.Key && st.Value != ct.Value {
				return false
			}
		}
	}
	return true
}

func (t *Tracker) failing(c *Collector) alert.Observation {
	level := alert.LevelOK
	if c.Failures >= t.policy.FailingAfter {
		level = alert.LevelWarning
		if c.Groups == 0 {
			level = alert.LevelCritical // nothing answered
		}
	}
	return alert.Observation{
		Key:   alertKey(alert.CheckFailing, c.Tags),
		At:    c.Last,
		Level: level,
		Details: alert.Details{Collector: &alert.Collector{Check: alert.CheckFailing, Error: c.LastError,
			Since: c.Since, FailedGroups: c.FailedGroups, Groups: c.Groups}},
	}
}

// noActive is the observation of the "no collector is active" alert; since
// is when a collector last collected.
func noActive(level alert.Level, since time.Time) alert.Observation {
	return alert.Observation{
		Key:     alertKey(alert.CheckNoActive, nil),
		At:      since,
		Level:   level,
		Details: alert.Details{Collector: &alert.Collector{Check: alert.CheckNoActive, Since: since}},
	}
}

func silent(c *Collector, level alert.Level) alert.Observation {
	return alert.Observation{
		Key:     alertKey(alert.CheckSilent, c.Tags),
		At:      c.Last,
		Level:   level,
		Details: alert.Details{Collector: &alert.Collector{Check: alert.CheckSilent, Since: c.Last, Groups: c.Groups}},
	}
}

// alertKey is a collector alert's identity: the check and the collector's
// tags, as a series key.
func alertKey(check string, tags []alert.Tag) string {
	return seriesKey(AlertMeasurement, append([]alert.Tag{{Key: "check", Value: check}}, tags...))
}

// identity is a collector's key: its gather's series key.
func identity(tags []alert.Tag) string { return seriesKey(Measurement, tags) }

func seriesKey(name string, tags []alert.Tag) string {
	all := slices.Clone(tags)
	sort.Slice(all, func(i, j int) bool { return all[i].Key < all[j].Key })
	var b strings.Builder
	alert.WriteEscaped(&b, name)
	for _, t := range all {
		b.WriteByte(',')
		alert.WriteEscaped(&b, t.Key)
		b.WriteByte('=')
		alert.WriteEscaped(&b, t.Value)
	}
	return b.String()
}

// ids returns the collectors' keys in order, for deterministic results.
func (t *Tracker) ids() []string {
	ids := make([]string, 0, len(t.collectors))
	for id := range t.collectors {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Snapshot returns the collectors for the state file.
func (t *Tracker) Snapshot() []Collector {
	out := make([]Collector, 0, len(t.collectors))
	for _, id := range t.ids() {
		out = append(out, *t.collectors[id])
	}
	return out
}

// Restore loads collectors from a snapshot. Their silence counts from now:
// the time the output was down is not theirs.
func (t *Tracker) Restore(cs []Collector, now time.Time) {
	t.activeAt = now
	for _, c := range cs {
		c := c
		c.arrived = now
		if c.Interval > 0 {
			c.gaps = []time.Duration{c.Interval}
		}
		t.collectors[identity(c.Tags)] = &c
	}
}
