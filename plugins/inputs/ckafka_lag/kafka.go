package ckafka_lag

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/kafkaconn"
)

// kafkaSource reads offsets straight from the brokers with franz-go: one
// client kept across collections, committed offsets in one OffsetFetch per
// coordinator for many groups, end offsets in one ListOffsets per leader.
type kafkaSource struct {
	opts     []kgo.Opt // also for the short-lived clients of exact time lag
	client   *kgo.Client
	admin    *kadm.Client
	requests atomic.Int64 // Kafka requests written, for ckafka_lag_gather
	user     string       // "SASL PLAIN as user u", for error messages

	mu      sync.Mutex
	cluster string // the cluster ID the brokers reported
}

// requestCounter counts every request written to a broker.
type requestCounter struct{ n *atomic.Int64 }

func (r requestCounter) OnBrokerWrite(kgo.BrokerMetadata, int16, int, time.Duration, time.Duration, error) {
	r.n.Add(1)
}

// cloudOnlyKeys are set keys of the cloud API source, by name.
func (c *CKafkaLag) cloudOnlyKeys() map[string]bool {
	return map[string]bool{
		"secret_id": c.SecretID != "", "secret_key": !c.SecretKey.Empty(), "token": !c.Token.Empty(),
		"endpoint": c.Endpoint != "", "instance_ids": len(c.InstanceIDs) > 0, "rate_limit": c.RateLimit != (RateLimit{}), "rate_limit_max": c.RateLimitMax != 0,
	}
}

// kafkaOnlyKeys are set keys of the kafka source, by name.
func (c *CKafkaLag) kafkaOnlyKeys() map[string]bool {
	keys := map[string]bool{
		"brokers": len(c.Brokers) > 0, "instance_id": c.InstanceID != "", "instance_name": c.InstanceName != "",
		"time_lag": c.TimeLag != "" && c.TimeLag != timeLagEstimate,
	}
	// The connection keys serve cluster_brokers too.
	if len(c.ClusterBrokers) == 0 {
		maps.Copy(keys, map[string]bool{
			"sasl_mechanism": c.SASLMechanism != "", "sasl_username": c.SASLUsername != "", "sasl_password": !c.SASLPassword.Empty(),
			"tls_enable": c.ClientConfig.Enable != nil, "tls_ca": c.TLSCA != "", "tls_cert": c.TLSCert != "", "tls_key": c.TLSKey != "",
			"insecure_skip_verify": c.InsecureSkipVerify,
		})
	}
	return keys
}

// firstSet names the first set key, in a stable order.
func firstSet(keys map[string]bool) string {
	names := make([]string, 0, len(keys))
	for k, set := range keys {
		if set {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// initKafka validates the kafka source's keys and builds its client.
func (c *CKafkaLag) initKafka() error {
	if key := firstSet(c.cloudOnlyKeys()); key != "" {
		return fmt.Errorf("%s is a key of source \"cloudapi\", not of source \"kafka\"", key)
	}
	if len(c.Brokers) == 0 {
		return errors.New(`brokers is required with source = "kafka" (bootstrap host:port list)`)
	}
	switch c.TimeLag {
	case "", timeLagEstimate:
		c.TimeLag = timeLagEstimate
	case timeLagExact:
	default:
		return fmt.Errorf("time_lag: %q is not \"estimate\" or \"exact\"", c.TimeLag)
	}
	// The same connection keys, read the same way, as cluster_brokers.
	conn := kafkaconn.Config{Brokers: c.Brokers, SASLMechanism: c.SASLMechanism, SASLUsername: c.SASLUsername,
		SASLPassword: c.SASLPassword, ClientConfig: c.ClientConfig}
	opts, user, err := conn.Opts("", time.Duration(c.Timeout))
	if err != nil {
		return err
	}
	src := &kafkaSource{user: user}
	opts = append(opts, kgo.WithHooks(requestCounter{&src.requests}), kgo.ClientID("ckafka_lag"))
	src.opts = opts
	if src.client, err = kgo.NewClient(opts...); err != nil {
		return fmt.Errorf("creating the Kafka client: %w", err)
	}
	src.admin = kadm.NewClient(src.client)
	src.admin.SetTimeoutMillis(int32(time.Duration(c.Timeout).Milliseconds()))
	c.kafka = src
	return nil
}

// close releases the client.
func (k *kafkaSource) close() {
	if k != nil && k.client != nil {
		k.client.Close()
	}
}

// gatherKafka runs one collection over the Kafka protocol.
func (c *CKafkaLag) gatherKafka(col *collection) (instanceInfo, int) {
	k := c.kafka
	before := k.requests.Load()
	defer func() { col.stats.requests.Add(k.requests.Load() - before) }()
	in := instanceInfo{ID: c.InstanceID, Name: c.InstanceName}
	ctx, cancel := context.WithTimeout(col.ctx, 4*time.Duration(c.Timeout))
	defer cancel()

	if in.ID == "" {
		id, err := k.clusterID(ctx)
		if err != nil {
			col.expect("", 0, false)
			col.kafkaError(err, "")
			return in, 0
		}
		in.ID = id
	}
	listed, err := k.admin.ListGroups(ctx)
	if err != nil {
		col.expect("", 0, false)
		col.kafkaError(err, "listing groups")
		return in, 0
	}
	groups := make([]string, 0, len(listed))
	for name := range listed {
		if c.groupFilter.Match(name) {
			groups = append(groups, name)
		}
	}
	col.expect("", len(groups), true)
	sort.Strings(groups)
	if len(groups) == 0 {
		return in, 0
	}

	// End offsets once, for every topic the filters keep: per partition,
	// small whatever the number of groups. Then the groups' commits a
	// batch at a time, the next batch fetched while this one is emitted.
	meta, err := k.admin.ListTopics(ctx)
	if err != nil {
		col.kafkaError(err, "Metadata")
		return in, 0
	}
	var topics []string
	for _, t := range meta.Names() {
		if c.topicFilter.Match(t) {
			topics = append(topics, t)
		}
	}
	sort.Strings(topics)
	// The retention requests go beside the end offsets: one more round
	// trip per leader, not two.
	startsc := make(chan kadm.ListedOffsets, 1)
	go func() { startsc <- k.retention(ctx, col, topics) }()
	var ends kadm.ListedOffsets
	if len(topics) > 0 {
		ends, err = k.admin.ListEndOffsets(ctx, topics...)
		if err != nil && !isShardErr(err) {
			<-startsc
			col.kafkaError(err, "ListOffsets")
			return in, 0
		}
	}
	arrived := c.clock()
	if err != nil {
		col.kafkaError(err, "ListOffsets")
	}
	starts := <-startsc
	offsets := kafkaOffsets{ends: ends, starts: starts, topics: indexOffsets(ends, starts), arrived: arrived}

	collected := 0
	next := k.fetchBatch(ctx, col, groups[:min(kafkaGroupBatch, len(groups))])
	for start := 0; start < len(groups); start += kafkaGroupBatch {
		batch := groups[start:min(start+kafkaGroupBatch, len(groups))]
		b := <-next
		if rest := start + kafkaGroupBatch; rest < len(groups) {
			next = k.fetchBatch(ctx, col, groups[rest:min(rest+kafkaGroupBatch, len(groups))])
		}
		collected += c.emitKafkaBatch(ctx, col, in, batch, b, offsets)
	}
	return in, collected
}

func isShardErr(err error) bool {
	var se *kadm.ShardErrors
	return errors.As(err, &se) && !se.AllFailed
}

// describe asks DescribeGroups for state and members; KIP-848 consumer
// groups, which the classic describe does not know, are asked again with
// ConsumerGroupDescribe.
func (k *kafkaSource) describe(ctx context.Context, col *collection, groups []string) map[string]groupInfo {
	out := make(map[string]groupInfo, len(groups))
	described, err := k.admin.DescribeGroups(ctx, groups...)
	if err != nil && !isShardErr(err) {
		col.kafkaError(err, "DescribeGroups")
		return out
	}
	var retry []string
	for _, g := range groups {
		d, ok := described[g]
		if !ok || d.Err != nil {
			retry = append(retry, g)
			continue
		}
		info := groupInfo{State: d.State}
		if d.ProtocolType == "" || d.ProtocolType == "consumer" {
			info.Members, info.MembersKnown = int64(len(d.Members)), true
		}
		out[g] = info
	}
	if len(retry) == 0 {
		return out
	}
	consumers, err := k.admin.DescribeConsumerGroups(ctx, retry...)
	if err != nil && !isShardErr(err) {
		return out // no state for these: not worth an error of its own
	}
	for _, g := range retry {
		if d, ok := consumers[g]; ok && d.Err == nil {
			out[g] = groupInfo{State: d.State, Members: int64(len(d.Members)), MembersKnown: true}
		}
	}
	return out
}

// clusterID is the cluster ID the brokers report, asked once.
func (k *kafkaSource) clusterID(ctx context.Context) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cluster != "" {
		return k.cluster, nil
	}
	md, err := k.admin.BrokerMetadata(ctx)
	if err != nil {
		return "", fmt.Errorf("Metadata: %w", err)
	}
	if md.Cluster == "" {
		return "", errors.New("the brokers report no cluster ID: set instance_id")
	}
	k.cluster = md.Cluster
	return k.cluster, nil
}

// kafkaError reports a Kafka failure with what to check; where names the
// request or group.
func (col *collection) kafkaError(err error, where string) {
	c := col.c
	prefix := "brokers " + strings.Join(c.Brokers, ",")
	if where != "" {
		prefix += ": " + where
	}
	const saslHint = "CKafka expects the user as instanceId#user, e.g. ckafka-abcd1234#monitor, and PLAIN unless SCRAM is enabled"
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.IllegalSaslState), errors.Is(err, kerr.UnsupportedSaslMechanism):
		err = fmt.Errorf("%s failed: %w (%s)", c.kafka.user, err, saslHint)
	case c.kafka.user != "" && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)):
		// Some brokers close the connection on bad credentials instead
		// of answering with an error code.
		err = fmt.Errorf("%s failed or the broker closed the connection: %w (check the user and password; %s)", c.kafka.user, err, saslHint)
	case errors.Is(err, kerr.GroupAuthorizationFailed):
		err = fmt.Errorf("%w: the ACL denies Describe/Read on this group to %s", err, orAnonymous(c.kafka.user))
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		err = fmt.Errorf("%w: the ACL denies Describe on a topic to %s", err, orAnonymous(c.kafka.user))
	case errors.Is(err, kerr.ClusterAuthorizationFailed):
		err = fmt.Errorf("%w: the ACL denies Describe on the cluster (ListGroups) to %s", err, orAnonymous(c.kafka.user))
	case errors.Is(err, kerr.CoordinatorLoadInProgress):
		err = fmt.Errorf("%w: the group's coordinator is loading; it is collected next time", err)
	}
	col.stats.errors.Add(1)
	col.noteError(err)
	col.acc.AddError(fmt.Errorf("%s: %w", prefix, err))
}

func orAnonymous(user string) string {
	if user == "" {
		return "this client (no SASL)"
	}
	return user
}

// retention reads the log start offsets of the topics (for lost_messages)
// and, for the topics whose retention.ms is older than retention_refresh,
// their configs, into the cache the collection reads. Failures leave the
// fields out and are logged, never fail the collection: lag is the job.
func (k *kafkaSource) retention(ctx context.Context, col *collection, topics []string) kadm.ListedOffsets {
	c := col.c
	if c.RetentionRefresh <= 0 || len(topics) == 0 {
		return nil
	}
	refresh := time.Duration(c.RetentionRefresh)
	now := c.clock()
	var stale []string
	for _, t := range topics {
		if !c.retention.fresh(t, now, refresh) {
			stale = append(stale, t)
		}
	}
	if len(stale) > 0 {
		configs, err := k.admin.DescribeTopicConfigs(ctx, stale...)
		if err != nil {
			c.Log.Warnf("DescribeConfigs for retention.ms: %v (retention fields left out)", err)
		}
		for _, rc := range configs {
			if rc.Err != nil {
				continue
			}
			c.retention.put(rc.Name, retentionMs(rc.Configs), now)
		}
	}
	col.retentionOf = func(_, topic string) Optional { return c.retention.peek(topic) }
	starts, err := k.admin.ListStartOffsets(ctx, topics...)
	if err != nil && !isShardErr(err) {
		c.Log.Warnf("ListOffsets (earliest) for lost_messages: %v (lost_messages left out)", err)
		return nil
	}
	return starts
}

// retentionMs reads retention.ms: seconds, unknown when unlimited (-1).
func retentionMs(configs []kadm.Config) Optional {
	for _, cfg := range configs {
		if cfg.Key != "retention.ms" || cfg.Value == nil {
			continue
		}
		ms, err := strconv.ParseInt(*cfg.Value, 10, 64)
		if err != nil || ms <= 0 {
			return Optional{}
		}
		return known(float64(ms) / 1000)
	}
	return Optional{}
}
