package chaos

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
)

func TestReconcile(t *testing.T) {
	s := time.Second
	st := Settings{Interval: 2 * s, GroupWait: 2 * s, RepeatInterval: 30 * s, RestartDelay: s,
		Timeout: 10 * s, MaxBackoff: 16 * s, ForIntervals: 2}
	// detection: (2+1)·2 s + 1 s + 2 s + 3 s = 12 s after the plan's change.
	escalating := Episode{Group: "g", Topic: "t", StartLevel: "warning", Start: 10 * s, Escalate: 40 * s, Resolve: 80 * s}
	steady := Episode{Group: "g", Topic: "t", StartLevel: "warning", Start: 10 * s, Resolve: 80 * s}
	wecom := Destination{Name: "wecom", MinLevel: "warning", Delays: func(f Fault) bool { return f.Kind == RobotDown }}
	sms := Destination{Name: "sms", MinLevel: "critical"}
	at := func(dest, level string, sec float64) Delivery {
		return Delivery{Dest: dest, Identity: "g/t", Level: level, At: time.Duration(sec * float64(s))}
	}
	tests := []struct {
		name    string
		episode Episode
		faults  []Fault
		dest    Destination
		got     []Delivery
		kills   []time.Duration
		records []Record
		sibling *Destination // another number of the same channel
		want    Row
	}{
		{name: "fire, escalate, resolve on time", episode: escalating, dest: wecom,
			got:  []Delivery{at("wecom", "warning", 16), at("wecom", "critical", 46), at("wecom", "resolved", 86)},
			want: Row{Expected: 3, Delivered: 3}},
		{name: "a reminder repeat_interval after the delivery", episode: steady, dest: wecom,
			got:  []Delivery{at("wecom", "warning", 16), at("wecom", "warning", 46.2), at("wecom", "resolved", 86)},
			want: Row{Expected: 3, Delivered: 3}},
		{name: "a reminder due just before the resolution may come", episode: steady, dest: wecom,
			got: []Delivery{at("wecom", "warning", 16), at("wecom", "warning", 46.2), at("wecom", "warning", 76.3),
				at("wecom", "resolved", 86)},
			want: Row{Expected: 4, Delivered: 4}},
		{name: "a second copy after a kill before the first was recorded", episode: escalating, dest: wecom,
			got: []Delivery{at("wecom", "warning", 16), at("wecom", "warning", 18), at("wecom", "critical", 46),
				at("wecom", "resolved", 86)},
			kills: []time.Duration{16100 * time.Millisecond},
			want:  Row{Expected: 3, Delivered: 4, InFlight: 1}},
		{name: "a kill long before the second copy still counts when nothing was recorded", episode: escalating, dest: wecom,
			got: []Delivery{at("wecom", "warning", 16), at("wecom", "warning", 18), at("wecom", "critical", 46),
				at("wecom", "resolved", 86)},
			// the receiver took the request after its sender died
			kills: []time.Duration{15900 * time.Millisecond},
			want:  Row{Expected: 3, Delivered: 4, InFlight: 1}},
		{name: "a repeat of a recorded delivery is a duplicate, however close the kill", episode: escalating, dest: wecom,
			got: []Delivery{at("wecom", "warning", 16), at("wecom", "warning", 18), at("wecom", "critical", 46),
				at("wecom", "resolved", 86)},
			records: []Record{{Dest: "wecom", Identity: "g/t", Level: "warning", Accepted: 16001 * time.Millisecond, Recorded: 16002 * time.Millisecond}},
			kills:   []time.Duration{16003 * time.Millisecond},
			want:    Row{Expected: 3, Delivered: 4, Duplicated: 1}},
		{name: "a repeat with no kill is a duplicate", episode: escalating, dest: wecom,
			got: []Delivery{at("wecom", "warning", 16), at("wecom", "warning", 18), at("wecom", "critical", 46),
				at("wecom", "resolved", 86)},
			want: Row{Expected: 3, Delivered: 4, Duplicated: 1}},
		{name: "a kill before the sender could have sent it excuses nothing", episode: escalating, dest: wecom,
			got: []Delivery{at("wecom", "warning", 16), at("wecom", "warning", 18), at("wecom", "critical", 46),
				at("wecom", "resolved", 86)},
			kills: []time.Duration{5 * time.Second}, // more than the send timeout before
			want:  Row{Expected: 3, Delivered: 4, Duplicated: 1}},
		{name: "the record of another destination is no evidence", episode: escalating, dest: wecom,
			got: []Delivery{at("wecom", "warning", 16), at("wecom", "warning", 18), at("wecom", "critical", 46),
				at("wecom", "resolved", 86)},
			records: []Record{{Dest: "email", Identity: "g/t", Level: "warning", Accepted: 16001 * time.Millisecond, Recorded: 16002 * time.Millisecond}},
			kills:   []time.Duration{16003 * time.Millisecond},
			want:    Row{Expected: 3, Delivered: 4, InFlight: 1}},
		{name: "reminders count from when the message reached every number",
			episode: Episode{Group: "g", Topic: "t", StartLevel: "warning", Start: 10 * s, Resolve: 60 * s},
			dest:    Destination{Name: "sms a", MinLevel: "warning", Channel: "sms"},
			sibling: &Destination{Name: "sms b", MinLevel: "warning", Channel: "sms"},
			// b was retried until 25 s: the output's reminder falls due at
			// 55 s, too close to the end at 60 s to be owed
			got: []Delivery{at("sms a", "warning", 16), at("sms b", "warning", 25), at("sms a", "resolved", 66),
				at("sms b", "resolved", 66)},
			want: Row{Expected: 2, Delivered: 2}},
		{name: "a number retried for more than half the repeat interval still sets the clock",
			episode: Episode{Group: "g", Topic: "t", StartLevel: "warning", Start: 10 * s, Resolve: 60 * s},
			dest:    Destination{Name: "sms a", MinLevel: "warning", Channel: "sms"},
			sibling: &Destination{Name: "sms b", MinLevel: "warning", Channel: "sms"},
			// seen under load (seed 609004): b got the message 16.2 s after
			// a; the output's reminder falls due at 62.4 s, after the end
			got: []Delivery{at("sms a", "warning", 16.2), at("sms b", "warning", 32.4), at("sms a", "resolved", 66),
				at("sms b", "resolved", 66)},
			want: Row{Expected: 2, Delivered: 2}},
		{name: "a reminder twice is a duplicate", episode: steady, dest: wecom,
			got: []Delivery{at("wecom", "warning", 16), at("wecom", "warning", 46.2), at("wecom", "warning", 47),
				at("wecom", "resolved", 86)},
			want: Row{Expected: 3, Delivered: 4, Duplicated: 1}},
		{name: "a missing reminder is lost", episode: steady, dest: wecom,
			got:  []Delivery{at("wecom", "warning", 16), at("wecom", "resolved", 86)},
			want: Row{Expected: 3, Delivered: 2, Lost: 1}},
		{name: "a missing resolution is lost", episode: escalating, dest: wecom,
			got:  []Delivery{at("wecom", "warning", 16), at("wecom", "critical", 46)},
			want: Row{Expected: 3, Delivered: 2, Lost: 1}},
		{name: "a missing escalation is lost", episode: escalating, dest: wecom,
			got:  []Delivery{at("wecom", "warning", 16), at("wecom", "resolved", 86)},
			want: Row{Expected: 3, Delivered: 2, Lost: 1}},
		{name: "the first message twice is a duplicate", episode: escalating, dest: wecom,
			got: []Delivery{at("wecom", "warning", 16), at("wecom", "warning", 19), at("wecom", "critical", 46),
				at("wecom", "resolved", 86)},
			want: Row{Expected: 3, Delivered: 4, Duplicated: 1}},
		{name: "the resolution twice is a duplicate", episode: escalating, dest: wecom,
			got: []Delivery{at("wecom", "warning", 16), at("wecom", "critical", 46), at("wecom", "resolved", 86),
				at("wecom", "resolved", 90)},
			want: Row{Expected: 3, Delivered: 4, Duplicated: 1}},
		{name: "late past the detection bound", episode: steady, dest: wecom,
			got: []Delivery{at("wecom", "warning", 30), at("wecom", "warning", 60.5), at("wecom", "resolved", 86)},
			// the first message was due by 22 s; the reminder counts from it
			want: Row{Expected: 3, Delivered: 3, Late: 1}},
		{name: "not late while the robot was down", episode: steady, dest: wecom,
			faults: []Fault{{Kind: RobotDown, At: 12 * s, For: 15 * s}},
			got:    []Delivery{at("wecom", "warning", 30), at("wecom", "warning", 60.5), at("wecom", "resolved", 86)},
			want:   Row{Expected: 3, Delivered: 3}},
		{name: "another destination's outage excuses nothing", episode: steady, dest: sms,
			faults: []Fault{{Kind: RobotDown, At: 12 * s, For: 15 * s}},
			got:    []Delivery{at("sms", "warning", 30)},
			want:   Row{Delivered: 1, Spurious: 1}},
		{name: "a reminder pushed past the change by kills is not owed", dest: wecom,
			episode: Episode{Group: "g", Topic: "t", StartLevel: "warning", Start: 30 * s, Resolve: 80 * s},
			faults:  []Fault{{Kind: KillOutput, At: 70 * s}, {Kind: KillOutput, At: 74 * s}, {Kind: KillOutput, At: 77 * s}},
			got:     []Delivery{at("wecom", "warning", 36), at("wecom", "resolved", 86)},
			want:    Row{Expected: 2, Delivered: 2}},
		{name: "but is owed without them", dest: wecom,
			episode: Episode{Group: "g", Topic: "t", StartLevel: "warning", Start: 30 * s, Resolve: 80 * s},
			got:     []Delivery{at("wecom", "warning", 36), at("wecom", "resolved", 86)},
			want:    Row{Expected: 3, Delivered: 2, Lost: 1}},
		{name: "a level ending within the window may go untold", dest: wecom,
			episode: Episode{Group: "g", Topic: "t", StartLevel: "warning", Start: 10 * s, Escalate: 40 * s, Resolve: 50 * s},
			got:     []Delivery{at("wecom", "warning", 16), at("wecom", "resolved", 56)},
			want:    Row{Expected: 2, Delivered: 2}},
		{name: "and is counted when told", dest: wecom,
			episode: Episode{Group: "g", Topic: "t", StartLevel: "warning", Start: 10 * s, Escalate: 40 * s, Resolve: 50 * s},
			got:     []Delivery{at("wecom", "warning", 16), at("wecom", "critical", 46), at("wecom", "resolved", 56)},
			want:    Row{Expected: 3, Delivered: 3}},
		{name: "an alert too short to tell owes nothing", dest: sms,
			episode: Episode{Group: "g", Topic: "t", StartLevel: "warning", Start: 10 * s, Escalate: 40 * s, Resolve: 50 * s},
			want:    Row{Dest: "sms"}},
		{name: "SMS hears of the escalation only", episode: escalating, dest: sms,
			got:  []Delivery{at("sms", "critical", 46), at("sms", "resolved", 86)},
			want: Row{Expected: 2, Delivered: 2}},
		{name: "a level below min_level is spurious", episode: escalating, dest: sms,
			got:  []Delivery{at("sms", "warning", 16), at("sms", "critical", 46), at("sms", "resolved", 86)},
			want: Row{Expected: 2, Delivered: 3, Spurious: 1}},
		{name: "a resolution nobody was told of is spurious", episode: escalating, dest: wecom,
			got:  []Delivery{at("wecom", "resolved", 86)},
			want: Row{Expected: 3, Delivered: 1, Lost: 3, Spurious: 1}},
		{name: "an alert the plan never raised is spurious", episode: escalating, dest: wecom,
			got: []Delivery{at("wecom", "warning", 16), at("wecom", "critical", 46), at("wecom", "resolved", 86),
				{Dest: "wecom", Identity: "other/t", Level: "warning", At: 20 * s}},
			want: Row{Expected: 3, Delivered: 4, Spurious: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.Dest = tt.dest.Name
			p := Plan{Duration: 2 * time.Minute, Episodes: []Episode{tt.episode}, Faults: tt.faults}
			dests := []Destination{tt.dest}
			if tt.sibling != nil {
				dests = append(dests, *tt.sibling)
			}
			rows, findings := Reconcile(p, st, dests, tt.got, tt.kills, tt.records)
			require.Equal(t, tt.want, rows[0], "findings: %v", findings)
			require.Equal(t, tt.want.Failed(), rows[0].Failed())
			problems := tt.want.Lost + tt.want.Duplicated + tt.want.Late + tt.want.Spurious + tt.want.InFlight
			mine := slices.DeleteFunc(findings, func(f Finding) bool { return f.Dest != tt.dest.Name })
			require.Len(t, mine, problems, "one finding explains each problem")
		})
	}
}

func TestAcceptToDurable(t *testing.T) {
	ms := time.Millisecond
	got := []Delivery{
		// one message with two lines, recorded 3 ms after
		{Dest: "wecom", Identity: "a/t", Level: "warning", At: 1000 * ms},
		{Dest: "wecom", Identity: "b/t", Level: "warning", At: 1000 * ms},
		// killed before its record; its copy was recorded 5 ms after
		{Dest: "email", Identity: "a/t", Level: "warning", At: 2000 * ms},
		{Dest: "email", Identity: "a/t", Level: "warning", At: 4000 * ms},
	}
	records := []Record{
		{Dest: "wecom", Identity: "a/t", Level: "warning", Accepted: 1001 * ms, Recorded: 1003 * ms},
		{Dest: "wecom", Identity: "b/t", Level: "warning", Accepted: 1001 * ms, Recorded: 1003 * ms},
		{Dest: "email", Identity: "a/t", Level: "warning", Accepted: 4002 * ms, Recorded: 4005 * ms},
	}
	d := AcceptToDurable(got, records)
	require.Equal(t, Durability{Samples: 2, P50: 5 * ms, P99: 5 * ms, Max: 5 * ms, Unrecorded: 1}, d)
}

// The ledger reads the messages the real templates render.
func TestParseRenderedMessages(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	key := func(group, topic string) string {
		return "ckafka_lag,group=" + group + ",instance_id=ckafka-x,instance_name=prod,region=ap-guangzhou,topic=" + topic
	}
	notes := []alert.Notification{
		{Kind: alert.KindEscalated, At: now, Alert: alert.Alert{Key: key("g01", "t2"), Level: alert.LevelCritical,
			Value: 3000, HasValue: true, StartedAt: now.Add(-time.Minute)}},
		{Kind: alert.KindRepeat, At: now, Alert: alert.Alert{Key: key("g00", "t0"), Level: alert.LevelWarning,
			Value: 1500, HasValue: true, StartedAt: now.Add(-time.Minute)}},
		{Kind: alert.KindResolved, At: now, Alert: alert.Alert{Key: key("g03", "t4"), Level: alert.LevelOK,
			NotifiedLevel: alert.LevelWarning, StartedAt: now.Add(-time.Minute)}},
	}
	tpls, err := render.Load("en")
	require.NoError(t, err)
	data := render.BuildData(notes, "en", 10*time.Minute)
	want := []Delivery{
		{Dest: "d", Identity: "g01/t2", Level: "critical", At: time.Second},
		{Dest: "d", Identity: "g00/t0", Level: "warning", At: time.Second},
		{Dest: "d", Identity: "g03/t4", Level: "resolved", At: time.Second},
	}
	for _, name := range []string{"wecom_markdown", "email_text"} {
		text, err := tpls.Render(name, data)
		require.NoError(t, err)
		require.Equal(t, want, ParseLines("d", text, time.Second), "%s:\n%s", name, text)
	}
	require.Equal(t, want, ParseSMS("d", "g01/t2=critical;collector/collection_failing=critical;g00/t0=warning;g03/t4=resolved;", time.Second))
}

func TestPlan(t *testing.T) {
	st := Settings{Interval: 2 * time.Second, GroupWait: 2 * time.Second, RepeatInterval: 30 * time.Second,
		RestartDelay: time.Second, ForIntervals: 2, Phones: []string{"+8613800000001"}}
	p := NewPlan(7, 2*time.Minute, st)
	require.Equal(t, p.Digest(), NewPlan(7, 2*time.Minute, st).Digest(), "a seed replays its plan")
	require.NotEqual(t, p.Digest(), NewPlan(8, 2*time.Minute, st).Digest())
	require.GreaterOrEqual(t, len(p.Episodes), 50)
	require.GreaterOrEqual(t, p.Count(KillOutput), 20)
	var escalating, repeated int
	for _, e := range p.Episodes {
		require.Less(t, e.Start, e.Resolve)
		require.LessOrEqual(t, e.Resolve, p.Duration)
		if e.Escalate > 0 {
			escalating++
			require.Greater(t, e.Escalate, e.Start)
			require.Less(t, e.Escalate, e.Resolve)
		}
		if e.Resolve-e.Start > st.RepeatInterval+15*time.Second {
			repeated++
		}
	}
	require.Positive(t, escalating, "some alerts escalate")

	// With two hosts, an alert told before each host kill recovers within
	// a slot after it: its resolution is the new active host's to send.
	st.Hosts, st.Session = 2, 4*time.Second
	pair := NewPlan(7, 4*time.Minute, st)
	for _, f := range pair.Faults {
		if f.Kind != HostKill {
			continue
		}
		require.True(t, slices.ContainsFunc(pair.Episodes, func(e Episode) bool {
			return e.Resolve > f.At && e.Resolve <= f.At+slot && e.Start+time.Duration(minFiring(st))*slot <= f.At
		}), "an alert told before the kill at %s resolves right after it", f.At)
	}
	require.Positive(t, repeated, "some alerts fire long enough to be repeated")
	for _, f := range p.Faults {
		require.LessOrEqual(t, f.End(), p.Duration)
		if f.Kind == KillOutput {
			for _, w := range p.Faults {
				if w.Kind == StateReadOnly || w.Kind == StateFull {
					require.False(t, f.At > w.At && f.At < w.End(), "no kill while the state directory refuses writes")
				}
			}
		}
	}
}
