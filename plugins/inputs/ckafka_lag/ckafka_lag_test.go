package ckafka_lag

import (
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/ckafka"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/tcapi"
)

const (
	testSecretID  = "AKIDtestsecretid0000000000000000"
	testSecretKey = "test-secret-key-never-logged-42"
)

func newFake(t *testing.T) (*ckafka.Fake, string) {
	t.Helper()
	fake := ckafka.New(map[string]string{testSecretID: testSecretKey})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, srv.URL
}

func newPlugin(t *testing.T, endpoint string, modify ...func(*CKafkaLag)) *CKafkaLag {
	t.Helper()
	p := New()
	p.Region = "ap-guangzhou"
	p.Endpoint = endpoint
	p.SecretID = testSecretID
	p.SecretKey = config.NewSecret([]byte(testSecretKey))
	p.Timeout = config.Duration(2 * time.Second)
	p.RateLimit = RateLimit{Fixed: 1000}
	p.Log = testutil.Logger{}
	for _, m := range modify {
		m(p)
	}
	require.NoError(t, p.Init())
	return p
}

func gather(t *testing.T, p *CKafkaLag) *testutil.Accumulator {
	t.Helper()
	var acc testutil.Accumulator
	require.NoError(t, p.Gather(&acc))
	return &acc
}

func lagMetric(instance, name, group, topic string, fields map[string]interface{}) telegraf.Metric {
	tags := map[string]string{"region": "ap-guangzhou", "instance_id": instance, "group": group, "topic": topic}
	if name != "" {
		tags["instance_name"] = name
	}
	return metric.New("ckafka_lag", tags, fields, time.Unix(0, 0))
}

func groupMetric(instance, name, group string, lag, maxLag, topics int64) telegraf.Metric {
	tags := map[string]string{"region": "ap-guangzhou", "instance_id": instance, "group": group}
	if name != "" {
		tags["instance_name"] = name
	}
	fields := map[string]interface{}{
		"lag": lag, "max_partition_lag": maxLag, "topics": topics, "stalled": false, "state": "Stable", "members": int64(1)}
	if lag == 0 {
		fields["lag_seconds"] = 0.0
	}
	return metric.New("ckafka_group_lag", tags, fields, time.Unix(0, 0))
}

// topicFields are the fields of a first collection: no rates yet, lag in
// seconds only when there is no lag, a Stable group with one member.
func topicFields(lag, maxLag, partitions, uncommitted, committed, logEnd int64) map[string]interface{} {
	fields := map[string]interface{}{
		"lag": lag, "max_partition_lag": maxLag, "partitions": partitions,
		"uncommitted_partitions": uncommitted, "committed_offset": committed, "log_end_offset": logEnd,
		"stalled": false, "group_state": "Stable", "group_members": int64(1),
	}
	if lag == 0 {
		fields["lag_seconds"] = 0.0
	}
	return fields
}

func byName(acc *testutil.Accumulator, names ...string) []telegraf.Metric {
	var out []telegraf.Metric
	for _, m := range acc.GetTelegrafMetrics() {
		for _, n := range names {
			if m.Name() == n {
				out = append(out, m)
			}
		}
	}
	return out
}

func gatherFields(acc *testutil.Accumulator) map[string]interface{} {
	ms := byName(acc, "ckafka_lag_gather")
	if len(ms) != 1 {
		return nil
	}
	return ms[0].Fields()
}

func TestGatherDiscoversRunningInstances(t *testing.T) {
	fake, url := newFake(t)
	fake.AddInstance("ckafka-a", "orders", ckafka.StatusRunning)
	fake.AddInstance("ckafka-b", "", ckafka.StatusRunning)
	fake.AddInstance("ckafka-c", "being-created", ckafka.StatusCreating)
	fake.SetTopic("ckafka-a", "billing", "payments", []ckafka.Partition{
		{Committed: 100, LogEnd: 1100}, {Committed: 5, LogEnd: 10}, {Committed: -1, LogEnd: 40},
	})
	fake.SetTopic("ckafka-a", "billing", "refunds", []ckafka.Partition{{Committed: -1, LogEnd: 3}, {Committed: -1, LogEnd: 4}})
	fake.SetTopic("ckafka-b", "etl", "events", []ckafka.Partition{{Committed: 7, LogEnd: 7}})
	fake.AddGroup("ckafka-b", "idle")
	fake.SetTopic("ckafka-c", "never", "seen", []ckafka.Partition{{Committed: 0, LogEnd: 99}})

	acc := gather(t, newPlugin(t, url))
	require.Empty(t, acc.Errors)

	expected := []telegraf.Metric{
		lagMetric("ckafka-a", "orders", "billing", "payments", topicFields(1005, 1000, 3, 1, 105, 1150)),
		lagMetric("ckafka-a", "orders", "billing", "refunds", topicFields(0, 0, 2, 2, 0, 7)),
		groupMetric("ckafka-a", "orders", "billing", 1005, 1000, 2),
		lagMetric("ckafka-b", "", "etl", "events", topicFields(0, 0, 1, 0, 7, 7)),
		groupMetric("ckafka-b", "", "etl", 0, 0, 1),
		groupMetric("ckafka-b", "", "idle", 0, 0, 0),
	}
	testutil.RequireMetricsEqual(t, expected, byName(acc, "ckafka_lag", "ckafka_group_lag"), testutil.IgnoreTime(), testutil.SortMetrics())

	fields := gatherFields(acc)
	require.Equal(t, int64(2), fields["instances"])
	require.Equal(t, int64(3), fields["groups"])
	require.Equal(t, int64(11), fields["api_requests"]) // 1 instances + 2 group lists + 2 group infos + 3 offsets + 3 topics' retention
	require.Equal(t, int64(0), fields["api_errors"])
	require.Equal(t, int64(0), fields["throttled"])

	// One timestamp for the whole collection.
	ts := acc.GetTelegrafMetrics()[0].Time()
	for _, m := range acc.GetTelegrafMetrics() {
		require.Equal(t, ts, m.Time(), m.Name())
		require.NotEmpty(t, m.FieldList(), m.Name())
	}
}

func TestGatherFollowsStateChanges(t *testing.T) {
	fake, url := newFake(t)
	fake.AddInstance("ckafka-a", "orders", ckafka.StatusRunning)
	fake.SetTopic("ckafka-a", "g", "t", []ckafka.Partition{{Committed: 0, LogEnd: 10}})
	p := newPlugin(t, url)

	acc := gather(t, p)
	require.Equal(t, int64(10), byName(acc, "ckafka_lag")[0].Fields()["lag"])

	fake.SetPartition("ckafka-a", "g", "t", 0, ckafka.Partition{Committed: 10, LogEnd: 2500})
	acc = gather(t, p)
	require.Equal(t, int64(2490), byName(acc, "ckafka_lag")[0].Fields()["lag"])
}

func TestGatherConfiguredInstances(t *testing.T) {
	fake, url := newFake(t)
	fake.AddInstance("ckafka-a", "orders", ckafka.StatusRunning)
	fake.AddInstance("ckafka-b", "logs", ckafka.StatusRunning)
	fake.SetTopic("ckafka-a", "g", "t", []ckafka.Partition{{Committed: 0, LogEnd: 10}})
	fake.SetTopic("ckafka-b", "g", "t", []ckafka.Partition{{Committed: 0, LogEnd: 10}})

	acc := gather(t, newPlugin(t, url, func(p *CKafkaLag) { p.InstanceIDs = []string{"ckafka-b", "ckafka-missing"} }))
	require.Len(t, acc.Errors, 1)
	require.Contains(t, acc.Errors[0].Error(), "ckafka-missing")
	lags := byName(acc, "ckafka_lag")
	require.Len(t, lags, 1)
	require.Equal(t, "ckafka-b", lags[0].Tags()["instance_id"])
	require.Equal(t, "logs", lags[0].Tags()["instance_name"])
}

func TestGatherFilters(t *testing.T) {
	fake, url := newFake(t)
	fake.AddInstance("ckafka-a", "orders", ckafka.StatusRunning)
	for _, g := range []string{"app-billing", "app-search", "console-123", "app-test"} {
		for _, topic := range []string{"orders", "orders-retry", "__consumer_offsets"} {
			fake.SetTopic("ckafka-a", g, topic, []ckafka.Partition{{Committed: 1, LogEnd: 2}})
		}
	}
	p := newPlugin(t, url, func(p *CKafkaLag) {
		p.Groups = []string{"app-*"}
		p.ExcludeGroups = []string{"*-test"}
		p.Topics = []string{"orders*"}
		p.ExcludeTopics = []string{"*-retry"}
	})
	acc := gather(t, p)
	require.Empty(t, acc.Errors)
	var got []string
	for _, m := range byName(acc, "ckafka_lag") {
		got = append(got, m.Tags()["group"]+"/"+m.Tags()["topic"])
	}
	require.ElementsMatch(t, []string{"app-billing/orders", "app-search/orders"}, got)
	// Excluded groups cost no DescribeGroupOffsets request.
	require.Equal(t, 2, fake.Stats().ByAction["DescribeGroupOffsets"])
}

func TestGatherPagesBeyondFifty(t *testing.T) {
	fake, url := newFake(t)
	fake.AddInstance("ckafka-a", "orders", ckafka.StatusRunning)
	for i := range 120 {
		fake.SetTopic("ckafka-a", "big", fmt.Sprintf("topic-%03d", i), []ckafka.Partition{{Committed: 0, LogEnd: 1}})
	}
	for i := range 70 {
		fake.SetTopic("ckafka-a", fmt.Sprintf("small-%02d", i), "t", []ckafka.Partition{{Committed: 0, LogEnd: 2}})
	}
	fake.GroupInfoMax = 40
	acc := gather(t, newPlugin(t, url))
	require.Empty(t, acc.Errors)
	require.Len(t, byName(acc, "ckafka_group_lag"), 71)
	require.Len(t, byName(acc, "ckafka_lag"), 120+70)
	for _, m := range byName(acc, "ckafka_group_lag") {
		if m.Tags()["group"] == "big" {
			require.Equal(t, int64(120), m.Fields()["lag"])
			require.Equal(t, int64(120), m.Fields()["topics"])
		}
	}
	st := fake.Stats()
	require.Equal(t, 2, st.ByAction["DescribeGroup"])           // 71 groups, 50 per page
	require.Equal(t, 3+70, st.ByAction["DescribeGroupOffsets"]) // 120 topics, 50 per page
	// State is asked a listing page at a time (50 + 21). The first page is
	// refused at the batch of 100 and at 50 (at most 40 allowed), then
	// asked as 25 + 25; the second goes at once.
	require.Equal(t, 5, st.ByAction["DescribeGroupInfo"])
	// One retention request per topic (121), not per group and topic
	// (190): cached, and the 70 groups reading "t" wait for one answer.
	require.Equal(t, 121, st.ByAction["DescribeTopicAttributes"])
	require.Equal(t, int64(1+2+5+73+121), gatherFields(acc)["api_requests"])
	require.Equal(t, int64(0), gatherFields(acc)["api_errors"], "a refused batch size is not an error")
	for _, m := range byName(acc, "ckafka_group_lag") {
		require.Equal(t, "Stable", m.Fields()["state"], m.Tags()["group"])
	}
}

func TestGatherPartitionMetrics(t *testing.T) {
	fake, url := newFake(t)
	fake.AddInstance("ckafka-a", "orders", ckafka.StatusRunning)
	fake.SetTopic("ckafka-a", "g", "t", []ckafka.Partition{
		{Committed: -1, LogEnd: 9},
		{Committed: 3, LogEnd: 9},
		{Committed: 5, LogEnd: ckafka.NoLogEnd, APILag: 4},
	})
	acc := gather(t, newPlugin(t, url, func(p *CKafkaLag) { p.PartitionMetrics = true }))
	require.Empty(t, acc.Errors)
	tags := func(partition string) map[string]string {
		return map[string]string{"region": "ap-guangzhou", "instance_id": "ckafka-a", "instance_name": "orders",
			"group": "g", "topic": "t", "partition": partition}
	}
	expected := []telegraf.Metric{
		metric.New("ckafka_partition_lag", tags("0"), map[string]interface{}{"lag": int64(0), "committed_offset": int64(-1), "log_end_offset": int64(9)}, time.Unix(0, 0)),
		metric.New("ckafka_partition_lag", tags("1"), map[string]interface{}{"lag": int64(6), "committed_offset": int64(3), "log_end_offset": int64(9)}, time.Unix(0, 0)),
		metric.New("ckafka_partition_lag", tags("2"), map[string]interface{}{"lag": int64(4), "committed_offset": int64(5), "log_end_offset": int64(9)}, time.Unix(0, 0)),
	}
	testutil.RequireMetricsEqual(t, expected, byName(acc, "ckafka_partition_lag"), testutil.IgnoreTime(), testutil.SortMetrics())
	require.Equal(t, int64(10), byName(acc, "ckafka_lag")[0].Fields()["lag"])
}

func TestGatherErrors(t *testing.T) {
	tests := []struct {
		name   string
		fault  tcapi.Fault
		want   []string
		errors int64
	}{
		{
			name:   "API error on one group",
			fault:  tcapi.Fault{Action: "DescribeGroupOffsets", BodyContains: `"Group":"g1"`, Code: "InternalError", Message: "backend busy"},
			want:   []string{"region ap-guangzhou", "instance ckafka-a", "group \"g1\"", "[InternalError] backend busy", "RequestId "},
			errors: 1,
		},
		{
			name:   "gateway 502 with an HTML body",
			fault:  tcapi.Fault{Action: "DescribeGroupOffsets", BodyContains: `"Group":"g1"`, Status: 502, Body: "<html>502 Bad Gateway</html>"},
			want:   []string{"group \"g1\"", "ClientError"},
			errors: 1,
		},
		{
			name:   "broken JSON",
			fault:  tcapi.Fault{Action: "DescribeGroupOffsets", BodyContains: `"Group":"g1"`, Body: `{"Response": {"Result": [`},
			want:   []string{"group \"g1\"", "ParseJsonError"},
			errors: 1,
		},
		{
			name:   "timeout",
			fault:  tcapi.Fault{Action: "DescribeGroupOffsets", BodyContains: `"Group":"g1"`, Delay: 3 * time.Second},
			want:   []string{"group \"g1\"", "DescribeGroupOffsets"},
			errors: 1,
		},
		{
			name:   "group list fails for the instance",
			fault:  tcapi.Fault{Action: "DescribeGroup", BodyContains: `"ckafka-a"`, Code: "InvalidParameterValue.InstanceNotExist", Message: "gone"},
			want:   []string{"instance ckafka-a", "InstanceNotExist"},
			errors: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, url := newFake(t)
			fake.AddInstance("ckafka-a", "orders", ckafka.StatusRunning)
			fake.AddInstance("ckafka-b", "logs", ckafka.StatusRunning)
			fake.SetTopic("ckafka-a", "g1", "t", []ckafka.Partition{{Committed: 0, LogEnd: 5}})
			fake.SetTopic("ckafka-a", "g2", "t", []ckafka.Partition{{Committed: 0, LogEnd: 5}})
			fake.SetTopic("ckafka-b", "g3", "t", []ckafka.Partition{{Committed: 0, LogEnd: 5}})
			p := newPlugin(t, url, func(p *CKafkaLag) {
				p.Timeout = config.Duration(time.Second)
			})
			fake.Inject(tt.fault)
			acc := gather(t, p)
			require.Len(t, acc.Errors, 1, "errors: %v", acc.Errors)
			for _, w := range tt.want {
				require.Contains(t, acc.Errors[0].Error(), w)
			}
			require.Equal(t, tt.errors, gatherFields(acc)["api_errors"])
			// Everything else is still emitted.
			require.NotEmpty(t, byName(acc, "ckafka_group_lag"))
			for _, m := range byName(acc, "ckafka_group_lag") {
				require.NotEqual(t, "g1", m.Tags()["group"])
			}
			var groups []string
			for _, m := range byName(acc, "ckafka_group_lag") {
				groups = append(groups, m.Tags()["group"])
			}
			require.Contains(t, groups, "g3")
		})
	}
}

func TestGatherRetriesThrottling(t *testing.T) {
	fake, url := newFake(t)
	fake.AddInstance("ckafka-a", "orders", ckafka.StatusRunning)
	fake.SetTopic("ckafka-a", "g", "t", []ckafka.Partition{{Committed: 0, LogEnd: 5}})
	p := newPlugin(t, url)
	fake.Inject(tcapi.Fault{Action: "DescribeGroupOffsets", Code: "RequestLimitExceeded.UinLimitExceeded", Message: "slow down", Times: 2})
	fake.Inject(tcapi.Fault{Action: "DescribeGroup", Code: "RequestLimitExceeded", Message: "slow down"})
	acc := gather(t, p)
	require.Empty(t, acc.Errors)
	require.Len(t, byName(acc, "ckafka_lag"), 1)
	fields := gatherFields(acc)
	require.Equal(t, int64(3), fields["throttled"])
	require.Equal(t, int64(0), fields["api_errors"])
	require.Equal(t, int64(8), fields["api_requests"]) // 7 for the lag, 1 for the topic's retention
}

func TestGatherThrottledPastBudget(t *testing.T) {
	fake, url := newFake(t)
	fake.AddInstance("ckafka-a", "orders", ckafka.StatusRunning)
	fake.SetTopic("ckafka-a", "g", "t", []ckafka.Partition{{Committed: 0, LogEnd: 5}})
	p := newPlugin(t, url, func(p *CKafkaLag) { p.Timeout = config.Duration(500 * time.Millisecond) })
	fake.Inject(tcapi.Fault{Action: "DescribeGroupOffsets", Code: "RequestLimitExceeded", Message: "slow down", Times: -1})
	acc := gather(t, p)
	require.Len(t, acc.Errors, 1)
	require.Contains(t, acc.Errors[0].Error(), "still throttled")
	fields := gatherFields(acc)
	require.Greater(t, fields["throttled"], int64(1))
	require.Equal(t, int64(1), fields["api_errors"])
}

func TestGatherRespectsRateLimit(t *testing.T) {
	fake, url := newFake(t)
	fake.AddInstance("ckafka-a", "orders", ckafka.StatusRunning)
	for i := range 40 {
		fake.SetTopic("ckafka-a", fmt.Sprintf("g%02d", i), "t", []ckafka.Partition{{Committed: 0, LogEnd: 5}})
	}
	fake.SetRateLimit(40)
	fake.SetLatency(5 * time.Millisecond)
	p := newPlugin(t, url, func(p *CKafkaLag) { p.RateLimit = RateLimit{Fixed: 40} })
	acc := gather(t, p)
	require.Empty(t, acc.Errors)
	require.Equal(t, int64(0), gatherFields(acc)["throttled"])
	require.Zero(t, fake.Stats().Throttled)
	require.LessOrEqual(t, fake.Stats().MaxInFlight, 8)
}

func TestGatherAuthFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*ckafka.Fake, *CKafkaLag)
		want  []string
	}{
		{
			name:  "wrong secret key",
			setup: func(_ *ckafka.Fake, p *CKafkaLag) { p.SecretKey = config.NewSecret([]byte("wrong-key-also-secret")) },
			want:  []string{"AuthFailure.SignatureFailure", "SecretKey belongs to it", "credentials from secret_id/secret_key from the configuration"},
		},
		{
			name: "clock skew",
			setup: func(f *ckafka.Fake, _ *CKafkaLag) {
				f.SetClock(func() time.Time { return time.Now().Add(10 * time.Minute) })
			},
			want: []string{"AuthFailure.SignatureExpire", "NTP"},
		},
		{
			name: "missing CAM permission",
			setup: func(f *ckafka.Fake, _ *CKafkaLag) {
				f.Inject(tcapi.Fault{Action: "DescribeGroupOffsets", Code: "UnauthorizedOperation", Message: "no permission", Times: -1})
			},
			want: []string{"UnauthorizedOperation", "ckafka:DescribeGroupOffsets"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, p := fiveGroups(t)
			tt.setup(fake, p)
			require.NoError(t, p.Init())
			acc := gather(t, p)
			require.Len(t, acc.Errors, 1, "one clear message, not one per group: %v", acc.Errors)
			for _, w := range tt.want {
				require.Contains(t, acc.Errors[0].Error(), w)
			}
			require.NotContains(t, acc.Errors[0].Error(), testSecretKey)
			require.NotContains(t, acc.Errors[0].Error(), "wrong-key-also-secret")
			fields := gatherFields(acc)
			require.NotNil(t, fields, "ckafka_lag_gather is emitted even when collection fails")
			require.Greater(t, fields["api_errors"], int64(0))
			require.LessOrEqual(t, fields["api_errors"], fields["api_requests"], "cancelled calls are not counted as failures")
			require.Empty(t, byName(acc, "ckafka_lag"))
		})
	}
}

func TestCredentialsFromEnvironment(t *testing.T) {
	fake, url := newFake(t)
	fake.AddInstance("ckafka-a", "orders", ckafka.StatusRunning)
	t.Setenv("TENCENTCLOUD_SECRET_ID", testSecretID)
	t.Setenv("TENCENTCLOUD_SECRET_KEY", testSecretKey)
	p := New()
	p.Region, p.Endpoint, p.Log = "ap-guangzhou", url, testutil.Logger{}
	require.NoError(t, p.Init())
	require.Contains(t, p.credSource, "TENCENTCLOUD_SECRET_ID")
	acc := gather(t, p)
	require.Empty(t, acc.Errors)
}

func TestInitErrors(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*CKafkaLag)
		want   string
	}{
		{"region missing", func(p *CKafkaLag) { p.Region = "" }, "region is required"},
		{"bad endpoint", func(p *CKafkaLag) { p.Endpoint = "ftp://x" }, "scheme must be http or https"},
		{"bare host with path", func(p *CKafkaLag) { p.Endpoint = "example.com/x" }, "want host[:port] or a URL"},
		{"endpoint with path", func(p *CKafkaLag) { p.Endpoint = "https://x/y" }, "without path"},
		{"negative rate", func(p *CKafkaLag) { p.RateLimit = RateLimit{Fixed: -1} }, "rate_limit"},
		{"zero concurrency", func(p *CKafkaLag) { p.MaxConcurrency = 0 }, "max_concurrency"},
		{"zero timeout", func(p *CKafkaLag) { p.Timeout = 0 }, "timeout"},
		{"key without id", func(p *CKafkaLag) { p.SecretID = "" }, "secret_id is empty"},
		{"bad glob", func(p *CKafkaLag) { p.Groups = []string{"[a"} }, "groups"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New()
			p.Region, p.Endpoint, p.SecretID = "ap-guangzhou", "http://127.0.0.1:1", testSecretID
			p.SecretKey = config.NewSecret([]byte(testSecretKey))
			tt.modify(p)
			err := p.Init()
			require.ErrorContains(t, err, tt.want)
			require.False(t, strings.Contains(err.Error(), testSecretKey))
		})
	}
}

func TestReadmeShowsSampleConfig(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	require.Contains(t, string(readme), "```toml @sample.conf\n"+New().SampleConfig()+"```")
}

// TestGatherTimeFields moves producers and consumers at known rates and
// checks what four collections say of them.
func TestGatherTimeFields(t *testing.T) {
	fake, url := newFake(t)
	fake.AddInstance("ckafka-a", "orders", ckafka.StatusRunning)
	two := func(committed, logEnd int64) []ckafka.Partition {
		return []ckafka.Partition{{Committed: committed, LogEnd: logEnd}, {Committed: committed, LogEnd: logEnd}}
	}
	// falling-behind: caught up at the start, consuming half of what is produced.
	// Each group reads its own topic, whose log end its flow moves.
	fake.SetTopic("ckafka-a", "falling-behind", "orders", two(10000, 10000))
	// draining: a backlog consumed ten times faster than produced.
	fake.SetTopic("ckafka-a", "draining", "payments", two(0, 200000))
	// dead: no consumer online, nothing moves.
	fake.SetTopic("ckafka-a", "dead", "refunds", two(100, 5000))
	fake.SetGroupState("ckafka-a", "dead", "Empty", 0)

	// One clock for the fake's offsets and the plugin's answer times, moved
	// by hand: the figures are exact.
	var mu sync.Mutex
	clock := time.Unix(1_800_000_000, 0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	fake.Now = now
	fake.SetFlow("ckafka-a", "falling-behind", "orders", 1000, 500)
	fake.SetFlow("ckafka-a", "draining", "payments", 100, 1000)
	start := now()

	p := newPlugin(t, url)
	p.clock = now
	var topics map[string]map[string]interface{}
	var groups map[string]map[string]interface{}
	for i := range 4 {
		if i > 0 {
			mu.Lock()
			clock = clock.Add(10 * time.Second)
			mu.Unlock()
		}
		acc := gather(t, p)
		require.Empty(t, acc.Errors)
		topics, groups = map[string]map[string]interface{}{}, map[string]map[string]interface{}{}
		for _, m := range byName(acc, "ckafka_lag") {
			topics[m.Tags()["group"]] = m.Fields()
		}
		for _, m := range byName(acc, "ckafka_group_lag") {
			groups[m.Tags()["group"]] = m.Fields()
		}
		if i == 0 {
			for g, f := range topics {
				for _, absent := range []string{"produce_rate", "consume_rate", "drain_seconds"} {
					require.NotContains(t, f, absent, "first collection, group %s", g)
				}
				if f["lag"].(int64) > 0 {
					require.NotContains(t, f, "lag_seconds", "first collection, group %s", g)
				} else {
					require.Equal(t, 0.0, f["lag_seconds"], "no lag is 0 s behind")
				}
			}
		}
	}
	elapsed := now().Sub(start).Seconds()

	fb := topics["falling-behind"]
	require.Equal(t, 2000.0, fb["produce_rate"], "2 partitions × 1000/s")
	require.Equal(t, 1000.0, fb["consume_rate"])
	require.NotContains(t, fb, "drain_seconds", "growing backlog: no ETA")
	// The message the consumer is at was appended half as long ago as the
	// flows started (15 s); the estimate lies within that sample bracket.
	require.InDelta(t, elapsed/2, fb["lag_seconds"], 5)
	require.InDelta(t, 15.0, fb["lag_seconds"], 0.01, "the bracket (10 s, 20 s] interpolated")
	require.Equal(t, false, fb["stalled"])
	require.Equal(t, "Stable", fb["group_state"])
	require.Equal(t, int64(1), fb["group_members"])

	dr := topics["draining"]
	require.Equal(t, 200.0, dr["produce_rate"])
	require.Equal(t, 2000.0, dr["consume_rate"])
	lag := float64(dr["lag"].(int64))
	require.Equal(t, int64(2*(200000+30*100-30*1000)), dr["lag"])
	require.InDelta(t, lag/1800, dr["drain_seconds"], 1e-9)
	require.Equal(t, elapsed, dr["lag_seconds"], "a backlog older than the history: exactly its span, a lower bound")

	dead := topics["dead"]
	require.Equal(t, true, dead["stalled"], "no move for stall_intervals collections")
	require.Equal(t, 0.0, dead["consume_rate"])
	require.Equal(t, "Empty", dead["group_state"])
	require.Equal(t, int64(0), dead["group_members"])
	require.Equal(t, true, groups["dead"]["stalled"])
	require.Equal(t, "Empty", groups["dead"]["state"])
	require.Equal(t, int64(0), groups["dead"]["members"])
	require.Equal(t, 2000.0, groups["falling-behind"]["produce_rate"])
}

func TestGatherGroupInfoOff(t *testing.T) {
	fake, url := newFake(t)
	fake.AddInstance("ckafka-a", "orders", ckafka.StatusRunning)
	fake.SetTopic("ckafka-a", "g", "t", []ckafka.Partition{{Committed: 0, LogEnd: 10}})
	acc := gather(t, newPlugin(t, url, func(p *CKafkaLag) { p.GroupInfo = false }))
	require.Empty(t, acc.Errors)
	require.Zero(t, fake.Stats().ByAction["DescribeGroupInfo"])
	require.NotContains(t, byName(acc, "ckafka_lag")[0].Fields(), "group_state")
	require.NotContains(t, byName(acc, "ckafka_group_lag")[0].Fields(), "state")
}

// TestGatherHealthFields: ckafka_lag_gather says what failed (the API's code)
// and how many groups are unknown, counted against the last listing when
// the listing itself failed, so the output can page on a blind collector.
func TestGatherHealthFields(t *testing.T) {
	tests := []struct {
		name       string
		fault      *tcapi.Fault
		wantError  string // "" = no last_error field
		wantFailed int64
		wantGroups int64
	}{
		{name: "healthy", wantFailed: 0, wantGroups: 5},
		{name: "revoked key: nothing read, the five groups of the last listing unknown",
			fault:     &tcapi.Fault{Code: "AuthFailure.SecretIdNotFound", Message: "The SecretId is not found", Times: -1},
			wantError: "AuthFailure.SecretIdNotFound", wantFailed: 5},
		{name: "one group failing",
			fault:     &tcapi.Fault{Action: "DescribeGroupOffsets", BodyContains: `"Group":"g3"`, Code: "InternalError", Message: "boom", Times: -1},
			wantError: "InternalError", wantFailed: 1, wantGroups: 4},
		{name: "the group listing failing",
			fault:     &tcapi.Fault{Action: "DescribeGroup", Code: "ResourceUnavailable", Message: "down", Times: -1},
			wantError: "ResourceUnavailable", wantFailed: 5},
		{name: "throttled and retried is no failure",
			fault:      &tcapi.Fault{Action: "DescribeGroupOffsets", Code: "RequestLimitExceeded", Message: "slow down", Times: 3},
			wantFailed: 0, wantGroups: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, p := fiveGroups(t)
			require.NoError(t, p.Init())
			first := gatherFields(gather(t, p)) // learns the listing
			require.EqualValues(t, 0, first["failed_groups"])
			require.NotContains(t, first, "last_error")
			if tt.fault != nil {
				fake.Inject(*tt.fault)
			}
			fields := gatherFields(gather(t, p))
			require.Equal(t, tt.wantFailed, fields["failed_groups"])
			require.Equal(t, tt.wantGroups, fields["groups"])
			if tt.wantError == "" {
				require.NotContains(t, fields, "last_error")
			} else {
				require.Equal(t, tt.wantError, fields["last_error"])
			}
		})
	}
}

// fiveGroups is a fake with one instance of five groups g0…g4, and the
// plugin configured for it (not yet initialised).
func fiveGroups(t *testing.T) (*ckafka.Fake, *CKafkaLag) {
	t.Helper()
	fake, url := newFake(t)
	fake.AddInstance("ckafka-a", "orders", ckafka.StatusRunning)
	for i := range 5 {
		fake.SetTopic("ckafka-a", fmt.Sprintf("g%d", i), "t", []ckafka.Partition{{Committed: 0, LogEnd: 5}})
	}
	p := New()
	p.Region, p.Endpoint, p.SecretID = "ap-guangzhou", url, testSecretID
	p.SecretKey = config.NewSecret([]byte(testSecretKey))
	p.Log = testutil.Logger{}
	return fake, p
}
