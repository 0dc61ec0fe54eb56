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
		"warning_lag":       int64(1000),
		"critical_lag":      int64(2000),
		"for_intervals":     int64(2),
		"recover_intervals": int64(1),
		"measurements":      []interface{}{"ckafka_lag"},
		"overrides":         []interface{}{},
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
	constants := defaults()
	delete(constants, "warning_lag")
	p := &starlark.Starlark{Common: common.Common{
		Script: "ckafka_lag_alert.star", Constants: constants, Log: testutil.Logger{}, StarlarkLoadFunc: common.LoadFunc,
	}}
	require.ErrorContains(t, p.Init(), "undefined: warning_lag")
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
