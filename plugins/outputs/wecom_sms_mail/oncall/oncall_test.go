package oncall

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
)

var t0 = time.Date(2026, 12, 7, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))

func phone(s string) (string, error) {
	if !strings.HasPrefix(s, "+86") {
		return "", fmt.Errorf("%q is not +86…", s)
	}
	return s, nil
}

func testRoster(t *testing.T) Roster {
	t.Helper()
	r, err := ParseRoster(RosterConfig{Name: "kafka", Rotation: config.Duration(24 * time.Hour), Handoff: t0.Format(time.RFC3339),
		Timezone: "Asia/Shanghai", People: []PersonConfig{
			{Name: "张三", Phone: "+8613800000001"}, {Name: "李四", Phone: "+8613800000002"}, {Name: "王五", Phone: "+8613800000003"}}}, phone)
	require.NoError(t, err)
	return r
}

func TestRosterAt(t *testing.T) {
	r := testRoster(t)
	tests := []struct {
		name      string
		at        time.Time
		overrides []Override
		who       string
		ends      time.Time
	}{
		{"first shift", t0.Add(time.Hour), nil, "张三", t0.Add(24 * time.Hour)},
		{"at the handoff", t0.Add(24 * time.Hour), nil, "李四", t0.Add(48 * time.Hour)},
		{"wraps around", t0.Add(73 * time.Hour), nil, "张三", t0.Add(96 * time.Hour)},
		{"before the first handoff", t0.Add(-time.Hour), nil, "王五", t0},
		{"override", t0.Add(time.Hour), []Override{{ID: "o1", Roster: "kafka", Who: "王五", Start: t0, Until: t0.Add(2 * time.Hour)}},
			"王五", t0.Add(2 * time.Hour)},
		{"override ended", t0.Add(3 * time.Hour), []Override{{ID: "o1", Roster: "kafka", Who: "王五", Start: t0, Until: t0.Add(2 * time.Hour)}},
			"张三", t0.Add(24 * time.Hour)},
		{"override expired early", t0.Add(time.Hour), []Override{{ID: "o1", Roster: "kafka", Who: "王五", Start: t0,
			Until: t0.Add(2 * time.Hour), Expired: t0.Add(30 * time.Minute)}}, "张三", t0.Add(24 * time.Hour)},
		{"override of another roster", t0.Add(time.Hour), []Override{{ID: "o1", Roster: "db", Who: "王五", Start: t0, Until: t0.Add(2 * time.Hour)}},
			"张三", t0.Add(24 * time.Hour)},
		{"the newest override wins", t0.Add(time.Hour), []Override{
			{ID: "o1", Roster: "kafka", Who: "王五", Start: t0, Until: t0.Add(2 * time.Hour), Created: t0},
			{ID: "o2", Roster: "kafka", Who: "李四", Start: t0, Until: t0.Add(3 * time.Hour), Created: t0.Add(time.Minute)}},
			"李四", t0.Add(3 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := r.At(tt.at, tt.overrides)
			require.Equal(t, tt.who, s.Person.Name)
			require.True(t, tt.ends.Equal(s.Ends), "ends %s, want %s", s.Ends, tt.ends)
		})
	}
}

func TestDescribeShowsTheShiftEndWithItsOffset(t *testing.T) {
	r := testRoster(t)
	out := Describe(r, r.At(t0.Add(time.Hour), nil), t0)
	require.Contains(t, out, "kafka\n")
	require.Contains(t, out, "张三 (+86138****0001)")
	require.Contains(t, out, "2026-12-08 09:00:00 +08:00")
}

func TestParseBadInput(t *testing.T) {
	kinds := []string{"wecom", "sms", "voice"}
	steps := func(s ...StepConfig) []StepConfig { return s }
	tests := []struct {
		name    string
		rosters []RosterConfig
		esc     EscalationConfig
		want    string
	}{
		{"unknown roster", nil, EscalationConfig{OnCall: "nobody", Steps: steps(StepConfig{Notify: []string{"sms"}})},
			`no [[outputs.wecom_sms_mail.oncall]] is named "nobody"`},
		{"steps out of order", nil, EscalationConfig{OnCall: "kafka", Steps: steps(
			StepConfig{After: config.Duration(5 * time.Minute), Notify: []string{"sms"}},
			StepConfig{After: config.Duration(time.Minute), Notify: []string{"voice"}})}, "steps[1].after (1m0s) comes before steps[0].after (5m0s)"},
		{"unknown notify", nil, EscalationConfig{OnCall: "kafka", Steps: steps(StepConfig{Notify: []string{"pager"}})},
			`steps[0].notify: "pager" is not a configured channel`},
		{"unknown who", nil, EscalationConfig{OnCall: "kafka", Steps: steps(StepConfig{Notify: []string{"sms"}, Who: "boss"})},
			`steps[0].who: "boss" is not`},
		{"no steps", nil, EscalationConfig{OnCall: "kafka"}, "at least one step"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewBook([]Roster{testRoster(t)}, []EscalationConfig{tt.esc}, kinds)
			require.ErrorContains(t, err, tt.want)
		})
	}
	_, err := ParseRoster(RosterConfig{Name: "x", Rotation: config.Duration(time.Hour), Handoff: "tomorrow",
		People: []PersonConfig{{Name: "a"}}}, phone)
	require.ErrorContains(t, err, `handoff: "tomorrow" is not an RFC 3339 time`)
	_, err = ParseRoster(RosterConfig{Name: "x", Rotation: config.Duration(time.Hour), Handoff: t0.Format(time.RFC3339),
		People: []PersonConfig{{Name: "a", Phone: "12"}}}, phone)
	require.ErrorContains(t, err, `people[0] (a): phone`)
}

// event is one thing that happens to the alert in a scenario.
type event struct {
	at       time.Duration // after the first firing
	level    alert.Level   // 0: unchanged
	claimed  bool
	silenced bool
	resolved bool
	quiet    bool   // quiet hours hold warning steps
	call     string // a call result for the last call placed: a Call* constant
	override *Override
}

// placed is one step (or next-person call) placed: when, which, to whom.
type placed struct {
	at   time.Duration
	step int
	who  string
}

func TestEscalation(t *testing.T) {
	steps := []StepConfig{
		{After: config.Duration(0), Notify: []string{"wecom"}},
		{After: config.Duration(5 * time.Minute), Notify: []string{"sms"}},
		{After: config.Duration(10 * time.Minute), Notify: []string{"voice"}},
		{After: config.Duration(20 * time.Minute), Notify: []string{"voice"}, Who: "next"},
	}
	tests := []struct {
		name   string
		events []event
		want   []placed
		ended  bool
	}{
		{"unclaimed walks every step", nil,
			[]placed{{0, 0, "张三"}, {5 * time.Minute, 1, "张三"}, {10 * time.Minute, 2, "张三"}, {20 * time.Minute, 3, "李四"}}, false},
		{"claim between steps", []event{{at: 7 * time.Minute, claimed: true}},
			[]placed{{0, 0, "张三"}, {5 * time.Minute, 1, "张三"}}, true},
		{"key press claims", []event{{at: 11 * time.Minute, call: CallAcked}, {at: 11 * time.Minute, claimed: true}},
			[]placed{{0, 0, "张三"}, {5 * time.Minute, 1, "张三"}, {10 * time.Minute, 2, "张三"}}, true},
		{"no answer calls the next person at once", []event{{at: 11 * time.Minute, call: CallNoAnswer}},
			[]placed{{0, 0, "张三"}, {5 * time.Minute, 1, "张三"}, {10 * time.Minute, 2, "张三"}, {11 * time.Minute, 2, "李四"},
				{20 * time.Minute, 3, "李四"}}, false},
		{"a failed call too, and the chain stops after everyone", []event{
			{at: 11 * time.Minute, call: CallFailed}, {at: 12 * time.Minute, call: CallNoAnswer}, {at: 13 * time.Minute, call: CallNoAnswer}},
			[]placed{{0, 0, "张三"}, {5 * time.Minute, 1, "张三"}, {10 * time.Minute, 2, "张三"}, {11 * time.Minute, 2, "李四"},
				{12 * time.Minute, 2, "王五"}, {20 * time.Minute, 3, "李四"}}, false},
		{"answered without the key: the escalation goes on", []event{{at: 11 * time.Minute, call: CallAnswered},
			{at: 11 * time.Minute, call: CallOtherKey}},
			[]placed{{0, 0, "张三"}, {5 * time.Minute, 1, "张三"}, {10 * time.Minute, 2, "张三"}, {20 * time.Minute, 3, "李四"}}, false},
		{"resolution ends it", []event{{at: 6 * time.Minute, resolved: true}},
			[]placed{{0, 0, "张三"}, {5 * time.Minute, 1, "张三"}}, true},
		{"silence ends it", []event{{at: 6 * time.Minute, silenced: true}},
			[]placed{{0, 0, "张三"}, {5 * time.Minute, 1, "张三"}}, true},
		{"quiet hours hold a warning's steps, not a critical's", []event{{at: 4 * time.Minute, quiet: true, level: alert.LevelWarning},
			{at: 12 * time.Minute, level: alert.LevelCritical}},
			[]placed{{0, 0, "张三"}, {12 * time.Minute, 1, "张三"}, {12 * time.Minute, 2, "张三"}, {20 * time.Minute, 3, "李四"}}, false},
		{"a rise to critical does not restart it", []event{{at: 3 * time.Minute, level: alert.LevelCritical}},
			[]placed{{0, 0, "张三"}, {5 * time.Minute, 1, "张三"}, {10 * time.Minute, 2, "张三"}, {20 * time.Minute, 3, "李四"}}, false},
		{"roster hand-over in the middle", []event{{at: 0, override: nil}},
			nil, false}, // replaced below: starts 8 minutes before a handoff
		{"override puts someone else on call", []event{{at: 2 * time.Minute, override: &Override{ID: "o1", Roster: "kafka", Who: "王五"}}},
			[]placed{{0, 0, "张三"}, {5 * time.Minute, 1, "王五"}, {10 * time.Minute, 2, "王五"}, {20 * time.Minute, 3, "张三"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRoster(t)
			start := t0.Add(time.Hour)
			if tt.name == "roster hand-over in the middle" {
				// 张三's shift ends at t0+24h: steps after it reach 李四.
				start = t0.Add(24*time.Hour - 8*time.Minute)
				tt.want = []placed{{0, 0, "张三"}, {5 * time.Minute, 1, "张三"}, {10 * time.Minute, 2, "李四"}, {20 * time.Minute, 3, "王五"}}
				tt.events = nil
			}
			b, err := NewBook([]Roster{r}, []EscalationConfig{{OnCall: "kafka", MinLevel: "warning", Steps: steps}},
				[]string{"wecom", "sms", "voice"})
			require.NoError(t, err)
			f := Firing{Key: "g1", Tags: map[string]string{"consumer_group": "g1"}, Level: alert.LevelWarning, Since: start}
			var overrides []Override
			quiet := false
			var got []placed
			var lastCall string
			ended := false
			calls := 0
			for tick := time.Duration(0); tick <= 30*time.Minute && !ended; tick += 30 * time.Second {
				now := start.Add(tick)
				for _, ev := range tt.events {
					if ev.at != tick {
						continue
					}
					if ev.level != 0 {
						f.Level = ev.level
					}
					f.Claimed = f.Claimed || ev.claimed
					f.Silenced = f.Silenced || ev.silenced
					quiet = quiet || ev.quiet
					if ev.override != nil {
						o := *ev.override
						o.Start, o.Until, o.Created = now, now.Add(time.Hour), now
						overrides = append(overrides, o)
					}
					if ev.call != "" {
						_, out, err := b.CallResult(lastCall, ev.call)
						require.NoError(t, err)
						if out.Next != nil {
							calls++
							lastCall = fmt.Sprintf("call-%d", calls)
							Placed(b.Escalations["g1"], out.Next.Step, out.Next.People[0], lastCall, now)
							got = append(got, placed{tick, out.Next.Step, out.Next.People[0].Name})
						}
						if out.ClaimBy != "" {
							require.Equal(t, "张三", out.ClaimBy)
						}
					}
					if ev.resolved {
						_, gone := b.Advance(nil, overrides, now, nil)
						require.Equal(t, []string{"g1"}, gone)
						ended = true
					}
				}
				if ended {
					break
				}
				held := func(s Step, level alert.Level) bool { return quiet && level < alert.LevelCritical }
				actions, gone := b.Advance([]Firing{f}, overrides, now, held)
				if len(gone) > 0 {
					ended = true
				}
				for _, a := range actions {
					got = append(got, placed{tick, a.Step, a.People[0].Name})
					if a.Notify[0] == VoiceKind {
						calls++
						lastCall = fmt.Sprintf("call-%d", calls)
						Placed(b.Escalations["g1"], a.Step, a.People[0], lastCall, now)
					}
				}
			}
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.ended, ended)
		})
	}
}

func TestCallResultForAnUnknownCallChangesNothing(t *testing.T) {
	b, err := NewBook([]Roster{testRoster(t)}, []EscalationConfig{{OnCall: "kafka", Steps: []StepConfig{{Notify: []string{"voice"}}}}},
		[]string{"voice"})
	require.NoError(t, err)
	actions, _ := b.Advance([]Firing{{Key: "g1", Level: alert.LevelCritical, Since: t0}}, nil, t0, nil)
	require.Len(t, actions, 1)
	Placed(b.Escalations["g1"], 0, actions[0].People[0], "c1", t0)
	before := b.Snapshot()
	_, _, err = b.CallResult("nope", CallAcked)
	require.ErrorIs(t, err, ErrUnknownCall)
	require.Equal(t, before, b.Snapshot())
	// A result told twice calls the next person once.
	_, out, err := b.CallResult("c1", CallNoAnswer)
	require.NoError(t, err)
	require.NotNil(t, out.Next)
	_, out, err = b.CallResult("c1", CallNoAnswer)
	require.NoError(t, err)
	require.Nil(t, out.Next)
}

func TestSnapshotRestoreContinuesFromTheNextStep(t *testing.T) {
	cfg := []EscalationConfig{{OnCall: "kafka", Steps: []StepConfig{{Notify: []string{"sms"}},
		{After: config.Duration(time.Minute), Notify: []string{"voice"}}}}}
	a, err := NewBook([]Roster{testRoster(t)}, cfg, []string{"sms", "voice"})
	require.NoError(t, err)
	f := []Firing{{Key: "g1", Level: alert.LevelCritical, Since: t0}}
	actions, _ := a.Advance(f, nil, t0, nil)
	require.Len(t, actions, 1)
	b, err := NewBook([]Roster{testRoster(t)}, cfg, []string{"sms", "voice"})
	require.NoError(t, err)
	b.Restore(a.Snapshot())
	actions, _ = b.Advance(f, nil, t0.Add(30*time.Second), nil)
	require.Empty(t, actions, "step 0 is not placed again")
	actions, _ = b.Advance(f, nil, t0.Add(time.Minute), nil)
	require.Len(t, actions, 1)
	require.Equal(t, 1, actions[0].Step)
}

func TestPlan(t *testing.T) {
	b, err := NewBook([]Roster{testRoster(t)}, []EscalationConfig{{OnCall: "kafka", Steps: []StepConfig{{Notify: []string{"sms"}},
		{After: config.Duration(time.Minute), Notify: []string{"voice"}, Who: "all"}}}}, []string{"sms", "voice"})
	require.NoError(t, err)
	plan := b.Plan(Firing{Key: "g1", Level: alert.LevelCritical, Since: t0}, nil)
	require.Len(t, plan, 2)
	require.Equal(t, []string{"张三"}, plan[0].Who)
	require.Equal(t, []string{"张三", "李四", "王五"}, plan[1].Who)
	require.True(t, plan[1].At.Equal(t0.Add(time.Minute)))
}

func TestOverrideFile(t *testing.T) {
	path := t.TempDir() + "/overrides"
	id, err := AddOverride(path, Override{Roster: "kafka", Who: "王五", Until: t0.Add(time.Hour)}, t0)
	require.NoError(t, err)
	list, err := LoadOverrides(path, t0)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.True(t, list[0].Active(t0.Add(time.Minute)))
	require.NoError(t, ExpireOverride(path, id, t0.Add(2*time.Minute)))
	list, err = LoadOverrides(path, t0)
	require.NoError(t, err)
	require.False(t, list[0].Active(t0.Add(3*time.Minute)))
	require.ErrorContains(t, ExpireOverride(path, "nope", t0), `no override with ID "nope"`)
	merged := Merge([]Override{{ID: "a"}}, []Override{{ID: "a", Expired: t0}, {ID: "b"}})
	require.Len(t, merged, 2)
	require.True(t, merged[0].Expired.Equal(t0))
}
