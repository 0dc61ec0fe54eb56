package ckafka_lag

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/kafkaconn"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
)

const kafkaCluster = "ckafka-kfake01"

// kafkaEnv is a kfake cluster (three brokers) with two topics: orders (3
// partitions, 10 records each, appended one a second from t0) and payments
// (2 partitions, empty).
type kafkaEnv struct {
	cluster *kfake.Cluster
	addrs   []string
	t0      time.Time
	client  *kgo.Client // a superuser client for setting the scene
	admin   *kadm.Client
}

func startKafka(t *testing.T, clientOpts []kgo.Opt, opts ...kfake.Opt) *kafkaEnv {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(3), kfake.ClusterID(kafkaCluster),
		kfake.SeedTopics(3, "orders"), kfake.SeedTopics(2, "payments")}, opts...)
	c, err := kfake.NewCluster(opts...)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	e := &kafkaEnv{cluster: c, addrs: c.ListenAddrs(), t0: time.Now().Add(-100 * time.Second).Truncate(time.Millisecond)}
	e.client, err = kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(e.addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner())}, clientOpts...)...)
	require.NoError(t, err)
	t.Cleanup(e.client.Close)
	e.admin = kadm.NewClient(e.client)
	ctx := context.Background()
	for p := range int32(3) {
		for i := range 10 {
			r := &kgo.Record{Topic: "orders", Partition: p, Value: []byte("x"), Timestamp: e.t0.Add(time.Duration(i) * time.Second)}
			require.NoError(t, e.client.ProduceSync(ctx, r).FirstErr())
		}
	}
	return e
}

// commit sets a group's committed offsets without members, as an admin
// tool would.
func (e *kafkaEnv) commit(t *testing.T, group string, offsets map[string]map[int32]int64) {
	t.Helper()
	var os kadm.Offsets
	for topic, parts := range offsets {
		for p, at := range parts {
			os.AddOffset(topic, p, at, -1)
		}
	}
	resp, err := e.admin.CommitOffsets(context.Background(), group, os)
	require.NoError(t, err)
	require.NoError(t, resp.Error())
}

func newKafkaPlugin(t *testing.T, e *kafkaEnv, modify ...func(*CKafkaLag)) *CKafkaLag {
	t.Helper()
	p := New()
	p.Source = "kafka"
	p.Brokers = e.addrs
	p.Timeout = config.Duration(5 * time.Second)
	p.Log = testutil.Logger{}
	for _, m := range modify {
		m(p)
	}
	require.NoError(t, p.Init())
	t.Cleanup(p.kafka.close)
	return p
}

func kafkaLag(acc *testutil.Accumulator) map[string]map[string]interface{} {
	out := map[string]map[string]interface{}{}
	for _, m := range byName(acc, "ckafka_lag") {
		out[m.Tags()["group"]+"/"+m.Tags()["topic"]] = m.Fields()
	}
	return out
}

func TestKafkaSource(t *testing.T) {
	e := startKafka(t, nil)
	e.commit(t, "billing", map[string]map[int32]int64{"orders": {0: 5, 1: 10}})
	e.commit(t, "search", map[string]map[int32]int64{"orders": {0: 10, 1: 10, 2: 10}, "payments": {0: 0}})
	e.commit(t, "test-ignored", map[string]map[int32]int64{"orders": {0: 0}})

	// A group with a member online.
	live, err := kgo.NewClient(kgo.SeedBrokers(e.addrs...), kgo.ConsumerGroup("live"), kgo.ConsumeTopics("payments"))
	require.NoError(t, err)
	defer live.Close()
	require.Eventually(t, func() bool {
		d, err := e.admin.DescribeGroups(context.Background(), "live")
		return err == nil && d["live"].State == "Stable"
	}, 10*time.Second, 50*time.Millisecond)

	p := newKafkaPlugin(t, e, func(p *CKafkaLag) { p.ExcludeGroups = []string{"test-*"}; p.InstanceName = "kfake" })
	acc := gather(t, p)
	require.Empty(t, acc.Errors)

	lags := kafkaLag(acc)
	require.Len(t, lags, 3, "billing/orders, search/orders, search/payments: %v", lags)
	b := lags["billing/orders"]
	require.Equal(t, int64(5), b["lag"])
	require.Equal(t, int64(3), b["partitions"])
	require.Equal(t, int64(1), b["uncommitted_partitions"])
	require.Equal(t, int64(30), b["log_end_offset"])
	require.Equal(t, "Empty", b["group_state"])
	require.Equal(t, int64(0), b["group_members"])
	require.NotContains(t, b, "lag_seconds", "estimate: nothing earlier to bound it")
	require.Equal(t, int64(0), lags["search/payments"]["lag"])
	require.Equal(t, 0.0, lags["search/payments"]["lag_seconds"])

	ms := byName(acc, "ckafka_lag")
	require.Equal(t, map[string]string{"instance_id": kafkaCluster, "instance_name": "kfake", "group": "billing", "topic": "orders"},
		tagsOf(ms, "billing"), "no region tag without region")
	groups := map[string]telegraf.Metric{}
	for _, m := range byName(acc, "ckafka_group_lag") {
		groups[m.Tags()["group"]] = m
	}
	require.Contains(t, groups, "live", "a group with members and no commits is still a group")
	require.Equal(t, "Stable", groups["live"].Fields()["state"])
	require.Equal(t, int64(1), groups["live"].Fields()["members"])

	g := gatherFields(acc)
	require.Equal(t, int64(3), g["groups"])
	require.Greater(t, g["requests"], int64(3))
	require.Equal(t, int64(0), g["api_errors"])
	require.Equal(t, int64(0), g["time_lag_fallbacks"])
	require.Equal(t, map[string]string{"instance_id": kafkaCluster}, byName(acc, "ckafka_lag_gather")[0].Tags())
}

func tagsOf(ms []telegraf.Metric, group string) map[string]string {
	for _, m := range ms {
		if m.Tags()["group"] == group {
			return m.Tags()
		}
	}
	return nil
}

func TestKafkaExactTimeLag(t *testing.T) {
	e := startKafka(t, nil)
	// Two groups on the same partition at different offsets need two reads.
	e.commit(t, "billing", map[string]map[int32]int64{"orders": {0: 5, 1: 10, 2: 2}})
	e.commit(t, "audit", map[string]map[int32]int64{"orders": {0: 7, 1: 10, 2: 10}})
	p := newKafkaPlugin(t, e, func(p *CKafkaLag) { p.TimeLag = "exact"; p.PartitionMetrics = true })
	start := time.Now()
	acc := gather(t, p)
	end := time.Now()
	require.Empty(t, acc.Errors)
	lags := kafkaLag(acc)
	// billing's oldest unconsumed record is orders/2 at offset 2, appended
	// at t0+2s; the age is taken during the collection, however long it
	// took (record timestamps are in milliseconds).
	within := func(appended time.Time, got any) {
		t.Helper()
		require.GreaterOrEqual(t, got, start.Sub(appended).Seconds()-0.001)
		require.LessOrEqual(t, got, end.Sub(appended).Seconds()+0.001)
	}
	within(e.t0.Add(2*time.Second), lags["billing/orders"]["lag_seconds"])
	within(e.t0.Add(7*time.Second), lags["audit/orders"]["lag_seconds"])
	for _, m := range byName(acc, "ckafka_partition_lag") {
		if m.Tags()["group"] == "billing" && m.Tags()["partition"] == "1" {
			require.Equal(t, 0.0, m.Fields()["lag_seconds"], "caught up")
		}
	}
	require.Equal(t, int64(0), gatherFields(acc)["time_lag_fallbacks"])
}

func TestKafkaExactFallsBackToTheEstimate(t *testing.T) {
	e := startKafka(t, nil)
	e.commit(t, "billing", map[string]map[int32]int64{"orders": {0: 5}})
	p := newKafkaPlugin(t, e, func(p *CKafkaLag) { p.TimeLag = "exact"; p.Timeout = config.Duration(time.Second) })
	// Every fetch fails: the record cannot be read.
	failFetch(e.cluster)
	acc := gather(t, p)
	require.Equal(t, int64(1), gatherFields(acc)["time_lag_fallbacks"])
	require.NotContains(t, kafkaLag(acc)["billing/orders"], "lag_seconds", "the estimate knows nothing yet")
}

// failFetch answers every Fetch with an error for each partition.
func failFetch(c *kfake.Cluster) {
	c.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		fr := req.(*kmsg.FetchRequest)
		resp := fr.ResponseKind().(*kmsg.FetchResponse)
		for _, rt := range fr.Topics {
			st := kmsg.NewFetchResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.KafkaStorageError.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
}

func TestKafkaCoordinatorLoadingIsReportedOthersEmitted(t *testing.T) {
	e := startKafka(t, nil)
	e.commit(t, "billing", map[string]map[int32]int64{"orders": {0: 5}})
	e.commit(t, "search", map[string]map[int32]int64{"orders": {0: 10}})
	p := newKafkaPlugin(t, e)
	failOffsetFetch(e.cluster, "search", kerr.CoordinatorLoadInProgress)
	acc := gather(t, p)
	require.NotEmpty(t, acc.Errors)
	require.Contains(t, acc.Errors[0].Error(), `group "search": OffsetFetch`)
	require.Contains(t, acc.Errors[0].Error(), "coordinator is loading")
	require.Contains(t, kafkaLag(acc), "billing/orders")
	require.NotContains(t, kafkaLag(acc), "search/orders")
	g := gatherFields(acc)
	require.Equal(t, "COORDINATOR_LOAD_IN_PROGRESS", g["last_error"])
	require.Equal(t, int64(1), g["failed_groups"])
	require.Equal(t, int64(1), g["groups"])
}

// TestKafkaBrokersGone: the brokers stop after a good collection; the next
// one reports what failed and that both groups are unknown.
func TestKafkaBrokersGone(t *testing.T) {
	e := startKafka(t, nil)
	e.commit(t, "billing", map[string]map[int32]int64{"orders": {0: 5}})
	e.commit(t, "search", map[string]map[int32]int64{"orders": {0: 10}})
	p := newKafkaPlugin(t, e, func(p *CKafkaLag) { p.Timeout = config.Duration(time.Second) })
	g := gatherFields(gather(t, p))
	require.Equal(t, int64(0), g["failed_groups"])
	require.NotContains(t, g, "last_error")
	e.cluster.Close()
	g = gatherFields(gather(t, p))
	require.Equal(t, int64(2), g["failed_groups"])
	require.Equal(t, int64(0), g["groups"])
	require.Contains(t, []any{"ConnectionRefused", "ConnectionClosed", "Timeout", "NetworkError"}, g["last_error"])
}

func TestKafkaUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	p := New()
	p.Source, p.Brokers, p.InstanceID, p.Timeout, p.Log = "kafka", []string{addr}, "ckafka-x", config.Duration(time.Second), testutil.Logger{}
	require.NoError(t, p.Init())
	defer p.kafka.close()
	acc := gather(t, p)
	require.NotEmpty(t, acc.Errors)
	require.Contains(t, acc.Errors[0].Error(), "brokers "+addr)
	require.Equal(t, int64(1), gatherFields(acc)["api_errors"])
	require.Contains(t, []any{"ConnectionRefused", "Timeout", "NetworkError"}, gatherFields(acc)["last_error"])
}

func TestKafkaSASL(t *testing.T) {
	const user, password = "ckafka-abcd1234#monitor", "monitor-password-never-logged"
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			e := startKafka(t, []kgo.Opt{saslOpt(t, mech, user, password)}, kfake.EnableSASL(), kfake.Superuser(mech, user, password))
			e.commit(t, "billing", map[string]map[int32]int64{"orders": {0: 5}})
			p := newKafkaPlugin(t, e, func(p *CKafkaLag) {
				p.SASLMechanism, p.SASLUsername, p.SASLPassword = mech, user, config.NewSecret([]byte(password))
			})
			acc := gather(t, p)
			require.Empty(t, acc.Errors)
			require.Equal(t, int64(5), kafkaLag(acc)["billing/orders"]["lag"])

			bad := newKafkaPlugin(t, e, func(p *CKafkaLag) {
				p.SASLMechanism, p.SASLUsername, p.SASLPassword = mech, "monitor", config.NewSecret([]byte("wrong-password-not-logged"))
				p.InstanceID = "ckafka-abcd1234"
				p.Timeout = config.Duration(2 * time.Second)
			})
			// kfake closes the connection on bad credentials.
			acc = gather(t, bad)
			require.NotEmpty(t, acc.Errors)
			msg := acc.Errors[0].Error()
			require.Contains(t, msg, `SASL `+mech+` as user "monitor" failed`)
			require.Contains(t, msg, "instanceId#user")
			require.NotContains(t, msg, "wrong-password-not-logged")

			// A broker that answers with the error code, as Kafka does.
			e.cluster.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
				e.cluster.KeepControl()
				resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
				resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
				msg := "Authentication failed: Invalid username or password"
				resp.ErrorMessage = &msg
				return resp, nil, true
			})
			acc = gather(t, bad)
			require.NotEmpty(t, acc.Errors)
			msg = acc.Errors[0].Error()
			require.Contains(t, msg, `SASL `+mech+` as user "monitor" failed: `)
			require.Contains(t, msg, "SASL_AUTHENTICATION_FAILED")
			require.Contains(t, msg, "instanceId#user")
		})
	}
}

func saslOpt(t *testing.T, mech, user, password string) kgo.Opt {
	m, err := kafkaconn.SASL(mech, user, password)
	require.NoError(t, err)
	return kgo.SASL(m)
}

func TestKafkaTLS(t *testing.T) {
	cert, caPEM, err := testkit.SelfSignedCert()
	require.NoError(t, err)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, caPEM, 0o600))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	clientTLS := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	e := startKafka(t, []kgo.Opt{kgo.DialTLSConfig(clientTLS)}, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	e.commit(t, "billing", map[string]map[int32]int64{"orders": {0: 5}})

	p := newKafkaPlugin(t, e, func(p *CKafkaLag) { p.TLSCA = caFile })
	acc := gather(t, p)
	require.Empty(t, acc.Errors)
	require.Equal(t, int64(5), kafkaLag(acc)["billing/orders"]["lag"])

	enable := true
	unverified := newKafkaPlugin(t, e, func(p *CKafkaLag) {
		p.ClientConfig.Enable = &enable
		p.Timeout = config.Duration(2 * time.Second)
		p.InstanceID = "ckafka-x"
	})
	acc = gather(t, unverified)
	require.NotEmpty(t, acc.Errors, "verification stays on without the CA")
	require.Contains(t, acc.Errors[0].Error(), "certificate")
}

func TestKafkaConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*CKafkaLag)
		want   string
	}{
		{"brokers with cloudapi", func(p *CKafkaLag) { p.Region = "ap-guangzhou"; p.Brokers = []string{"b:9092"} },
			`brokers is a key of source "kafka", not of source "cloudapi"`},
		{"secret_id with kafka", func(p *CKafkaLag) { p.Source = "kafka"; p.Brokers = []string{"b:9092"}; p.SecretID = "AKID" },
			`secret_id is a key of source "cloudapi", not of source "kafka"`},
		{"rate_limit with kafka", func(p *CKafkaLag) {
			p.Source = "kafka"
			p.Brokers = []string{"b:9092"}
			p.RateLimit = RateLimit{Fixed: 20}
		},
			`rate_limit is a key of source "cloudapi"`},
		{"no brokers", func(p *CKafkaLag) { p.Source = "kafka" }, "brokers is required"},
		{"broker without port", func(p *CKafkaLag) { p.Source = "kafka"; p.Brokers = []string{"b"} }, "brokers[0]"},
		{"time_lag", func(p *CKafkaLag) { p.Source = "kafka"; p.Brokers = []string{"b:9092"}; p.TimeLag = "precise" }, "time_lag"},
		{"sasl without mechanism", func(p *CKafkaLag) { p.Source = "kafka"; p.Brokers = []string{"b:9092"}; p.SASLUsername = "u" }, "sasl_mechanism"},
		{"sasl mechanism", func(p *CKafkaLag) {
			p.Source = "kafka"
			p.Brokers = []string{"b:9092"}
			p.SASLMechanism, p.SASLUsername = "GSSAPI", "u"
		}, "sasl_mechanism"},
		{"source", func(p *CKafkaLag) { p.Source = "zookeeper" }, "source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New()
			tt.modify(p)
			require.ErrorContains(t, p.Init(), tt.want)
		})
	}
}

func TestKafkaACLDenials(t *testing.T) {
	e := startKafka(t, nil)
	e.commit(t, "billing", map[string]map[int32]int64{"orders": {0: 5}})
	e.commit(t, "search", map[string]map[int32]int64{"orders": {0: 10}})
	p := newKafkaPlugin(t, e)

	failOffsetFetch(e.cluster, "billing", kerr.GroupAuthorizationFailed)
	acc := gather(t, p)
	require.Len(t, acc.Errors, 1)
	require.Contains(t, acc.Errors[0].Error(), `group "billing": OffsetFetch`)
	require.Contains(t, acc.Errors[0].Error(), "the ACL denies Describe/Read on this group to this client (no SASL)")
	require.Contains(t, kafkaLag(acc), "search/orders", "the other groups are emitted")

	e.cluster.ControlKey(int16(kmsg.ListGroups), func(req kmsg.Request) (kmsg.Response, error, bool) {
		e.cluster.KeepControl()
		resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil, true
	})
	acc = gather(t, p)
	require.NotEmpty(t, acc.Errors)
	require.Contains(t, acc.Errors[0].Error(), "the ACL denies Describe on the cluster (ListGroups)")
}

// failOffsetFetch answers OffsetFetch for group with the error code; other
// groups are answered by the cluster.
func failOffsetFetch(c *kfake.Cluster, group string, code *kerr.Error) {
	c.ControlKey(int16(kmsg.OffsetFetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.OffsetFetchRequest)
		resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
		for _, g := range r.Groups {
			if g.Group != group {
				return nil, nil, false
			}
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group, rg.ErrorCode = g.Group, code.Code
			resp.Groups = append(resp.Groups, rg)
		}
		return resp, nil, true
	})
}
