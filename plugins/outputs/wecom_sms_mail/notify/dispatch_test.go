package notify

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
)

// recorder is a channel that records "kind:group" per alert of each
// message.
type recorder struct {
	mu   sync.Mutex
	got  []string
	at   []time.Time
	sent chan struct{}
	// critical makes it a destination taking critical alerts only.
	critical bool
}

func (*recorder) Kind() string { return "test" }
func (r *recorder) ID() string {
	if r.critical {
		return "test-critical"
	}
	return "test"
}
func (r *recorder) Destination() string { return r.ID() }
func (r *recorder) MinLevel() alert.Level {
	if r.critical {
		return alert.LevelCritical
	}
	return alert.LevelWarning
}
func (r *recorder) Prepare(d *render.TemplateData) ([]Delivery, error) {
	var lines []string
	for _, a := range d.Alerts {
		lines = append(lines, a.Kind+":"+a.Group)
	}
	return []Delivery{{Text: strings.Join(lines, ",")}}, nil
}
func (r *recorder) Deliver(_ context.Context, d *Delivery) error {
	r.mu.Lock()
	r.got = append(r.got, d.Text)
	r.at = append(r.at, time.Now())
	r.mu.Unlock()
	r.sent <- struct{}{}
	return nil
}

type quietStub struct{ on atomic.Bool }

func (q *quietStub) Active(time.Time) bool { return q.on.Load() }
func (q *quietStub) Holds(l alert.Level, _ time.Time) bool {
	return q.on.Load() && l < alert.LevelCritical
}

func firing(group string, level alert.Level, t0 time.Time) alert.Alert {
	return alert.Alert{Key: "ckafka_lag,group=" + group, Level: level, NotifiedLevel: level, Value: 1, HasValue: true, StartedAt: t0}
}

func startDispatcher(t *testing.T, o Options, more ...*recorder) (*Dispatcher, *recorder) {
	t.Helper()
	rec := &recorder{sent: make(chan struct{}, 16)}
	if o.GroupWait == 0 {
		o.GroupWait = 20 * time.Millisecond
	}
	o.Lang, o.Timeout, o.RetryBase, o.SendResolved = "en", time.Second, time.Millisecond, true
	channels := []Channel{rec}
	for _, r := range more {
		channels = append(channels, r)
	}
	d := New(channels, testutil.Logger{Quiet: true}, o)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	d.Run(ctx, &wg)
	t.Cleanup(func() { cancel(); wg.Wait() })
	return d, rec
}

func (r *recorder) next(t *testing.T) string {
	t.Helper()
	select {
	case <-r.sent:
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[len(r.got)-1]
}

// TestSilenceBeginningInTheWindow: a first message dropped because a
// silence began while it waited in the group window is due again when the
// silence ends.
func TestSilenceBeginningInTheWindow(t *testing.T) {
	var silenced atomic.Bool
	d, rec := startDispatcher(t, Options{Silencer: silencerFunc(func(string, time.Time) bool { return silenced.Load() })})
	t0 := time.Now()
	a := firing("billing", alert.LevelWarning, t0)
	d.Remind([]alert.Alert{a}, t0) // never heard of it: the first message is due
	silenced.Store(true)
	time.Sleep(100 * time.Millisecond) // the window closes while silenced
	require.Empty(t, rec.got)
	silenced.Store(false)
	d.Remind([]alert.Alert{a}, t0.Add(time.Second))
	require.Equal(t, "firing:billing", rec.next(t))
}

// TestQuietHoursHoldResolutionsBelowTheLevel: a warning's end waits for
// the digest; a critical one's passes through.
func TestQuietHoursHoldResolutionsBelowTheLevel(t *testing.T) {
	quiet := &quietStub{}
	d, rec := startDispatcher(t, Options{Router: quietRouter{quiet}})
	t0 := time.Now()
	warn, crit := firing("search", alert.LevelWarning, t0), firing("etl", alert.LevelCritical, t0)
	d.Add(alert.Notification{Kind: alert.KindFiring, Alert: warn, At: t0}, alert.Notification{Kind: alert.KindFiring, Alert: crit, At: t0})
	require.Equal(t, "firing:etl,firing:search", rec.next(t))

	quiet.on.Store(true)
	end := func(a alert.Alert) alert.Notification {
		a.Level = alert.LevelOK
		return alert.Notification{Kind: alert.KindResolved, Alert: a, At: t0.Add(time.Minute)}
	}
	d.Add(end(warn), end(crit))
	require.Equal(t, "resolved:etl", rec.next(t), "critical passes through")
	time.Sleep(100 * time.Millisecond)
	require.Len(t, rec.got, 2, "the warning's end is held")

	quiet.on.Store(false)
	d.Remind(nil, t0.Add(2*time.Minute))
	require.Equal(t, "resolved:search", rec.next(t), "the digest")
}

// TestEscalationAndResolutionInOneWindow: an alert escalates and ends
// within one group window. The destination that heard of it is told it
// ended; the critical-only one, which never heard of it, hears nothing
// (it used to get the escalation and never its end).
func TestEscalationAndResolutionInOneWindow(t *testing.T) {
	crit := &recorder{sent: make(chan struct{}, 16), critical: true}
	d, rec := startDispatcher(t, Options{}, crit)
	t0 := time.Now()
	a := firing("billing", alert.LevelWarning, t0)
	d.Add(alert.Notification{Kind: alert.KindFiring, Alert: a, At: t0})
	require.Equal(t, "firing:billing", rec.next(t))

	a.Level, a.NotifiedLevel = alert.LevelCritical, alert.LevelCritical
	ended := a
	ended.Level = alert.LevelOK
	d.Add(alert.Notification{Kind: alert.KindEscalated, Alert: a, At: time.Now()},
		alert.Notification{Kind: alert.KindResolved, Alert: ended, At: time.Now()})
	require.Equal(t, "resolved:billing", rec.next(t))
	select {
	case <-crit.sent:
		t.Fatalf("the critical-only destination was told of an alert that had ended: %v", crit.got)
	case <-time.After(200 * time.Millisecond):
	}
	require.True(t, d.Idle())
}

// TestRestoredWindowKeepsItsTime: notifications restored from the state
// file go out when their window closes, not a whole group_wait after the
// restart.
func TestRestoredWindowKeepsItsTime(t *testing.T) {
	d, rec := startDispatcher(t, Options{GroupWait: 10 * time.Second})
	t0 := time.Now().Add(-time.Minute)
	d.Restore(State{Pending: []alert.Notification{{Kind: alert.KindFiring, Alert: firing("billing", alert.LevelWarning, t0), At: t0}}})
	select {
	case <-rec.sent:
	case <-time.After(2 * time.Second):
		t.Fatal("the restored notification waited another group_wait")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Equal(t, []string{"firing:billing"}, rec.got)
}

type pacedRecorder struct {
	*recorder
	pacer *Pacer
}

func (r pacedRecorder) Pacer() *Pacer { return r.pacer }

// TestPacerSurvivesRestart: a robot's recent sends go into the state file,
// so that a process restarted within the minute still keeps to the limit.
func TestPacerSurvivesRestart(t *testing.T) {
	paced := func() pacedRecorder {
		return pacedRecorder{&recorder{sent: make(chan struct{}, 1)}, NewPacer(Limit{N: 2, Window: time.Minute})}
	}
	before := paced()
	before.pacer.Record()
	before.pacer.Record()
	saved := New([]Channel{before}, testutil.Logger{Quiet: true}, Options{}).Snapshot()
	raw, err := json.Marshal(saved)
	require.NoError(t, err)
	var loaded State
	require.NoError(t, json.Unmarshal(raw, &loaded))

	after := paced()
	require.Zero(t, after.pacer.untilFree(false), "a fresh pacer has room")
	New([]Channel{after}, testutil.Logger{Quiet: true}, Options{}).Restore(loaded)
	require.Greater(t, after.pacer.untilFree(false), 50*time.Second, "the restarted robot waits for the window to free a slot")
}

// gatedRecorder holds its first delivery until the gate opens.
type gatedRecorder struct {
	*recorder
	gate chan struct{}
	once sync.Once
}

func (g *gatedRecorder) Deliver(ctx context.Context, d *Delivery) error {
	g.once.Do(func() { <-g.gate })
	return g.recorder.Deliver(ctx, d)
}

// TestNewJobWaitsForTheSave: a job is in the state file before it can be
// delivered, so the delivery journal can name it after a kill; even by a
// worker that finishes another message while the save runs.
func TestNewJobWaitsForTheSave(t *testing.T) {
	rec := &gatedRecorder{recorder: &recorder{sent: make(chan struct{}, 4)}, gate: make(chan struct{})}
	var mu sync.Mutex
	var calls int
	var secondSaved time.Time
	saving := make(chan struct{}, 1)
	d := New([]Channel{rec}, testutil.Logger{Quiet: true}, Options{Lang: "en", GroupWait: 10 * time.Millisecond, Timeout: 5 * time.Second,
		Recorder: changedFunc(func(urgent bool) {
			if !urgent {
				return
			}
			mu.Lock()
			calls++
			n := calls
			mu.Unlock()
			if n != 2 { // the second urgent save is the one listing the second job
				return
			}
			saving <- struct{}{}
			time.Sleep(200 * time.Millisecond) // a slow disk
			mu.Lock()
			secondSaved = time.Now()
			mu.Unlock()
		})})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	d.Run(ctx, &wg)
	defer func() { cancel(); wg.Wait() }()

	t0 := time.Now()
	d.Add(alert.Notification{Kind: alert.KindFiring, Alert: firing("first", alert.LevelWarning, t0), At: t0})
	time.Sleep(100 * time.Millisecond) // the first job waits at the gate
	d.Add(alert.Notification{Kind: alert.KindFiring, Alert: firing("second", alert.LevelWarning, t0), At: t0})
	<-saving // the second job is being saved: let the worker free itself now
	close(rec.gate)
	testkit.Await(t, rec.sent, 5*time.Second, "the first message")
	testkit.Await(t, rec.sent, 5*time.Second, "the second message")
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return !secondSaved.IsZero() }, 5*time.Second, 10*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Equal(t, []string{"firing:first", "firing:second"}, rec.got)
	require.True(t, rec.at[1].After(secondSaved), "the second job went out at %s, before the save listing it ended at %s", rec.at[1], secondSaved)
}

// TestReplayAppliesTheJournal: a job the journal says was delivered
// leaves the queue and counts as delivered; a record of a job the state
// no longer holds changes nothing.
func TestReplayAppliesTheJournal(t *testing.T) {
	t0 := time.Now().Add(-time.Minute)
	a := firing("billing", alert.LevelWarning, t0)
	job := &Job{Deliveries: []Delivery{{Text: "firing:billing"}}, Alerts: 1, Created: t0,
		Refs: []JobRef{{Key: a.Key, Kind: alert.KindFiring, Level: a.Level, Since: a.StartedAt}}}
	state := State{
		Sent:   Log{a.Key: {"test": &LogEntry{Since: a.StartedAt, Level: a.Level}}},
		Queues: map[string][]*Job{"test": {job}},
	}
	rec := &recorder{sent: make(chan struct{}, 4)}
	d := New([]Channel{rec}, testutil.Logger{Quiet: true}, Options{Lang: "en", GroupWait: 10 * time.Millisecond, Timeout: time.Second})
	d.Restore(state)
	delivered := t0.Add(time.Second)
	d.Replay([]Delivered{
		{Dest: "test", Created: t0.Add(-time.Hour), Next: 1, At: delivered}, // already saved: no such job
		{Dest: "test", Created: t0, Next: 1, At: delivered},
	})
	require.True(t, d.Idle(), "the delivered job left the queue")
	s := d.Snapshot()
	require.Empty(t, s.Queues)
	require.True(t, s.Sent[a.Key]["test"].Delivered.Equal(delivered))

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	d.Run(ctx, &wg)
	defer func() { cancel(); wg.Wait() }()
	testkit.Quiet(t, rec.sent, 200*time.Millisecond, "a delivery the journal recorded")
}

// TestReplayNarrowsAPartlyDeliveredSMS: numbers the journal says accepted
// a message are not sent it again after the restart.
func TestReplayNarrowsAPartlyDeliveredSMS(t *testing.T) {
	t0 := time.Now().Add(-time.Minute)
	job := &Job{Deliveries: []Delivery{{Params: []string{"x"}, Phones: []string{"+8613800000001", "+8613800000002"}}}, Alerts: 1, Created: t0}
	d := New([]Channel{&recorder{sent: make(chan struct{}, 1)}}, testutil.Logger{Quiet: true}, Options{Lang: "en"})
	d.Restore(State{Queues: map[string][]*Job{"test": {job}}})
	d.Replay([]Delivered{{Dest: "test", Created: t0, Next: 0, Phones: []string{"+8613800000001"}, At: t0.Add(time.Second)}})
	s := d.Snapshot()
	require.Len(t, s.Queues["test"], 1, "one number still waits")
	require.Equal(t, []string{"+8613800000001"}, s.Queues["test"][0].Deliveries[0].Phones)
}

// TestReplayOfAJobTheStateNeverSaw: the state was saved while an alert's
// first message waited in the group window; the message then went out and
// its delivery was recorded, and the process died before the next save (an
// HA takeover or a restart reads exactly this). The record names the
// alerts: the destination heard of the alert, so the first message is not
// sent again, and a resolution in the same window is owed, not dropped as
// "fired and resolved unheard" (issue: a resolution lost in a takeover).
func TestReplayOfAJobTheStateNeverSaw(t *testing.T) {
	t0 := time.Now().Add(-time.Minute)
	a := firing("billing", alert.LevelCritical, t0)
	ref := JobRef{Key: a.Key, Kind: alert.KindFiring, Level: a.Level, Since: a.StartedAt}
	tests := []struct {
		name    string
		record  Delivered
		resolve bool
		want    []string
	}{
		{name: "resolved in the window: the resolution goes", resolve: true, want: []string{"resolved:billing"},
			record: Delivered{Dest: "test", Created: t0.Add(time.Second), Next: 1, At: t0.Add(2 * time.Second), Refs: []JobRef{ref}, Done: true}},
		{name: "still firing: not sent again",
			record: Delivered{Dest: "test", Created: t0.Add(time.Second), Next: 1, At: t0.Add(2 * time.Second), Refs: []JobRef{ref}, Done: true}},
		{name: "a message delivered in part (its first part, or some numbers): sent again (at least once)", want: []string{"firing:billing"},
			record: Delivered{Dest: "test", Created: t0.Add(time.Second), Next: 1, At: t0.Add(2 * time.Second), Refs: []JobRef{ref}}},
		{name: "a record of 0.x without refs: sent again (at least once)", want: []string{"firing:billing"},
			record: Delivered{Dest: "test", Created: t0.Add(time.Second), Next: 1, At: t0.Add(2 * time.Second)}},
	}
	t.Run("a record of an episode that has resolved changes nothing", func(t *testing.T) {
		d := New([]Channel{&recorder{}}, testutil.Logger{Quiet: true}, Options{Lang: "en"})
		d.Restore(State{})
		d.Replay([]Delivered{{Dest: "test", Created: t0.Add(time.Second), Next: 1, At: t0.Add(2 * time.Second), Refs: []JobRef{ref}, Done: true}})
		require.Empty(t, d.Snapshot().Sent, "no entry for an alert that is no longer anywhere")
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{sent: make(chan struct{}, 4)}
			d := New([]Channel{rec}, testutil.Logger{Quiet: true}, Options{Lang: "en", GroupWait: 100 * time.Millisecond,
				Timeout: time.Second, SendResolved: true})
			d.Restore(State{Pending: []alert.Notification{{Kind: alert.KindFiring, Alert: a, At: time.Now()}}})
			d.Replay([]Delivered{tt.record})
			if tt.resolve {
				res := a
				res.Level = alert.LevelOK
				d.Add(alert.Notification{Kind: alert.KindResolved, Alert: res, At: time.Now()})
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			d.Run(ctx, &wg)
			defer func() { cancel(); wg.Wait() }()
			if len(tt.want) == 0 {
				testkit.Quiet(t, rec.sent, 500*time.Millisecond, "a first message the record says was delivered")
				return
			}
			require.Equal(t, tt.want[0], rec.next(t))
			testkit.Quiet(t, rec.sent, 300*time.Millisecond, "a second message")
		})
	}
}

// silencerFunc, quietRouter and changedFunc adapt a test's function to the
// dispatcher's seams.
type silencerFunc func(key string, now time.Time) bool

func (f silencerFunc) Silenced(key string, now time.Time) bool { return f(key, now) }

type quietRouter struct{ quiet QuietHours }

// Route sends every alert to both of the tests' recorders.
func (quietRouter) Route(alert.Alert) []string { return []string{"test", "test-critical"} }
func (r quietRouter) Quiet(string) QuietHours  { return r.quiet }

type changedFunc func(urgent bool)

func (f changedFunc) Changed(urgent bool)                { f(urgent) }
func (changedFunc) Delivered(Delivered)                  {}
func (changedFunc) History(string) ([]alert.Point, bool) { return nil, false }
