package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/wecom"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/sim"
)

// TestRetentionPages: a consumer stopped 9 minutes behind on a topic that
// keeps 10 minutes. The real Telegraf with sample.conf's constants pages
// that unread messages will be deleted soon — before they are — and, once
// retention deleted some (DeleteRecords), that messages were lost, at once
// (repeat_interval is an hour: no reminder carries it). A second consumer
// stopped on a topic nobody produces to any more loses its backlog as
// surely: its page says when, too.
func TestRetentionPages(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ClusterID("ckafka-ret01"), kfake.SeedTopics(1, "events", "ledger"))
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	_, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("600000")}}, "events", "ledger")
	require.NoError(t, err)
	old := time.Now().Add(-9 * time.Minute)
	for range 100 {
		cl.Produce(ctx, &kgo.Record{Topic: "events", Value: []byte("x"), Timestamp: old}, nil)
		cl.Produce(ctx, &kgo.Record{Topic: "ledger", Value: []byte("x"), Timestamp: old}, nil)
	}
	require.NoError(t, cl.Flush(ctx))
	var commit kadm.Offsets
	commit.AddOffset("events", 0, 10, -1)
	_, err = adm.CommitOffsets(ctx, "audit", commit)
	require.NoError(t, err)
	var archived kadm.Offsets
	archived.AddOffset("ledger", 0, 10, -1)
	_, err = adm.CommitOffsets(ctx, "archive", archived)
	require.NoError(t, err)
	// Producers go on; the consumer does not.
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				cl.Produce(ctx, &kgo.Record{Topic: "events", Value: []byte("y")}, nil)
			}
		}
	}()

	confDir := kafkaConfDir(t, cluster.ListenAddrs())
	p := startPipeline(t, sim.Settings{
		Interval: "2s", FlushInterval: "1s", GroupWait: "1s", RepeatInterval: "1h",
		StaleAfter: "10m", RestartDelay: "1s", Language: "en", ConfDir: confDir,
	}, nil, func(*sim.Sim) {})
	robot := p.sim.Robot

	soon, _ := awaitLine(t, robot, 40*time.Second, titleAlert, "group audit topic events")
	require.Contains(t, soon.Content, "unread messages start being deleted in ")
	require.Contains(t, soon.Content, "CRITICAL")
	require.Contains(t, soon.Content, "(retention 10m)")
	require.Contains(t, soon.Content, "before deletion)", "the headroom threshold fired, not the count")
	// Nothing is produced to ledger: its stopped consumer loses the
	// backlog all the same, in exactly the headroom.
	idle := lineAbout(t, robot, titleAlert, "group archive topic ledger")
	require.Contains(t, idle, "unread messages start being deleted in ")

	// Retention deletes the oldest unread messages.
	var del kadm.Offsets
	del.AddOffset("events", 0, 50, -1)
	_, err = adm.DeleteRecords(ctx, del)
	require.NoError(t, err)
	deleted := time.Now()
	lost, _ := awaitLine(t, robot, 30*time.Second, titleAlert, "40 messages already lost to retention")
	require.Contains(t, lost.Content, "group audit topic events")
	t.Logf("DeleteRecords → \"messages already lost\" message: %s (interval 2s, repeat_interval 1h)", time.Since(deleted).Round(10*time.Millisecond))
}

// lineAbout waits for a robot message titled title with a line containing
// s, and returns that line.
func lineAbout(t *testing.T, r *wecom.Robot, title, s string) string {
	t.Helper()
	var found string
	require.Eventually(t, func() bool {
		for _, m := range r.Messages() {
			if m.Title() != title {
				continue
			}
			for line := range strings.Lines(m.Content) {
				if strings.Contains(line, s) {
					found = line
					return true
				}
			}
		}
		return false
	}, 40*time.Second, 50*time.Millisecond, "a message titled %q with a line about %q", title, s)
	return found
}
