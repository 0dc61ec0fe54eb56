package alert

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAlertsTimelines(t *testing.T) {
	policy := Policy{StaleAfter: 10 * time.Minute}
	t0 := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	type step struct {
		at    int    // minutes after t0
		level string // observation; "" means a tick only
		value float64
		want  []Kind
	}
	tests := []struct {
		name   string
		policy Policy
		steps  []step
	}{
		{
			name: "fire once, no duplicate while firing",
			steps: []step{
				{at: 0, level: "ok"},
				{at: 1, level: "warning", value: 1500, want: []Kind{KindFiring}},
				{at: 2, level: "warning", value: 1600},
				{at: 3, level: "warning", value: 1700},
			},
		},
		{
			name: "no reminders: they are due per destination",
			steps: []step{
				{at: 0, level: "critical", value: 3000, want: []Kind{KindFiring}},
				{at: 60, level: "critical"},
				{at: 120, level: "critical"},
			},
		},
		{
			name: "escalate warning to critical, de-escalate quietly, escalate again",
			steps: []step{
				{at: 0, level: "warning", want: []Kind{KindFiring}},
				{at: 1, level: "critical", want: []Kind{KindEscalated}},
				{at: 2, level: "critical"},
				{at: 3, level: "warning"},
				{at: 4, level: "critical", want: []Kind{KindEscalated}},
			},
		},
		{
			name: "resolve when ok arrives",
			steps: []step{
				{at: 0, level: "critical", want: []Kind{KindFiring}},
				{at: 1, level: "ok", want: []Kind{KindResolved}},
				{at: 2, level: "ok"},
			},
		},
		{
			name: "stale alert resolves with no data",
			steps: []step{
				{at: 0, level: "warning", want: []Kind{KindFiring}},
				{at: 9},
				{at: 10, want: []Kind{KindStale}},
				{at: 11},
				{at: 12, level: "warning", want: []Kind{KindFiring}},
			},
		},
		{
			name: "flapping fires and resolves each time",
			steps: []step{
				{at: 0, level: "critical", want: []Kind{KindFiring}},
				{at: 1, level: "ok", want: []Kind{KindResolved}},
				{at: 2, level: "critical", want: []Kind{KindFiring}},
				{at: 3, level: "ok", want: []Kind{KindResolved}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := policy
			if tt.policy != (Policy{}) {
				p = tt.policy
			}
			a := NewAlerts(p)
			for i, s := range tt.steps {
				var got []Kind
				if s.level != "" {
					lvl, err := ParseLevel(s.level)
					require.NoError(t, err)
					if n, ok := a.Observe(Observation{Key: "k", Level: lvl, Value: s.value, HasValue: true}, at(s.at)); ok {
						got = append(got, n.Kind)
					}
				}
				for _, n := range a.Tick(at(s.at), nil) {
					got = append(got, n.Kind)
				}
				require.Equal(t, s.want, got, "step %d (minute %d)", i, s.at)
			}
		})
	}
}

func TestAlertsKeepValueAndStart(t *testing.T) {
	a := NewAlerts(Policy{})
	t0 := time.Unix(1000, 0)
	n, ok := a.Observe(Observation{Key: "k", Level: LevelWarning, Value: 1200, HasValue: true, Threshold: 1000, HasThreshold: true}, t0)
	require.True(t, ok)
	require.Equal(t, 1200.0, n.Alert.Value)
	require.Equal(t, 1000.0, n.Alert.Threshold)
	n, ok = a.Observe(Observation{Key: "k", Level: LevelCritical, Value: 2500, HasValue: true, Threshold: 2000, HasThreshold: true}, t0.Add(time.Minute))
	require.True(t, ok)
	require.Equal(t, KindEscalated, n.Kind)
	require.Equal(t, t0, n.Alert.StartedAt)
	require.Equal(t, 2000.0, n.Alert.Threshold)
	n, ok = a.Observe(Observation{Key: "k", Level: LevelOK, Value: 10, HasValue: true}, t0.Add(2*time.Minute))
	require.True(t, ok)
	require.True(t, n.Resolved())
	require.Equal(t, 10.0, n.Alert.Value)
	require.Equal(t, 0, a.Len())
}

func TestAlertsRestore(t *testing.T) {
	a := NewAlerts(Policy{StaleAfter: 10 * time.Minute})
	t0 := time.Unix(1000, 0)
	a.Observe(Observation{Key: "k", Level: LevelCritical}, t0)
	snap := a.Snapshot()

	b := NewAlerts(Policy{StaleAfter: 10 * time.Minute})
	restart := t0.Add(30 * time.Minute)
	b.Restore(snap, restart)
	_, ok := b.Observe(Observation{Key: "k", Level: LevelCritical}, restart)
	require.False(t, ok, "a restart must not re-fire a firing alert")
	require.Empty(t, b.Tick(restart.Add(9*time.Minute), nil), "the time spent down is not silence of the collector")
	require.Equal(t, []Kind{KindStale}, kinds(b.Tick(restart.Add(10*time.Minute), nil)))
}

func kinds(ns []Notification) []Kind {
	var out []Kind
	for _, n := range ns {
		out = append(out, n.Kind)
	}
	return out
}

// TestTickNeverResolvesWhatItCannotSee: stale_after resolves only when a
// clean collection proves the series gone (or nothing watches collectors);
// a blind collector keeps the alert firing, marked unknown, until a fresh
// metric arrives.
func TestTickNeverResolvesWhatItCannotSee(t *testing.T) {
	t0 := time.Unix(1000, 0)
	failing := Verdict{Coverage: Blind, Since: t0.Add(time.Minute), Reason: "collection failing: AuthFailure.SecretIdNotFound"}
	tests := []struct {
		name        string
		verdict     Verdict
		want        []Kind
		wantUnknown *Unknown
	}{
		{name: "nothing watched: no data", verdict: Verdict{Coverage: Uncovered}, want: []Kind{KindStale}},
		{name: "clean collections without it: gone", verdict: Verdict{Coverage: Covered}, want: []Kind{KindGone}},
		{name: "collector failing: firing, unknown", verdict: failing,
			wantUnknown: &Unknown{Since: failing.Since, Reason: failing.Reason}},
		{name: "collector alert: its tracker decides", verdict: Verdict{Coverage: Managed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAlerts(Policy{StaleAfter: 10 * time.Minute})
			a.Observe(Observation{Key: "k", Level: LevelCritical, Value: 3000, HasValue: true}, t0)
			got := a.Tick(t0.Add(time.Hour), func(string, time.Time) Verdict { return tt.verdict })
			require.Equal(t, tt.want, kinds(got))
			if len(tt.want) > 0 {
				return
			}
			snap := a.Snapshot()
			require.Len(t, snap, 1, "still firing")
			require.Equal(t, tt.wantUnknown, snap[0].Unknown)
			// A fresh metric makes it known again, and ok resolves it.
			a.Observe(Observation{Key: "k", Level: LevelCritical, Value: 3100, HasValue: true}, t0.Add(2*time.Hour))
			require.Nil(t, a.Snapshot()[0].Unknown)
			n, ok := a.Observe(Observation{Key: "k", Level: LevelOK, Value: 10, HasValue: true}, t0.Add(2*time.Hour+time.Minute))
			require.True(t, ok)
			require.Equal(t, KindResolved, n.Kind)
		})
	}
}

// TestPendingRiseKeepsTheAlert: after an HA takeover the new host's
// processor says "ok, rising to critical" for for_intervals collections;
// the firing alert neither resolves nor escalates on it.
func TestPendingRiseKeepsTheAlert(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	as := NewAlerts(Policy{})
	key := "ckafka_lag,group=billing"
	_, due := as.Observe(Observation{Key: key, Level: LevelWarning, Value: 1500, HasValue: true}, t0)
	require.True(t, due)
	_, due = as.Observe(Observation{Key: key, Level: LevelOK, Pending: LevelCritical, Value: 2500, HasValue: true}, t0.Add(time.Second))
	require.False(t, due, "not resolved, not escalated")
	require.Len(t, as.Snapshot(), 1)
	require.Equal(t, LevelWarning, as.Snapshot()[0].Level)
	require.Equal(t, 2500.0, as.Snapshot()[0].Value)
	_, due = as.Observe(Observation{Key: key, Level: LevelOK, Pending: LevelWarning}, t0.Add(2*time.Second))
	require.False(t, due)
	n, due := as.Observe(Observation{Key: key, Level: LevelOK}, t0.Add(3*time.Second))
	require.True(t, due)
	require.True(t, n.Resolved(), "a plain ok still resolves")
	_, due = as.Observe(Observation{Key: "ckafka_lag,group=quiet", Level: LevelOK, Pending: LevelCritical}, t0)
	require.False(t, due, "a pending rise of a quiet series is nothing yet")
}

// The first messages lost to retention on an alert already firing for its
// headroom are news at once (a message, not the next reminder an hour
// later); more lost later are not, until the alert resolves.
func TestFirstLossIsNews(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	key := "ckafka_lag,group=audit,topic=events"
	headroom := Details{Reason: "retention", HeadroomSeconds: Opt{Value: 300, Known: true}}
	lost := func(n float64) Details {
		return Details{Reason: "lost", LostMessages: Opt{Value: n, Known: true}}
	}
	tests := []struct {
		name    string
		details []Details // observed in turn, all critical
		want    []bool    // due after each
	}{
		{name: "headroom, then loss", details: []Details{headroom, lost(4)}, want: []bool{true, true}},
		{name: "more lost later is not news", details: []Details{headroom, lost(4), lost(40)}, want: []bool{true, true, false}},
		{name: "lost known 0 is no loss", details: []Details{headroom, lost(0)}, want: []bool{true, false}},
		{name: "fired for loss: the first message says it", details: []Details{lost(4), lost(5)}, want: []bool{true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := NewAlerts(Policy{})
			for i, d := range tt.details {
				n, due := as.Observe(Observation{Key: key, Level: LevelCritical, Value: 90, HasValue: true, Details: d}, t0.Add(time.Duration(i)*time.Second))
				require.Equal(t, tt.want[i], due, "observation %d", i)
				if due && i > 0 {
					require.Equal(t, KindEscalated, n.Kind)
					require.Equal(t, d.LostMessages, n.Alert.Details.LostMessages)
				}
			}
		})
	}
}
