package wecom_sms_mail

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/cluster"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/engine"
)

// The files in testdata/459f010 were written by that version (its own
// plugin, a fake robot and kfake): a stand-alone state file with one
// delivered critical alert, its journal and silence file, and the cluster
// topic of an HA pair's active member holding the same, plus a silence.
const (
	billingKey = "ckafka_lag,group=billing,instance_id=ckafka-1,instance_name=prod,region=ap-guangzhou,topic=orders"
	// oldRobot is the robot 459f010 delivered to: a destination of its own
	// (the test's robot listens elsewhere).
	oldRobot = "wecom robot 1 (127.0.0.1:42555, key ***5aaa)"
)

func TestReadsTheStateFileOf459f010(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"state.json", "state.json.journal", "state.json.silences"} {
		data, err := os.ReadFile(filepath.Join("testdata", "459f010", "standalone", name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	}
	e := newEnv(t)
	p := e.plugin(t, func(p *WeComSMSMail) {
		p.StateFile = filepath.Join(dir, "state.json")
		p.StaleAfter = 0
		p.SMS, p.Email = nil, nil
	})

	firing := p.engine.Firing()
	require.Len(t, firing, 1)
	require.Equal(t, billingKey, firing[0].Key)
	require.Equal(t, alert.LevelCritical, firing[0].Level)
	entry := p.engine.DispatchState().Sent[billingKey][oldRobot]
	require.NotNil(t, entry, "the delivery 459f010 recorded")
	require.False(t, entry.Delivered.IsZero())
	ss := p.parts.silences.List()
	require.Len(t, ss, 1)
	require.Equal(t, "459f010", ss[0].Comment)
	require.True(t, ss.Silenced(map[string]string{"group": "search"}, time.Now()))

	require.NoError(t, p.Close())
	s, _, err := engine.ReadState(p.StateFile, time.Now())
	require.NoError(t, err)
	require.Len(t, s.Alerts, 1, "saved again in the same format")
}

func TestTakesOverATopicOf459f010(t *testing.T) {
	var records []struct {
		Key   string `json:"key"`
		Value []byte `json:"value"`
	}
	data, err := os.ReadFile(filepath.Join("testdata", "459f010", "cluster-topic.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &records))
	require.NotEmpty(t, records)

	e := newPairEnv(t)
	client, err := kgo.NewClient(kgo.SeedBrokers(e.kafka.ListenAddrs()...))
	require.NoError(t, err)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	compact := "compact"
	_, err = kadm.NewClient(client).CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": &compact}, cluster.DefaultName)
	require.NoError(t, err)
	for _, r := range records {
		require.NoError(t, client.ProduceSync(ctx, &kgo.Record{Topic: cluster.DefaultName, Key: []byte(r.Key), Value: r.Value}).FirstErr())
	}

	b, log := e.member(t, "host-b", func(p *WeComSMSMail) { p.StaleAfter = config.Duration(0) })
	// The takeover names the member that wrote the log and what it restored.
	require.Eventually(t, func() bool {
		for _, m := range log.Messages() {
			if strings.HasPrefix(m.Text, "Cluster: active (took over from host-a; 1 firing alert(s)") {
				return true
			}
		}
		return false
	}, 20*time.Second, 10*time.Millisecond)
	firing := b.engine.Firing()
	require.Len(t, firing, 1)
	require.Equal(t, billingKey, firing[0].Key)
	require.NotNil(t, b.engine.DispatchState().Sent[billingKey][oldRobot], "the delivery host-a recorded")
	require.Eventually(t, func() bool {
		b.parts.silences.Refresh(time.Now())
		ss := b.parts.silences.List()
		return len(ss) == 1 && ss[0].Comment == "459f010"
	}, 10*time.Second, 20*time.Millisecond, "the replicated silence reaches this host's file")
}
