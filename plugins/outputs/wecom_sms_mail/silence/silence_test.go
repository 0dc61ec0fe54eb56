package silence

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/route"
)

func TestSilences(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	ms, err := ParseMatcherArgs([]string{"group=billing-*", "topic=orders"})
	require.NoError(t, err)
	ss := Silences{{ID: "a", Matchers: ms, StartsAt: t0, EndsAt: t0.Add(2 * time.Hour)}}
	tags := map[string]string{"group": "billing-pay", "topic": "orders"}
	require.False(t, ss.Silenced(tags, t0.Add(-time.Second)), "not yet")
	require.True(t, ss.Silenced(tags, t0))
	require.True(t, ss.Silenced(tags, t0.Add(2*time.Hour-time.Second)))
	require.False(t, ss.Silenced(tags, t0.Add(2*time.Hour)), "expired")
	require.False(t, ss.Silenced(map[string]string{"group": "billing-pay", "topic": "refunds"}, t0), "every matcher must match")

	_, err = ParseMatcherArgs(nil)
	require.Error(t, err)
	_, err = ParseMatcherArgs([]string{"group"})
	require.ErrorContains(t, err, "tag=glob")
}

func TestSilenceFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.state.silences")
	t0 := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	ms, err := ParseMatcherArgs([]string{"group=billing-*"})
	require.NoError(t, err)
	id, err := Add(path, Silence{Matchers: ms, StartsAt: t0, EndsAt: t0.Add(time.Hour), CreatedBy: "ops", Comment: "backfill"}, t0)
	require.NoError(t, err)
	require.Len(t, id, 16)

	ss, err := Load(path, t0)
	require.NoError(t, err)
	require.Len(t, ss, 1)
	require.True(t, ss.Silenced(map[string]string{"group": "billing-x"}, t0.Add(time.Minute)), "matchers survive the file")

	require.NoError(t, Expire(path, id, t0.Add(10*time.Minute)))
	ss, err = Load(path, t0)
	require.NoError(t, err)
	require.Equal(t, t0.Add(10*time.Minute), ss[0].EndsAt)
	require.False(t, ss.Silenced(map[string]string{"group": "billing-x"}, t0.Add(11*time.Minute)))
	require.ErrorContains(t, Expire(path, "nope", t0), `no silence with ID "nope"`)

	require.NoError(t, os.WriteFile(path, []byte("{broken"), 0o600))
	ss, err = Load(path, t0)
	require.ErrorContains(t, err, "is corrupt")
	require.Empty(t, ss)
	moved, _ := filepath.Glob(path + ".corrupt-*")
	require.Len(t, moved, 1)
	_, err = Add(path, Silence{Matchers: ms, StartsAt: t0, EndsAt: t0.Add(time.Hour)}, t0)
	require.NoError(t, err, "a new file after the corrupt one was moved aside")
}

func TestLiteralMatchesOnlyItself(t *testing.T) {
	for _, name := range []string{"orders", "pay*", "a?b", "x[1]", "{a,b}", `back\slash`, "-!"} {
		m, err := route.NewMatcher("group", route.Literal(name))
		require.NoError(t, err, name)
		require.True(t, Silences{{Matchers: []route.Matcher{m}, EndsAt: time.Unix(2, 0)}}.Silenced(map[string]string{"group": name}, time.Unix(1, 0)), name)
		require.False(t, Silences{{Matchers: []route.Matcher{m}, EndsAt: time.Unix(2, 0)}}.Silenced(map[string]string{"group": name + "x"}, time.Unix(1, 0)), name)
	}
	m, err := route.NewMatcher("group", route.Literal("pay*"))
	require.NoError(t, err)
	require.False(t, Silences{{Matchers: []route.Matcher{m}, EndsAt: time.Unix(2, 0)}}.Silenced(map[string]string{"group": "payments"}, time.Unix(1, 0)))
}

func TestReconcile(t *testing.T) {
	now := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	s := func(id string, ends time.Duration) Silence { return Silence{ID: id, EndsAt: now.Add(ends)} }
	tests := []struct {
		name       string
		local      Silences
		logged     map[string]Silence
		wantAppend []string
		wantMerged []Silence // nil: the file stays
	}{
		{name: "in step", local: Silences{s("a", time.Hour)}, logged: map[string]Silence{"a": s("a", time.Hour)}},
		{name: "added here", local: Silences{s("a", time.Hour)}, wantAppend: []string{"a"}},
		{name: "expired here", local: Silences{s("a", 0)}, logged: map[string]Silence{"a": s("a", time.Hour)}, wantAppend: []string{"a"}},
		{name: "added there", logged: map[string]Silence{"b": s("b", time.Hour)}, wantMerged: []Silence{s("b", time.Hour)}},
		{name: "expired there", local: Silences{s("a", time.Hour)}, logged: map[string]Silence{"a": s("a", 0)},
			wantMerged: []Silence{s("a", 0)}},
		{name: "ended too long ago there", logged: map[string]Silence{"old": s("old", -Keep)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			appendIDs, merged := Reconcile(tt.local, tt.logged, now)
			var ids []string
			for _, a := range appendIDs {
				ids = append(ids, a.ID)
			}
			require.Equal(t, tt.wantAppend, ids)
			if tt.wantMerged == nil {
				require.Nil(t, merged)
			} else {
				require.Equal(t, Silences(tt.wantMerged), merged)
			}
		})
	}
}

func TestMergeKeepsTheEarlierEnd(t *testing.T) {
	early, late := Silence{ID: "a", EndsAt: time.Unix(10, 0)}, Silence{ID: "a", EndsAt: time.Unix(20, 0)}
	require.Equal(t, early, Merge(late, early))
	require.Equal(t, early, Merge(early, late))
	require.Equal(t, late, Merge(Silence{}, late), "nothing known yet")
}
