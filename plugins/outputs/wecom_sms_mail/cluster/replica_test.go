package cluster

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/silence"
)

type rec struct {
	key   string
	value any // nil: a tombstone
}

func state(member string, covers uint64) rec {
	return rec{keyState, StateRecord{Member: member, Covers: covers}}
}

func delivery(member string, seq uint64) rec {
	return rec{deliveryKey(member, seq), DeliveryRecord{Member: member, Seq: seq, Delivered: notify.Delivered{Dest: "wecom-1", Next: int(seq)}}}
}

func silenceRecord(id string, ends time.Time) rec {
	return rec{keySilence + id, silence.Silence{ID: id, EndsAt: ends}}
}

func TestReplicaApply(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		records    []rec
		writer     string
		deliveries []uint64 // seqs left to replay
		silences   map[string]time.Time
	}{
		{name: "empty log"},
		{
			name:       "deliveries after the state are replayed",
			records:    []rec{delivery("a", 1), state("a", 1), delivery("a", 2), delivery("a", 3)},
			writer:     "a",
			deliveries: []uint64{2, 3},
		},
		{
			// Appended between the snapshot and its record: not in it.
			name:       "a delivery the state does not cover survives it",
			records:    []rec{delivery("a", 1), delivery("a", 2), state("a", 1)},
			writer:     "a",
			deliveries: []uint64{2},
		},
		{
			name:    "a new writer's state covers the old writer's deliveries",
			records: []rec{state("a", 0), delivery("a", 1), state("b", 0)},
			writer:  "b",
		},
		{
			name:       "tombstones change nothing",
			records:    []rec{delivery("a", 1), state("a", 1), {deliveryKey("a", 1), nil}, delivery("a", 2)},
			writer:     "a",
			deliveries: []uint64{2},
		},
		{
			name:    "a covered delivery kept by compaction after its state is skipped",
			records: []rec{state("a", 5), delivery("a", 4)},
			writer:  "a",
		},
		{
			name:     "an expiry wins over the silence, in either order",
			records:  []rec{silenceRecord("s1", t0.Add(time.Hour)), silenceRecord("s1", t0), silenceRecord("s2", t0), silenceRecord("s2", t0.Add(time.Hour))},
			silences: map[string]time.Time{"s1": t0, "s2": t0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Replica
			for i, rc := range tt.records {
				var value []byte
				if rc.value != nil {
					var err error
					value, err = json.Marshal(rc.value)
					require.NoError(t, err)
				}
				require.NoError(t, r.Apply(rc.key, value, int64(i)))
			}
			require.Equal(t, int64(len(tt.records)), r.Offset)
			if tt.writer == "" {
				require.Nil(t, r.State)
			} else {
				require.Equal(t, tt.writer, r.State.Member)
			}
			var seqs []uint64
			for _, d := range r.Deliveries {
				seqs = append(seqs, d.Seq)
			}
			require.Equal(t, tt.deliveries, seqs)
			require.Len(t, r.Journal(), len(tt.deliveries))
			for id, ends := range tt.silences {
				require.True(t, r.Silences[id].EndsAt.Equal(ends), id)
			}
		})
	}
}

func TestReplicaRejectsUnknownRecords(t *testing.T) {
	var r Replica
	require.ErrorContains(t, r.Apply("bogus", []byte(`{}`), 7), `unknown key "bogus"`)
	require.ErrorContains(t, r.Apply(keyState, []byte(`{`), 8), "state record at offset 8")
	require.Equal(t, int64(9), r.Offset, "a bad record is skipped, not re-read")
}

func TestSeqOf(t *testing.T) {
	require.Equal(t, uint64(42), seqOf(deliveryKey("host/with/slash", 42)))
}

func TestSplitJoin(t *testing.T) {
	state := []byte(`{"version":2,"saved_at":"2026-12-04T10:00:00Z","alerts":[{"key":"ckafka_lag,group=a","level":2},{"key":"ckafka_lag,group=b/c","level":1}],` +
		`"sent":{"ckafka_lag,group=a":{"wecom-1":{"level":2}}},"pending":[],"queues":{"wecom-1":[{"next":0}]},"paced":{"wecom-1":["2026-12-04T10:00:00Z"]}}`)
	parts, err := Split(state)
	require.NoError(t, err)
	require.Contains(t, parts, "alerts/ckafka_lag,group=b/c", "a key with a slash stays whole")
	require.Contains(t, parts, "sent/ckafka_lag,group=a")
	require.Contains(t, parts, "queues/wecom-1")
	require.Contains(t, parts, "field/version")
	joined, err := Join(parts)
	require.NoError(t, err)
	require.JSONEq(t, string(state), string(joined))

	empty, err := Join(nil)
	require.NoError(t, err)
	require.JSONEq(t, `{"alerts":[]}`, string(empty))
}

func TestDiff(t *testing.T) {
	prev := map[string][]byte{"alerts/a": []byte(`1`), "alerts/b": []byte(`2`), "alerts/c": []byte(`3`)}
	next := map[string][]byte{"alerts/a": []byte(`1`), "alerts/b": []byte(`20`), "alerts/d": []byte(`4`)}
	changed, gone := diff(prev, next)
	require.Equal(t, map[string][]byte{"alerts/b": []byte(`20`), "alerts/d": []byte(`4`)}, changed)
	require.Equal(t, []string{"alerts/c"}, gone)
}

// Parts count only once their save's StateRecord is read: a member that
// died mid-save left parts nobody applies, and the next writer rewrites
// them (Baseline marks them).
func TestPartsCommitWithTheirState(t *testing.T) {
	var r Replica
	apply := func(key string, value string) {
		var v []byte
		if value != "" {
			v = []byte(value)
		}
		require.NoError(t, r.Apply(key, v, r.Offset))
	}
	stateRec, err := json.Marshal(StateRecord{Member: "a"})
	require.NoError(t, err)
	apply(keyPart+"alerts/x", `{"key":"x"}`)
	apply(keyPart+"alerts/y", `{"key":"y"}`)
	require.Nil(t, r.State)
	require.Empty(t, r.Parts, "not before the StateRecord")
	apply(keyState, string(stateRec))
	require.Len(t, r.Parts, 2)
	apply(keyPart+"alerts/y", "") // resolved
	apply(keyState, string(stateRec))
	require.Equal(t, []string{"alerts/x"}, keysOf(r.Parts))
	apply(keyPart+"alerts/z", `{"key":"z"}`) // the writer died here
	require.Equal(t, []string{"alerts/x"}, keysOf(r.Parts))

	var l Log
	l.Baseline(r.Clone())
	changed, gone := diff(l.parts, map[string][]byte{"alerts/x": []byte(`{"key":"x"}`)})
	require.Empty(t, changed)
	require.Equal(t, []string{"alerts/z"}, gone, "the orphan part is removed by the next save")
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
