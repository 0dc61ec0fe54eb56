package ckafka_lag

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/influxdata/telegraf/testutil"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/execd"
)

// FuzzGroupOffsetsAnswer decodes any bytes as a DescribeGroupOffsets
// answer and computes lag and time lag from it: never a panic.
func FuzzGroupOffsetsAnswer(f *testing.F) {
	f.Add([]byte(`{"Response":{"Result":{"TotalCount":1,"TopicList":[{"Topic":"t","Partitions":[{"Partition":0,"Offset":5,"LogEndOffset":10,"Lag":5},{"Partition":1,"Offset":-1,"Lag":0}]}]}}}`))
	f.Add([]byte(`{"Response":{"Result":{"TopicList":[{"Topic":"t","Partitions":[{"Partition":0,"Offset":9223372036854775807,"LogEndOffset":-9223372036854775808}]}]}}}`))
	f.Add([]byte(`{"Response":{"Error":{"Code":"InternalError","Message":"x"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var resp describeGroupOffsetsResponse
		if json.Unmarshal(data, &resp) != nil {
			return
		}
		tr := newTimeTracker(TimeSettings{Window: time.Hour, MaxSamples: 8, StallIntervals: 2})
		for i, topic := range resp.Response.Result.TopicList {
			parts := make([]PartitionOffset, len(topic.Partitions))
			for j, p := range topic.Partitions {
				parts[j] = PartitionOffset{Partition: p.Partition, Committed: p.Offset, LogEnd: p.LogEndOffset, APILag: p.Lag}
			}
			lag := CalculateTopicLag(topic.Topic, parts, true)
			at := time.Unix(int64(1_800_000_000+i), 0)
			tr.observe("i", "g", lag, parts, at, at)
			tr.observe("i", "g", lag, parts, at.Add(time.Second), at)
		}
	})
}

// FuzzConfig loads any bytes as the input's config and initializes it.
func FuzzConfig(f *testing.F) {
	f.Add([]byte("[[inputs.ckafka_lag]]\n  region = \"ap-guangzhou\"\n"))
	f.Add([]byte("[[inputs.ckafka_lag]]\n  source = \"kafka\"\n  brokers = [\"127.0.0.1:9092\"]\n  sasl_mechanism = \"PLAIN\"\n  sasl_username = \"u\"\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, conf []byte) {
		path := filepath.Join(dir, "c.conf")
		if err := os.WriteFile(path, conf, 0o600); err != nil {
			t.Skip()
		}
		p := New()
		p.Log = testutil.Logger{Quiet: true}
		if execd.LoadPlugin(path, "inputs", "ckafka_lag", p) == nil && p.Init() == nil && p.kafka != nil {
			p.kafka.close()
		}
	})
}
