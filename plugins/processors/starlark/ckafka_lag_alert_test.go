// Package starlark tests ckafka_lag_alert.star through Telegraf's own
// processors.starlark, the exact code Telegraf runs.
package starlark

import (
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	common "github.com/influxdata/telegraf/plugins/common/starlark"
	"github.com/influxdata/telegraf/plugins/processors/starlark"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

// defaults are the constants of the drop-in sample.conf.
func defaults() map[string]interface{} {
	return map[string]interface{}{
		"warning_lag":                         int64(1000),
		"critical_lag":                        int64(2000),
		"warning_lag_seconds":                 int64(0),
		"critical_lag_seconds":                int64(0),
		"stall_level":                         "warning",
		"warning_retention_headroom_seconds":  int64(21600),
		"critical_retention_headroom_seconds": int64(3600),
		"lost_messages_level":                 "critical",
		"for_intervals":                       int64(2),
		"recover_intervals":                   int64(1),
		"measurements":                        []interface{}{"ckafka_lag"},
		"overrides":                           []interface{}{},
	}
}

func newProcessor(t *testing.T, constants map[string]interface{}) (*starlark.Starlark, *testutil.Accumulator) {
	t.Helper()
	all := defaults()
	for k, v := range constants {
		all[k] = v
	}
	p := &starlark.Starlark{Common: common.Common{
		Script:           "ckafka_lag_alert.star",
		Constants:        all,
		Log:              testutil.Logger{},
		StarlarkLoadFunc: common.LoadFunc,
	}}
	require.NoError(t, p.Init())
	acc := &testutil.Accumulator{}
	require.NoError(t, p.Start(acc))
	t.Cleanup(p.Stop)
	return p, acc
}

func lag(group, topic string, value int64, at int) telegraf.Metric {
	return metric.New("ckafka_lag",
		map[string]string{"region": "ap-guangzhou", "instance_id": "ckafka-1", "group": group, "topic": topic, "host": "h"},
		map[string]interface{}{"lag": value, "partitions": int64(3)},
		time.Unix(int64(at)*60, 0))
}

// run feeds one metric and returns the level and threshold it got.
func run(t *testing.T, p *starlark.Starlark, acc *testutil.Accumulator, m telegraf.Metric) (string, int64) {
	t.Helper()
	acc.ClearMetrics()
	require.NoError(t, p.Add(m, acc))
	out := acc.GetTelegrafMetrics()
	require.Len(t, out, 1)
	level, ok := out[0].GetField("alert_level")
	require.True(t, ok, "alert_level missing")
	threshold, ok := out[0].GetField("alert_threshold")
	require.True(t, ok, "alert_threshold missing")
	return level.(string), threshold.(int64)
}

func TestTimelines(t *testing.T) {
	tests := []struct {
		name      string
		constants map[string]interface{}
		lags      []int64
		want      []string
	}{
		{
			name: "defaults: two breaching collections raise, one clear one recovers",
			lags: []int64{0, 2500, 2500, 2500, 10, 10},
			want: []string{"ok", "ok", "critical", "critical", "ok", "ok"},
		},
		{
			name: "a single spike raises nothing",
			lags: []int64{0, 9000, 0, 9000, 0},
			want: []string{"ok", "ok", "ok", "ok", "ok"},
		},
		{
			name: "a mixed run rises to the lowest level it held",
			lags: []int64{1500, 2500, 2500, 2500},
			want: []string{"ok", "warning", "warning", "critical"},
		},
		{
			name: "the old threshold is exclusive: 2000 is not above 2000",
			lags: []int64{2000, 2000, 2001, 2001},
			want: []string{"ok", "warning", "warning", "critical"},
		},
		{
			name:      "for_intervals 1 raises at once; recover_intervals 3 holds",
			constants: map[string]interface{}{"for_intervals": int64(1), "recover_intervals": int64(3)},
			lags:      []int64{3000, 0, 0, 0, 0},
			want:      []string{"critical", "critical", "critical", "ok", "ok"},
		},
		{
			name:      "critical falls to warning, then to ok",
			constants: map[string]interface{}{"for_intervals": int64(1)},
			lags:      []int64{3000, 1500, 1500, 100},
			want:      []string{"critical", "warning", "warning", "ok"},
		},
		{
			name:      "a recovery run resets when lag rises again",
			constants: map[string]interface{}{"for_intervals": int64(1), "recover_intervals": int64(2)},
			lags:      []int64{3000, 0, 3000, 0, 0},
			want:      []string{"critical", "critical", "critical", "critical", "ok"},
		},
		{
			name:      "custom thresholds",
			constants: map[string]interface{}{"warning_lag": int64(10), "critical_lag": int64(20), "for_intervals": int64(1)},
			lags:      []int64{5, 15, 25},
			want:      []string{"ok", "warning", "critical"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, acc := newProcessor(t, tt.constants)
			var got []string
			for i, l := range tt.lags {
				level, _ := run(t, p, acc, lag("billing", "orders", l, i))
				got = append(got, level)
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestThresholdField(t *testing.T) {
	p, acc := newProcessor(t, map[string]interface{}{"for_intervals": int64(1)})
	for i, c := range []struct {
		lag  int64
		want int64
	}{{100, 1000}, {1500, 1000}, {2500, 2000}} {
		_, threshold := run(t, p, acc, lag("g", "t", c.lag, i))
		require.Equal(t, c.want, threshold)
	}
}

func TestOverridesFirstMatchWins(t *testing.T) {
	overrides := []interface{}{
		map[string]interface{}{"group": "etl-*", "topic": "raw-?", "warning_lag": int64(50000), "critical_lag": int64(100000)},
		map[string]interface{}{"group": "etl-*", "critical_lag": int64(5000)},
	}
	p, acc := newProcessor(t, map[string]interface{}{"overrides": overrides, "for_intervals": int64(1)})
	level, threshold := run(t, p, acc, lag("etl-daily", "raw-1", 60000, 0))
	require.Equal(t, "warning", level)
	require.Equal(t, int64(50000), threshold)
	level, threshold = run(t, p, acc, lag("etl-daily", "raw-10", 6000, 0))
	require.Equal(t, "critical", level, "raw-? does not match raw-10, the second override does")
	require.Equal(t, int64(5000), threshold)
	level, _ = run(t, p, acc, lag("billing", "raw-1", 2500, 0))
	require.Equal(t, "critical", level, "defaults elsewhere")
}

func TestIdentitiesAreIndependentAndHostIsIgnored(t *testing.T) {
	p, acc := newProcessor(t, nil)
	run(t, p, acc, lag("a", "t", 5000, 0))
	level, _ := run(t, p, acc, lag("b", "t", 5000, 1))
	require.Equal(t, "ok", level, "b has breached once")
	m := lag("a", "t", 5000, 2)
	m.AddTag("host", "another-collector")
	level, _ = run(t, p, acc, m)
	require.Equal(t, "critical", level, "a breached twice, whichever host collected it")
}

func TestOtherMetricsPassUntouched(t *testing.T) {
	p, acc := newProcessor(t, nil)
	for _, m := range []telegraf.Metric{
		metric.New("ckafka_group_lag", map[string]string{"group": "g"}, map[string]interface{}{"lag": int64(9999)}, time.Unix(0, 0)),
		metric.New("ckafka_lag", map[string]string{"group": "g"}, map[string]interface{}{"partitions": int64(3)}, time.Unix(0, 0)),
		metric.New("cpu", map[string]string{}, map[string]interface{}{"usage": 1.0}, time.Unix(0, 0)),
	} {
		acc.ClearMetrics()
		require.NoError(t, p.Add(m.Copy(), acc))
		out := acc.GetTelegrafMetrics()
		require.Len(t, out, 1)
		testutil.RequireMetricEqual(t, m, out[0])
	}
}

func TestMeasurementsConstant(t *testing.T) {
	p, acc := newProcessor(t, map[string]interface{}{"measurements": []interface{}{"ckafka_group_lag"}, "for_intervals": int64(1)})
	acc.ClearMetrics()
	require.NoError(t, p.Add(metric.New("ckafka_group_lag", map[string]string{"group": "g"}, map[string]interface{}{"lag": int64(9999)}, time.Unix(0, 0)), acc))
	level, _ := acc.GetTelegrafMetrics()[0].GetField("alert_level")
	require.Equal(t, "critical", level)
}

func TestGlob(t *testing.T) {
	// The matcher is exercised through overrides above; this pins its edge cases.
	overrides := func(pattern string) []interface{} {
		return []interface{}{map[string]interface{}{"group": pattern, "critical_lag": int64(1)}}
	}
	cases := []struct {
		pattern, group string
		match          bool
	}{
		{"*", "", true}, {"a*", "abc", true}, {"*c", "abc", true}, {"a?c", "abc", true},
		{"a?c", "ac", false}, {"*b*", "abc", true}, {"abc", "abd", false}, {"", "", true}, {"", "a", false},
		{"**", "x", true}, {"a*b*c", "aXbYc", true}, {"a*b*c", "aXbY", false},
	}
	for _, c := range cases {
		p, acc := newProcessor(t, map[string]interface{}{"overrides": overrides(c.pattern), "for_intervals": int64(1)})
		level, _ := run(t, p, acc, lag(c.group, "t", 500, 0))
		require.Equal(t, c.match, level == "critical", "glob(%q, %q)", c.pattern, c.group)
	}
}

func TestMissingConstantIsALoadError(t *testing.T) {
	for name := range defaults() {
		constants := defaults()
		delete(constants, name)
		p := &starlark.Starlark{Common: common.Common{
			Script: "ckafka_lag_alert.star", Constants: constants, Log: testutil.Logger{}, StarlarkLoadFunc: common.LoadFunc,
		}}
		require.ErrorContains(t, p.Init(), "undefined: "+name, "the missing constant is the name reported")
	}
}

// Telegraf persists the state only when every value is flat; this is what
// [agent] statefile relies on across restarts.
func TestStateSurvivesTelegrafPersistence(t *testing.T) {
	p, acc := newProcessor(t, nil)
	run(t, p, acc, lag("billing", "orders", 5000, 0))
	level, _ := run(t, p, acc, lag("billing", "orders", 5000, 1))
	require.Equal(t, "critical", level)
	saved := p.GetState()
	require.NotEmpty(t, saved)

	restarted, acc2 := newProcessor(t, nil)
	require.NoError(t, restarted.SetState(saved))
	level, _ = run(t, restarted, acc2, lag("billing", "orders", 5000, 2))
	require.Equal(t, "critical", level, "the level survives a restart")
	level, _ = run(t, restarted, acc2, lag("search", "orders", 5000, 2))
	require.Equal(t, "ok", level)
}

// timed is a ckafka_lag metric with the time fields of the input.
func timed(value int64, seconds float64, stalled bool, at int) telegraf.Metric {
	m := lag("billing", "orders", value, at)
	m.AddField("lag_seconds", seconds)
	m.AddField("stalled", stalled)
	return m
}

func reasonOf(t *testing.T, acc *testutil.Accumulator) string {
	t.Helper()
	r, ok := acc.GetTelegrafMetrics()[0].GetField("alert_reason")
	require.True(t, ok, "alert_reason missing")
	return r.(string)
}

func TestSecondsAndStall(t *testing.T) {
	seconds := map[string]interface{}{"warning_lag_seconds": int64(300), "critical_lag_seconds": int64(900), "for_intervals": int64(1)}
	type step struct {
		lag       int64
		seconds   float64
		stalled   bool
		level     string
		reason    string
		threshold int64
	}
	tests := []struct {
		name      string
		constants map[string]interface{}
		steps     []step
	}{
		{"seconds off by default: a slow trickle is judged on count", map[string]interface{}{"for_intervals": int64(1)}, []step{
			{lag: 50, seconds: 5000, level: "ok", reason: "lag", threshold: 1000},
		}},
		{"seconds raise what the count does not", seconds, []step{
			{lag: 50, seconds: 100, level: "ok", reason: "lag", threshold: 1000},
			{lag: 50, seconds: 400, level: "warning", reason: "lag_seconds", threshold: 300},
			{lag: 50, seconds: 1000, level: "critical", reason: "lag_seconds", threshold: 900},
			{lag: 50, seconds: 10, level: "ok", reason: "lag", threshold: 1000},
		}},
		{"the count first on ties", seconds, []step{
			{lag: 1500, seconds: 400, level: "warning", reason: "lag", threshold: 1000},
			{lag: 2500, seconds: 400, level: "critical", reason: "lag", threshold: 2000},
			{lag: 1500, seconds: 1000, level: "critical", reason: "lag_seconds", threshold: 900},
		}},
		{"a stalled consumer with lag is at least stall_level", map[string]interface{}{"for_intervals": int64(1)}, []step{
			{lag: 10, stalled: true, level: "warning", reason: "stalled", threshold: 0},
			{lag: 0, stalled: true, level: "ok", reason: "lag", threshold: 1000},
			{lag: 2500, stalled: true, level: "critical", reason: "lag", threshold: 2000},
		}},
		{"stall_level critical; empty turns it off", map[string]interface{}{"for_intervals": int64(1), "stall_level": "critical"}, []step{
			{lag: 10, stalled: true, level: "critical", reason: "stalled", threshold: 0},
		}},
		{"stall off", map[string]interface{}{"for_intervals": int64(1), "stall_level": ""}, []step{
			{lag: 10, stalled: true, level: "ok", reason: "lag", threshold: 1000},
		}},
		{"hysteresis applies to the combined level", map[string]interface{}{"warning_lag_seconds": int64(300), "critical_lag_seconds": int64(0)}, []step{
			{lag: 10, seconds: 400, level: "ok", reason: "lag", threshold: 1000},
			{lag: 10, seconds: 400, level: "warning", reason: "lag_seconds", threshold: 300},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, acc := newProcessor(t, tt.constants)
			for i, s := range tt.steps {
				level, threshold := run(t, p, acc, timed(s.lag, s.seconds, s.stalled, i))
				require.Equal(t, s.level, level, "step %d", i)
				require.Equal(t, s.reason, reasonOf(t, acc), "step %d", i)
				require.Equal(t, s.threshold, threshold, "step %d", i)
			}
		})
	}
}

func TestThresholdIsAlwaysAnInt(t *testing.T) {
	p, acc := newProcessor(t, map[string]interface{}{"for_intervals": int64(1), "warning_lag_seconds": 90.5})
	level, threshold := run(t, p, acc, timed(10, 100, false, 0))
	require.Equal(t, "warning", level)
	require.Equal(t, int64(90), threshold, "run() asserts the int64 type")
}

func TestNoLagSecondsJudgedOnCountAndStall(t *testing.T) {
	p, acc := newProcessor(t, map[string]interface{}{"for_intervals": int64(1), "warning_lag_seconds": int64(1)})
	level, _ := run(t, p, acc, lag("g", "t", 50, 0))
	require.Equal(t, "ok", level)
	require.Equal(t, "lag", reasonOf(t, acc))
}

func TestOverridesSetSecondsAndStall(t *testing.T) {
	overrides := []interface{}{
		map[string]interface{}{"group": "billing", "warning_lag_seconds": int64(60), "stall_level": "critical"},
	}
	p, acc := newProcessor(t, map[string]interface{}{"overrides": overrides, "for_intervals": int64(1)})
	level, threshold := run(t, p, acc, timed(10, 120, false, 0))
	require.Equal(t, "warning", level)
	require.Equal(t, int64(60), threshold)
	level, _ = run(t, p, acc, timed(10, 0, true, 1))
	require.Equal(t, "critical", level)
}

// TestRetentionAndLost: the headroom before unread messages are deleted
// raises below its floors, messages already lost raise lost_messages_level.
func TestRetentionAndLost(t *testing.T) {
	type step struct {
		lag       int64
		headroom  any // nil: the field is absent
		lost      any
		level     string
		reason    string
		threshold int64
	}
	one := map[string]interface{}{"for_intervals": int64(1)}
	tests := []struct {
		name      string
		constants map[string]interface{}
		steps     []step
	}{
		{"headroom below the floors", one, []step{
			{lag: 10, headroom: 30000.0, level: "ok", reason: "lag", threshold: 1000},
			{lag: 10, headroom: 20000.0, level: "warning", reason: "retention", threshold: 21600},
			{lag: 10, headroom: 3000.0, level: "critical", reason: "retention", threshold: 3600},
			{lag: 10, headroom: -50.0, level: "critical", reason: "retention", threshold: 3600},
			{lag: 10, level: "ok", reason: "lag", threshold: 1000}, // no retention known
		}},
		{"messages already lost", one, []step{
			{lag: 10, lost: int64(0), level: "ok", reason: "lag", threshold: 1000},
			{lag: 10, lost: int64(1204), level: "critical", reason: "lost", threshold: 0},
		}},
		{"lost_messages_level warning, retention off", map[string]interface{}{"for_intervals": int64(1), "lost_messages_level": "warning",
			"warning_retention_headroom_seconds": int64(0), "critical_retention_headroom_seconds": int64(0)}, []step{
			{lag: 10, headroom: -50.0, lost: int64(3), level: "warning", reason: "lost", threshold: 0},
		}},
		{"lost off", map[string]interface{}{"for_intervals": int64(1), "lost_messages_level": ""}, []step{
			{lag: 10, lost: int64(3), level: "ok", reason: "lag", threshold: 1000},
		}},
		{"an override per topic", map[string]interface{}{"for_intervals": int64(1), "overrides": []interface{}{
			map[string]interface{}{"topic": "orders", "critical_retention_headroom_seconds": int64(7200)}}}, []step{
			{lag: 10, headroom: 5000.0, level: "critical", reason: "retention", threshold: 7200},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, acc := newProcessor(t, tt.constants)
			for i, s := range tt.steps {
				m := lag("billing", "orders", s.lag, i)
				if s.headroom != nil {
					m.AddField("retention_headroom_seconds", s.headroom)
				}
				if s.lost != nil {
					m.AddField("lost_messages", s.lost)
				}
				level, threshold := run(t, p, acc, m)
				require.Equal(t, s.level, level, "step %d", i)
				require.Equal(t, s.reason, reasonOf(t, acc), "step %d", i)
				require.Equal(t, s.threshold, threshold, "step %d", i)
			}
		})
	}
}

// TestPendingRise: while a rise waits for for_intervals the metric says the
// level it is rising to, so that an output whose alert fires (an HA
// takeover: this host's state is cold) does not read "ok" as its end.
func TestPendingRise(t *testing.T) {
	p, acc := newProcessor(t, nil)
	var pending []any
	for i, l := range []int64{2500, 2500, 1500, 10} {
		acc.ClearMetrics()
		require.NoError(t, p.Add(lag("billing", "orders", l, i), acc))
		v, _ := acc.GetTelegrafMetrics()[0].GetField("alert_pending")
		pending = append(pending, v)
	}
	require.Equal(t, []any{"critical", nil, nil, nil}, pending)
}
