package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
)

// startKfake is a three-broker kfake cluster with SASL PLAIN: topic orders
// (3 partitions, 10 records each), group billing committed at 5 on
// partition 0.
func startKfake(t *testing.T) (brokers string, cl *kgo.Client) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.ClusterID("ckafka-bin01"), kfake.SeedTopics(3, "orders"),
		kfake.EnableSASL(), kfake.Superuser("PLAIN", "ckafka-bin01#monitor", "kafka-password-do-not-print"))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	m, err := kfakePlain()
	require.NoError(t, err)
	cl, err = kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.SASL(m), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	ctx := context.Background()
	for p := range int32(3) {
		for range 10 {
			require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Partition: p, Value: []byte("x")}).FirstErr())
		}
	}
	var os kadm.Offsets
	os.AddOffset("orders", 0, 5, -1)
	_, err = kadm.NewClient(cl).CommitOffsets(ctx, "billing", os)
	require.NoError(t, err)
	return strings.Join(c.ListenAddrs(), `", "`), cl
}

func kafkaConfig(t *testing.T, brokers, extra string) string {
	t.Helper()
	conf := `[[inputs.ckafka_lag]]
  source = "kafka"
  brokers = ["` + brokers + `"]
  instance_name = "bin"
  sasl_mechanism = "PLAIN"
  sasl_username = "ckafka-bin01#monitor"
  sasl_password = "${TEST_KAFKA_PASSWORD}"
  timeout = "5s"
` + extra
	p, err := testkit.WriteFile(t.TempDir(), "ckafka_lag.conf", conf)
	require.NoError(t, err)
	return p
}

func kafkaCommand(conf string, args ...string) *exec.Cmd {
	cmd := exec.Command(binary, append([]string{"-config", conf}, args...)...)
	cmd.Env = append(os.Environ(), "TEST_KAFKA_PASSWORD=kafka-password-do-not-print")
	return cmd
}

func TestKafkaOnce(t *testing.T) {
	brokers, _ := startKfake(t)
	stdout, stderr, code := runOnce(t, kafkaCommand(kafkaConfig(t, brokers, `  time_lag = "exact"`+"\n"), "-once"))
	require.Equal(t, 0, code, stderr)
	ms, err := testkit.ParseLines([]byte(stdout))
	require.NoError(t, err)
	lags := testkit.Select(ms, "ckafka_lag")
	require.Len(t, lags, 1)
	require.Equal(t, map[string]string{"instance_id": "ckafka-bin01", "instance_name": "bin", "group": "billing", "topic": "orders"}, lags[0].Tags)
	require.Equal(t, int64(5), lags[0].Fields["lag"])
	require.Contains(t, lags[0].Fields, "lag_seconds", "exact: known on the first collection")
	gather := testkit.Select(ms, "ckafka_lag_gather")
	require.Len(t, gather, 1)
	require.Equal(t, int64(0), gather[0].Fields["api_errors"])
	require.Equal(t, int64(0), gather[0].Fields["time_lag_fallbacks"])
	require.NotContains(t, stdout+stderr, "kafka-password-do-not-print")
}

func TestKafkaOnceWrongPasswordExitsNonZero(t *testing.T) {
	brokers, _ := startKfake(t)
	cmd := kafkaCommand(kafkaConfig(t, brokers, `  instance_id = "ckafka-bin01"`+"\n"), "-once")
	cmd.Env = append(cmd.Env, "TEST_KAFKA_PASSWORD=wrong-password-do-not-print")
	_, stderr, code := runOnce(t, cmd)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, `E! Error in plugin: brokers`)
	require.Contains(t, stderr, `SASL PLAIN as user "ckafka-bin01#monitor" failed`)
	require.NotContains(t, stderr, "do-not-print")
}

func TestKafkaConfigNamesTheOtherSourcesKey(t *testing.T) {
	conf := kafkaConfig(t, "127.0.0.1:9092", `  secret_id = "AKID"`+"\n")
	_, stderr, code := runOnce(t, kafkaCommand(conf, "-once"))
	require.Equal(t, 1, code)
	require.Contains(t, stderr, `secret_id is a key of source "cloudapi", not of source "kafka"`)
}

// TestKafkaShim: under the shim, a line on stdin per collection; the
// second collection knows rates from the first.
func TestKafkaShim(t *testing.T) {
	brokers, cl := startKfake(t)
	cmd := kafkaCommand(kafkaConfig(t, brokers, ""), "-poll_interval_disabled")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := testkit.NewSyncBuffer()
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := bufio.NewScanner(stdout)
	collect := func() testkit.Metric {
		_, err := io.WriteString(stdin, "\n")
		require.NoError(t, err)
		var lag testkit.Metric
		for lines.Scan() {
			ms, err := testkit.ParseLines(append(lines.Bytes(), '\n'))
			require.NoError(t, err)
			switch ms[0].Name {
			case "ckafka_lag":
				lag = ms[0]
			case "ckafka_lag_gather":
				return lag
			}
		}
		t.Fatalf("stdout ended; stderr: %s", stderr.String())
		return lag
	}
	first := collect()
	require.NotContains(t, first.Fields, "produce_rate")
	for range 5 {
		require.NoError(t, cl.ProduceSync(context.Background(), &kgo.Record{Topic: "orders", Partition: 0, Value: []byte("y")}).FirstErr())
	}
	time.Sleep(200 * time.Millisecond)
	second := collect()
	require.Greater(t, second.Fields["produce_rate"], 0.0)
	require.Equal(t, int64(10), second.Fields["lag"])
	require.Contains(t, second.Fields, "lag_seconds")
	require.NoError(t, stdin.Close())
	require.NoError(t, cmd.Wait(), stderr.String())
}

func kfakePlain() (sasl.Mechanism, error) {
	return plain.Auth{User: "ckafka-bin01#monitor", Pass: "kafka-password-do-not-print"}.AsMechanism(), nil
}
