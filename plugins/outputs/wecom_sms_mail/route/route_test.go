package route

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
)

func mustMatchers(t *testing.T, m map[string]string) []Matcher {
	t.Helper()
	ms, err := ParseMatchers(m)
	require.NoError(t, err)
	return ms
}

func TestRouterDestinations(t *testing.T) {
	r := &Router{
		Defaults: []string{"default-robot", "sms"},
		Routes: []Route{
			{Index: 1, Matchers: mustMatchers(t, map[string]string{"group": "billing-*", "instance_id": "ckafka-prod*"}), Dests: []string{"billing-robot"}},
			{Index: 2, Matchers: mustMatchers(t, map[string]string{"group": "etl-*"}), Dests: []string{"data-robot"}, Continue: true},
			{Index: 3, Matchers: mustMatchers(t, map[string]string{}), MinLevel: alert.LevelCritical, Dests: []string{"platform-robot", "data-robot"}},
		},
	}
	tests := []struct {
		name  string
		tags  map[string]string
		level alert.Level
		want  []string
	}{
		{"first match takes it", map[string]string{"group": "billing-pay", "instance_id": "ckafka-prod1"}, alert.LevelCritical, []string{"billing-robot"}},
		{"all matchers must match", map[string]string{"group": "billing-pay", "instance_id": "ckafka-test"}, alert.LevelWarning, []string{"default-robot", "sms"}},
		{"continue goes on to later routes", map[string]string{"group": "etl-daily"}, alert.LevelCritical, []string{"data-robot", "platform-robot"}},
		{"min_level is part of the match", map[string]string{"group": "etl-daily"}, alert.LevelWarning, []string{"data-robot"}},
		{"no match: the default route", map[string]string{"group": "search"}, alert.LevelWarning, []string{"default-robot", "sms"}},
		{"catch-all critical route", map[string]string{"group": "search"}, alert.LevelCritical, []string{"platform-robot", "data-robot"}},
		{"a missing tag matches only *", map[string]string{}, alert.LevelWarning, []string{"default-robot", "sms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, r.Destinations(tt.tags, tt.level))
		})
	}
}

func TestMatcherGlobs(t *testing.T) {
	_, err := ParseMatchers(map[string]string{"group": "[unclosed"})
	require.ErrorContains(t, err, "group")
	ms := mustMatchers(t, map[string]string{"group": "{billing,pay}-*"})
	require.True(t, Matches(ms, map[string]string{"group": "pay-eu/1"}), "a slash in a group name is just a character")
	require.False(t, Matches(ms, map[string]string{"group": "search-1"}))
}

func TestQuietHours(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	at := func(hhmm string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", "2026-11-24 "+hhmm, shanghai)
		require.NoError(t, err)
		return tm
	}
	tests := []struct {
		name    string
		windows []string
		tz      string
		now     time.Time
		active  bool
	}{
		{"inside, across midnight, evening", []string{"22:00-08:00"}, "Asia/Shanghai", at("23:30"), true},
		{"inside, across midnight, morning", []string{"22:00-08:00"}, "Asia/Shanghai", at("07:59"), true},
		{"end is exclusive", []string{"22:00-08:00"}, "Asia/Shanghai", at("08:00"), false},
		{"start is inclusive", []string{"22:00-08:00"}, "Asia/Shanghai", at("22:00"), true},
		{"outside", []string{"22:00-08:00"}, "Asia/Shanghai", at("12:00"), false},
		{"same instant, other zone", []string{"22:00-08:00"}, "UTC", at("23:30"), false}, // 15:30 UTC
		{"same day window", []string{"12:00-13:30"}, "Asia/Shanghai", at("13:29"), true},
		{"two windows", []string{"01:00-02:00", "12:00-13:00"}, "Asia/Shanghai", at("12:30"), true},
		{"all day", []string{"00:00-24:00"}, "Asia/Shanghai", at("18:00"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := ParseQuiet(tt.windows, "critical", tt.tz)
			require.NoError(t, err)
			require.Equal(t, tt.active, q.Active(tt.now))
			require.Equal(t, tt.active, q.Holds(alert.LevelWarning, tt.now))
			require.False(t, q.Holds(alert.LevelCritical, tt.now), "critical passes through")
		})
	}
	for _, bad := range []string{"22:00", "25:00-01:00", "10:00-10:00", "10:0-11:00", "a-b"} {
		_, err := ParseQuiet([]string{bad}, "", "")
		require.ErrorContains(t, err, "quiet_hours[0]", bad)
	}
	_, err = ParseQuiet([]string{"22:00-08:00"}, "", "Mars/Olympus")
	require.ErrorContains(t, err, "timezone")
	_, err = ParseQuiet([]string{"22:00-08:00"}, "ok", "")
	require.ErrorContains(t, err, "quiet_hours_min_level")
	q, err := ParseQuiet(nil, "", "")
	require.NoError(t, err)
	require.False(t, q.Active(time.Now()), "no windows, never quiet")
}
