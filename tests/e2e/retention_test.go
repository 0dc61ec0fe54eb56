package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/sim"
)

// TestRetentionPages: a consumer stopped 9 minutes behind on a topic that
// keeps 10 minutes. The real Telegraf with sample.conf's constants pages
// that unread messages will be deleted soon — before they are — and, once
// retention deleted some (DeleteRecords), that messages were lost.
func TestRetentionPages(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ClusterID("ckafka-ret01"), kfake.SeedTopics(1, "events"))
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	_, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("600000")}}, "events")
	require.NoError(t, err)
	old := time.Now().Add(-9 * time.Minute)
	for range 100 {
		cl.Produce(ctx, &kgo.Record{Topic: "events", Value: []byte("x"), Timestamp: old}, nil)
	}
	require.NoError(t, cl.Flush(ctx))
	var commit kadm.Offsets
	commit.AddOffset("events", 0, 10, -1)
	_, err = adm.CommitOffsets(ctx, "audit", commit)
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
		Interval: "2s", FlushInterval: "1s", GroupWait: "1s", RepeatInterval: "4s",
		StaleAfter: "10m", RestartDelay: "1s", Language: "en", ConfDir: confDir,
	}, nil, func(*sim.Sim) {})
	robot := p.sim.Robot

	soon, _ := awaitLine(t, robot, 40*time.Second, titleAlert, "unread messages start being deleted in ")
	require.Contains(t, soon.Content, "group audit topic events")
	require.Contains(t, soon.Content, "CRITICAL")
	require.Contains(t, soon.Content, "(retention 10m)")
	require.Contains(t, soon.Content, "before deletion)", "the headroom threshold fired, not the count")

	// Retention deletes the oldest unread messages.
	var del kadm.Offsets
	del.AddOffset("events", 0, 50, -1)
	_, err = adm.DeleteRecords(ctx, del)
	require.NoError(t, err)
	lost, _ := awaitLine(t, robot, 40*time.Second, titleAlert, "40 messages already lost to retention")
	require.Contains(t, lost.Content, "group audit topic events")
}
