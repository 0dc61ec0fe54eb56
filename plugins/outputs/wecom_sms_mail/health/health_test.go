package health

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
)

var (
	t0   = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	gz   = []alert.Tag{{Key: "host", Value: "h1"}, {Key: "region", Value: "ap-guangzhou"}}
	lagK = "ckafka_lag,group=billing,instance_id=ckafka-1,region=ap-guangzhou,topic=orders"
)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

func clean(m int) Gather { return Gather{Tags: gz, Time: at(m), Groups: 5} }
func revoked(m int) Gather {
	return Gather{Tags: gz, Time: at(m), FailedGroups: 5, Errors: 1, LastError: "AuthFailure.SecretIdNotFound"}
}
func partial(m int) Gather {
	return Gather{Tags: gz, Time: at(m), Groups: 4, FailedGroups: 1, Errors: 1, LastError: "InternalError"}
}

// levels returns the level each observed key ends with.
func levels(obs []alert.Observation) map[string]alert.Level {
	out := map[string]alert.Level{}
	for _, o := range obs {
		_, tags := alert.ParseKey(o.Key)
		for _, t := range tags {
			if t.Key == "check" {
				out[t.Value] = o.Level
			}
		}
	}
	return out
}

func TestCollectionFailing(t *testing.T) {
	tests := []struct {
		name    string
		gathers []Gather
		want    alert.Level
		wantErr string
	}{
		{name: "clean", gathers: []Gather{clean(0), clean(1)}, want: alert.LevelOK},
		{name: "one failure is not yet failing", gathers: []Gather{clean(0), revoked(1)}, want: alert.LevelOK},
		{name: "two failures, nothing read: critical", gathers: []Gather{clean(0), revoked(1), revoked(2)},
			want: alert.LevelCritical, wantErr: "AuthFailure.SecretIdNotFound"},
		{name: "some groups failing: warning", gathers: []Gather{partial(1), partial(2)},
			want: alert.LevelWarning, wantErr: "InternalError"},
		{name: "a clean collection resolves", gathers: []Gather{revoked(1), revoked(2), clean(3)}, want: alert.LevelOK},
		{name: "failures must be consecutive", gathers: []Gather{revoked(1), clean(2), revoked(3)}, want: alert.LevelOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New(Policy{FailingAfter: 2})
			var last alert.Observation
			for _, g := range tt.gathers {
				obs := tr.Observe(g, g.Time)
				last = obs[0]
			}
			require.Equal(t, tt.want, last.Level)
			require.Equal(t, "ckafka_lag_collector,check=collection_failing,host=h1,region=ap-guangzhou", last.Key)
			if tt.wantErr != "" {
				require.Equal(t, tt.wantErr, last.Details.Collector.Error)
				require.Equal(t, at(1), last.Details.Collector.Since, "since the first failing collection")
			}
		})
	}
}

func TestCollectorSilent(t *testing.T) {
	tr := New(Policy{FailingAfter: 2})
	require.Empty(t, tr.Tick(at(10)), "no collector, nothing silent")
	tr.Observe(clean(0), at(0))
	require.Empty(t, tr.Tick(at(10)), "one collection: no interval learned, so never silent")
	tr.Observe(clean(1), at(1))
	tr.Observe(clean(2), at(2))
	require.Empty(t, tr.Tick(at(5)), "3 intervals after the last: not yet")
	obs := tr.Tick(at(5).Add(time.Second))
	require.Equal(t, map[string]alert.Level{alert.CheckSilent: alert.LevelCritical}, levels(obs))
	require.Equal(t, at(2), obs[0].Details.Collector.Since, "when it last reported")
	require.Empty(t, tr.Tick(at(6)), "told once")
	require.False(t, tr.Healthy(at(6)))
	back := tr.Observe(clean(7), at(7))
	require.Equal(t, map[string]alert.Level{alert.CheckFailing: alert.LevelOK, alert.CheckSilent: alert.LevelOK}, levels(back))
	require.True(t, tr.Healthy(at(7)))

	configured := New(Policy{SilentAfter: 30 * time.Second})
	configured.Observe(clean(0), at(0))
	require.Len(t, configured.Tick(at(0).Add(31*time.Second)), 1, "a configured bound needs no learning")
}

func TestJudge(t *testing.T) {
	other := []alert.Tag{{Key: "host", Value: "h2"}, {Key: "region", Value: "ap-shanghai"}}
	tests := []struct {
		name     string
		gathers  []Gather // each received at its own time
		lastSeen time.Time
		tick     time.Time
		key      string
		want     alert.Coverage
		reason   string
	}{
		{name: "no collector", key: lagK, want: alert.Uncovered},
		{name: "another region's collector", gathers: []Gather{{Tags: other, Time: at(0)}}, key: lagK, want: alert.Uncovered},
		{name: "a clean collection since, without it: gone", gathers: []Gather{clean(0), clean(1)}, lastSeen: at(0), key: lagK, want: alert.Covered},
		{name: "no collection since: wait", gathers: []Gather{clean(0)}, lastSeen: at(0), key: lagK, want: alert.Waiting},
		{name: "failing and not reported: blind", gathers: []Gather{clean(0), revoked(1)}, lastSeen: at(0), key: lagK,
			want: alert.Blind, reason: "collection failing: AuthFailure.SecretIdNotFound"},
		{name: "partly failing but reported: known", gathers: []Gather{clean(0), partial(1)}, lastSeen: at(1), key: lagK, want: alert.Waiting},
		{name: "silent: blind", gathers: []Gather{clean(0), clean(1)}, lastSeen: at(1), tick: at(10), key: lagK,
			want: alert.Blind, reason: "collector silent"},
		{name: "a collector alert is its own", gathers: []Gather{clean(0)}, key: alertKey(alert.CheckFailing, gz), want: alert.Managed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New(Policy{FailingAfter: 2})
			for _, g := range tt.gathers {
				tr.Observe(g, g.Time)
			}
			if !tt.tick.IsZero() {
				tr.Tick(tt.tick)
			}
			v := tr.Judge(tt.key, tt.lastSeen)
			require.Equal(t, tt.want, v.Coverage)
			require.Equal(t, tt.reason, v.Reason)
		})
	}
}

func TestTwoCollectorsOneRegion(t *testing.T) {
	// The lag alert's key leaves host out: both collectors may report it,
	// so a failing one keeps it unknown even while the other is clean.
	tr := New(Policy{FailingAfter: 2})
	h2 := []alert.Tag{{Key: "host", Value: "h2"}, {Key: "region", Value: "ap-guangzhou"}}
	tr.Observe(clean(0), at(0))
	tr.Observe(Gather{Tags: h2, Time: at(0), Groups: 5}, at(0))
	tr.Observe(revoked(1), at(1))
	tr.Observe(Gather{Tags: h2, Time: at(1), Groups: 5}, at(1))
	require.Equal(t, alert.Blind, tr.Judge(lagK, at(0)).Coverage)
	require.False(t, tr.Healthy(at(1)))
}

// TestPairTakeover: host h1 of an HA pair died (silent) and h2 took over;
// h2 reports the series, so it is known, not blind. A standby's gathers
// own nothing: alone it neither covers nor blinds a series.
func TestPairTakeover(t *testing.T) {
	h2 := []alert.Tag{{Key: "host", Value: "h2"}, {Key: "region", Value: "ap-guangzhou"}}
	standby := func(sec int) Gather { return Gather{Tags: h2, Time: at(sec), Standby: true} }
	active := func(sec int) Gather { return Gather{Tags: h2, Time: at(sec), Groups: 5} }

	tr := New(Policy{FailingAfter: 2})
	for sec := range 3 {
		tr.Observe(clean(sec), at(sec))
		tr.Observe(standby(sec), at(sec))
	}
	require.Equal(t, alert.Waiting, tr.Judge(lagK, at(2)).Coverage, "the standby's clean gathers do not prove the series gone")
	require.Equal(t, alert.Covered, tr.Judge(lagK, at(1)).Coverage, "the active's do")
	for sec := 3; sec <= 6; sec++ {
		tr.Observe(standby(sec), at(sec))
	}
	require.Len(t, tr.Tick(at(6).Add(time.Second)), 1, "h1 fell silent, the standby did not")
	tr.Observe(active(7), at(7))
	require.Equal(t, alert.Waiting, tr.Judge(lagK, at(7)).Coverage, "h2 reported it in its latest collection: known")
	require.Equal(t, alert.Blind, tr.Judge(lagK, at(2)).Coverage, "a series h2 did not report stays blind while h1 is silent")
}

func TestSnapshotRestore(t *testing.T) {
	tr := New(Policy{FailingAfter: 2})
	tr.Observe(clean(0), at(0))
	tr.Observe(revoked(1), at(1))
	tr.Observe(revoked(2), at(2))
	b := New(Policy{FailingAfter: 2})
	b.Restore(tr.Snapshot(), at(30))
	require.Empty(t, b.Tick(at(32)), "silence counts from the restart")
	require.Len(t, b.Tick(at(33).Add(time.Second)), 1, "the learned interval survived")
	obs := b.Observe(clean(34), at(34))
	require.Equal(t, alert.LevelOK, levels(obs)[alert.CheckFailing])
}

// TestJudgeByCollectionTime: a big collection reaches the output in
// several batches, its gather last; the series it reported are known
// although they arrived before it.
func TestJudgeByCollectionTime(t *testing.T) {
	tr := New(Policy{FailingAfter: 2})
	tr.Observe(clean(0), at(0))
	tr.Observe(partial(1), at(1).Add(20*time.Second)) // arrived 20 s after its lag metrics
	require.Equal(t, alert.Waiting, tr.Judge(lagK, at(1)).Coverage, "reported by the failing collection: known")
	require.Equal(t, alert.Blind, tr.Judge(lagK, at(0)).Coverage, "missing from it: unknown")
}

// Both collectors of an HA pair report standby (each follows a member that
// is not the active output): nothing is collected and nobody is silent.
// After the silence bound that is a critical alert of its own; the first
// collecting gather resolves it.
func TestNoActiveCollector(t *testing.T) {
	h2 := []alert.Tag{{Key: "host", Value: "h2"}, {Key: "region", Value: "ap-guangzhou"}}
	standby := func(tags []alert.Tag, m int) Gather { return Gather{Tags: tags, Time: at(m), Standby: true} }
	tests := []struct {
		name      string
		policy    Policy
		minutes   int // both report standby each minute until then
		tickAt    time.Duration
		wantFired bool
	}{
		{name: "within the learned bound (3 intervals)", minutes: 3, tickAt: 2*time.Minute + 59*time.Second},
		{name: "past the learned bound", minutes: 3, tickAt: 3*time.Minute + time.Second, wantFired: true},
		{name: "past collector_silent_after", policy: Policy{SilentAfter: 90 * time.Second}, minutes: 2,
			tickAt: 91 * time.Second, wantFired: true},
		{name: "one interval only: not learned, no bound", minutes: 0, tickAt: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New(tt.policy)
			for m := 0; m <= tt.minutes; m++ {
				tr.Observe(standby(gz, m), at(m))
				tr.Observe(standby(h2, m), at(m))
			}
			now := t0.Add(tt.tickAt)
			got := levels(tr.Tick(now))
			if !tt.wantFired {
				require.NotContains(t, got, alert.CheckNoActive)
				return
			}
			require.Equal(t, alert.LevelCritical, got[alert.CheckNoActive])
			require.Empty(t, tr.Tick(now.Add(time.Second)), "raised once")
			resolved := levels(tr.Observe(Gather{Tags: h2, Time: now, Groups: 5}, now))
			require.Equal(t, alert.LevelOK, resolved[alert.CheckNoActive], "a collecting gather resolves it")
		})
	}

	t.Run("a collector that collects keeps it quiet", func(t *testing.T) {
		tr := New(Policy{})
		for m := 0; m <= 10; m++ {
			tr.Observe(clean(m), at(m))
			tr.Observe(standby(h2, m), at(m))
		}
		require.NotContains(t, levels(tr.Tick(at(10).Add(time.Second))), alert.CheckNoActive)
	})
}
