package alert

import (
	"errors"
	"fmt"
	"hash/maphash"
	"sort"
	"strings"
	"time"
)

// Level is an alert's severity.
type Level int

const (
	LevelOK Level = iota
	LevelWarning
	LevelCritical
)

// ParseLevel reads "ok", "warning" or "critical".
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "ok":
		return LevelOK, nil
	case "warning":
		return LevelWarning, nil
	case "critical":
		return LevelCritical, nil
	}
	return LevelOK, fmt.Errorf("unknown level %q (want ok, warning or critical)", s)
}

// ParseMinLevel reads the min_level key named key: warning or critical.
func ParseMinLevel(key, s string) (Level, error) {
	l, err := ParseLevel(s)
	if err != nil || l == LevelOK {
		return 0, fmt.Errorf("%s: %q is not warning or critical", key, s)
	}
	return l, nil
}

func (l Level) String() string {
	switch l {
	case LevelWarning:
		return "warning"
	case LevelCritical:
		return "critical"
	default:
		return "ok"
	}
}

// MarshalText and UnmarshalText keep levels readable in the state file.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	*l = v
	return err
}

// Kind says why a notification was sent.
type Kind string

const (
	KindFiring    Kind = "firing"
	KindEscalated Kind = "escalated"
	KindRepeat    Kind = "repeat"
	KindResolved  Kind = "resolved"
	KindStale     Kind = "stale" // resolved because no data arrived for stale_after
	// KindGone resolves an alert whose series a clean collection of its
	// collector no longer reports (a deleted group or topic).
	KindGone Kind = "gone"
	// KindClaimed tells the destinations that heard of an alert that
	// someone took it (a signed link); its reminders stop.
	KindClaimed Kind = "claimed"
)

// Ends reports whether a notification of this kind ends the alert.
func (k Kind) Ends() bool { return k == KindResolved || k == KindStale || k == KindGone }

// Observation is what one metric says about one alert.
type Observation struct {
	Key string // identity: measurement and tags, see key.go
	// At is the metric's own time (its collection's), which keys its
	// chart point; zero uses the time of Observe.
	At           time.Time
	Level        Level
	Value        float64
	HasValue     bool
	Threshold    float64
	HasThreshold bool
	Details      Details
	// Pending is the level the processor sees the series rising to but
	// has not confirmed (for_intervals); Level is still the lower one.
	Pending Level
}

// Alert is the state of one firing alert.
type Alert struct {
	Key           string    `json:"key"`
	Level         Level     `json:"level"`
	NotifiedLevel Level     `json:"notified_level"`
	Value         float64   `json:"value"`
	HasValue      bool      `json:"has_value"`
	Threshold     float64   `json:"threshold"`
	HasThreshold  bool      `json:"has_threshold"`
	Details       Details   `json:"details,omitzero"`
	History       []Point   `json:"history,omitempty"` // for charts, see History
	StartedAt     time.Time `json:"started_at"`
	LastSeen      time.Time `json:"last_seen"`
	// SeenAt is the metrics' own time of the latest observation (its
	// collection's), LastSeen the output's clock when it arrived.
	SeenAt time.Time `json:"seen_at,omitzero"`
	// Unknown is set while the collector that reports the alert's series
	// is failing or silent: the alert stays firing, its value unknown.
	Unknown *Unknown `json:"unknown,omitempty"`
	// ClaimedBy is who took the alert through its claim link, and when:
	// reminders stop; messages say so.
	ClaimedBy string    `json:"claimed_by,omitempty"`
	ClaimedAt time.Time `json:"claimed_at,omitzero"`
	// ClaimedVia is how: "" through a link, ClaimedByPhone by a key press
	// on an escalation's call.
	ClaimedVia string `json:"claimed_via,omitempty"`
}

// ClaimedByPhone is ClaimedVia of a claim made by a key press.
const ClaimedByPhone = "phone"

// Unknown says since when and why a firing alert's value is not known.
type Unknown struct {
	Since  time.Time `json:"since"`
	Reason string    `json:"reason"` // e.g. "collection failing: AuthFailure.SecretIdNotFound"
}

// Notification is one alert to tell the channels about, with the alert as
// it was when the notification became due.
type Notification struct {
	Kind  Kind      `json:"kind"`
	Alert Alert     `json:"alert"`
	At    time.Time `json:"at"`
	// Dest, when set, is the one destination the notification is for:
	// reminders are due per destination (see deliveryLog).
	Dest string `json:"dest,omitempty"`
}

// Resolved reports whether the notification ends the alert.
func (n Notification) Resolved() bool { return n.Kind.Ends() }

// Policy is the part of the configuration the state machine needs.
// Whether resolutions are sent is the dispatcher's choice: it must still
// forget what it told about a resolved alert.
type Policy struct {
	StaleAfter time.Duration
	History    History // what firing alerts keep for their charts
}

// Alerts is the state machine: inactive → firing (warning or critical) →
// resolved. It does no I/O and keeps no clock; callers pass the time.
// Reminders are not its business: they are due per destination, after
// what each was actually sent (see deliveryLog).
type Alerts struct {
	policy Policy
	active map[string]*Alert
	// quiet are the recent points of the series that are not firing, for
	// the first chart of an alert; swept of series gone for a window.
	// Keyed by a hash of the key, not the key (some 140 bytes, a third of
	// what a quiet series costs): a collision, one in 10^9 with 100,000
	// series, would only mix two charts.
	quiet     map[uint64]*recent
	seed      maphash.Seed
	lastSweep time.Time
}

// NewAlerts returns an empty state.
func NewAlerts(p Policy) *Alerts {
	return &Alerts{policy: p, active: make(map[string]*Alert), quiet: make(map[uint64]*recent), seed: maphash.MakeSeed()}
}

// Observe applies one observation and returns the notification it makes
// due, if any: first firing, escalation to critical, or resolution.
func (a *Alerts) Observe(o Observation, now time.Time) (Notification, bool) {
	if o.Level < o.Pending {
		// A rise not yet confirmed says nothing against a firing alert:
		// after an HA takeover the new host's processor starts cold and
		// says "ok" for a while where the alert still breaches.
		if al, firing := a.active[o.Key]; firing && o.Level < al.Level {
			o.Level = min(al.Level, o.Pending)
		}
	}
	if o.Level == LevelOK {
		// The common case, one map look-up: a series that is not firing.
		if r := a.quiet[a.hash(o.Key)]; r != nil {
			a.remember(r, o, now)
			return Notification{}, false
		}
	}
	alert, firing := a.active[o.Key]
	if o.Level == LevelOK {
		if !firing {
			a.remember(nil, o, now)
			return Notification{}, false
		}
		delete(a.active, o.Key)
		a.update(alert, o, now)
		alert.Level = LevelOK
		if a.charting() {
			r := &recent{}
			r.seed(alert.History)
			a.quiet[a.hash(o.Key)] = r
		}
		return Notification{Kind: KindResolved, Alert: alert.copy(), At: now}, true
	}
	if !firing {
		alert = &Alert{Key: o.Key, StartedAt: now}
		// The chart starts before the breach: with what the series said
		// while it was not firing.
		if h := a.hash(o.Key); a.quiet[h] != nil {
			alert.History = a.quiet[h].history()
			delete(a.quiet, h)
		}
		a.update(alert, o, now)
		alert.NotifiedLevel = o.Level
		a.active[o.Key] = alert
		return Notification{Kind: KindFiring, Alert: alert.copy(), At: now}, true
	}
	lostBefore := alert.Details.lost()
	a.update(alert, o, now)
	if o.Level > alert.NotifiedLevel {
		alert.NotifiedLevel = o.Level
		return Notification{Kind: KindEscalated, Alert: alert.copy(), At: now}, true
	}
	if !lostBefore && alert.Details.lost() {
		// Messages lost to retention on an alert already firing (for its
		// headroom, say) are news at once, not at the next reminder.
		return Notification{Kind: KindEscalated, Alert: alert.copy(), At: now}, true
	}
	if o.Level < alert.NotifiedLevel {
		// A de-escalation is not news by itself; the next reminder shows
		// the lower level, and a later escalation is news again.
		alert.NotifiedLevel = o.Level
	}
	return Notification{}, false
}

func (a *Alerts) charting() bool { return a.policy.History.Max > 0 }

// remember keeps an ok observation's point in the series' ring (r, or a
// new one).
func (a *Alerts) remember(r *recent, o Observation, now time.Time) {
	if !o.HasValue || !a.charting() {
		return
	}
	if r == nil {
		r = &recent{}
		a.quiet[a.hash(o.Key)] = r
	}
	r.add(point(o, now))
}

func (a *Alerts) hash(key string) uint64 { return maphash.String(a.seed, key) }

// point is the chart point of an observation, at the metric's own time.
func point(o Observation, now time.Time) Point {
	at := o.At
	if at.IsZero() {
		at = now
	}
	p := Point{At: at, Unix: at.Unix(), Lag: o.Value, Threshold: o.Threshold, LagSeconds: -1}
	if o.Details.LagSeconds.Known {
		p.LagSeconds = o.Details.LagSeconds.Value
	}
	return p
}

// copy is the alert with its own history: notifications and snapshots
// outlive the lock that guards the state.
func (al *Alert) copy() Alert {
	c := *al
	c.History = append([]Point(nil), al.History...)
	return c
}

func (a *Alerts) update(al *Alert, o Observation, now time.Time) {
	al.update(o, now)
	if o.HasValue {
		al.History = a.policy.History.add(al.History, point(o, now))
	}
}

func (al *Alert) update(o Observation, now time.Time) {
	al.Level = o.Level
	al.LastSeen = now
	al.SeenAt = o.At
	if al.SeenAt.IsZero() {
		al.SeenAt = now
	}
	if o.HasValue {
		al.Value, al.HasValue = o.Value, true
	}
	if o.HasThreshold {
		al.Threshold, al.HasThreshold = o.Threshold, true
	}
	al.Details = o.Details
	al.Unknown = nil
}

// Coverage is what the collectors say of a firing alert's series.
type Coverage int

const (
	// Uncovered: no collector is known to report the series (no
	// ckafka_lag_gather reaches the output): stale_after resolves the
	// alert for lack of data, as before collectors were watched.
	Uncovered Coverage = iota
	// Covered: every collector that may report it is healthy and has
	// collected cleanly since the alert was last seen: a series missing
	// for stale_after is gone (a deleted group or topic).
	Covered
	// Blind: a collector that may report it is failing or silent, or has
	// not collected cleanly since: the alert stays firing, unknown.
	Blind
	// Waiting: its collectors are healthy but none has collected since the
	// alert was last seen: nothing proves the series gone yet.
	Waiting
	// Managed: an alert about a collector itself; its tracker resolves it.
	Managed
)

// Verdict is a Coverage with, for Blind, since when and why.
type Verdict struct {
	Coverage Coverage
	Since    time.Time
	Reason   string
}

// Judge tells, for a firing alert's key and the time of the collection
// that last reported it, what the collectors know. A nil Judge makes every
// alert Uncovered.
type Judge func(key string, seenAt time.Time) Verdict

// Tick returns the resolutions that stale_after of silence makes due —
// only where a clean collection proves the series gone, or where no
// collector is watched — and marks unknown the alerts its collector cannot
// see. A false "resolved" while the collector is blind is the worst thing
// an alerting system can say.
func (a *Alerts) Tick(now time.Time, judge Judge) []Notification {
	a.sweep(now)
	var out []Notification
	for key, alert := range a.active {
		v := Verdict{}
		if judge != nil {
			v = judge(key, alert.SeenAt)
		}
		switch v.Coverage {
		case Blind:
			if alert.Unknown == nil || alert.Unknown.Reason != v.Reason {
				since := v.Since
				if alert.Unknown != nil {
					since = alert.Unknown.Since
				}
				alert.Unknown = &Unknown{Since: since, Reason: v.Reason}
			}
			continue
		case Managed, Waiting:
			continue
		}
		if a.policy.StaleAfter <= 0 || now.Sub(alert.LastSeen) < a.policy.StaleAfter {
			continue
		}
		kind := KindStale
		if v.Coverage == Covered {
			kind = KindGone
		}
		delete(a.active, key)
		out = append(out, Notification{Kind: kind, Alert: alert.copy(), At: now})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Alert.Key < out[j].Alert.Key })
	return out
}

// sweep forgets, once a minute, the rings of series not seen for a chart
// window (a deleted group or topic): memory follows the live series.
func (a *Alerts) sweep(now time.Time) {
	if now.Sub(a.lastSweep) < time.Minute {
		return
	}
	a.lastSweep = now
	for key, r := range a.quiet {
		if now.Sub(r.last()) > a.policy.History.Window {
			delete(a.quiet, key)
		}
	}
}

// ErrNotFiring is Claim's answer for an alert that is not firing, or fires
// in an episode other than the link's.
var ErrNotFiring = errors.New("the alert is not firing (any more)")

// Claim records that by took the firing alert with key whose episode began
// at since (Unix seconds), and returns the notification that tells its
// destinations. A second claim changes nothing and says who was first.
func (a *Alerts) Claim(key string, since int64, by string, now time.Time) (Notification, error) {
	return a.ClaimVia(key, since, by, "", now)
}

// ClaimVia is Claim, saying how the alert was claimed (ClaimedByPhone).
func (a *Alerts) ClaimVia(key string, since int64, by, via string, now time.Time) (Notification, error) {
	al, ok := a.active[key]
	if !ok || al.StartedAt.Unix() != since {
		return Notification{}, ErrNotFiring
	}
	if al.ClaimedBy != "" {
		return Notification{}, fmt.Errorf("already claimed by %s", al.ClaimedBy)
	}
	al.ClaimedBy, al.ClaimedAt, al.ClaimedVia = by, now, via
	return Notification{Kind: KindClaimed, Alert: al.copy(), At: now}, nil
}

// Get returns the firing alert with key.
func (a *Alerts) Get(key string) (Alert, bool) {
	al, ok := a.active[key]
	if !ok {
		return Alert{}, false
	}
	return al.copy(), true
}

// History returns a copy of a firing alert's chart history.
func (a *Alerts) History(key string) ([]Point, bool) {
	al, ok := a.active[key]
	if !ok {
		return nil, false
	}
	return append([]Point(nil), al.History...), true
}

// Len is the number of firing alerts.
func (a *Alerts) Len() int { return len(a.active) }

// Snapshot returns copies of the firing alerts, sorted by key.
func (a *Alerts) Snapshot() []Alert {
	out := make([]Alert, 0, len(a.active))
	for _, al := range a.active {
		out = append(out, al.copy())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Restore loads alerts from a snapshot. LastSeen becomes now: the time spent
// down is the plugin's silence, not the collector's.
func (a *Alerts) Restore(alerts []Alert, now time.Time) {
	for _, al := range alerts {
		al := al
		Restore(al.History)
		al.LastSeen = now
		a.active[al.Key] = &al
	}
}
