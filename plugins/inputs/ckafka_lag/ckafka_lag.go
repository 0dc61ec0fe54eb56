// Package ckafka_lag collects consumer-group lag of Tencent Cloud CKafka
// instances through the CKafka cloud API 3.0, or of any Kafka cluster (CKafka
// included) over the Kafka protocol.
package ckafka_lag

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/filter"
	common_tls "github.com/influxdata/telegraf/plugins/common/tls"
	"github.com/influxdata/telegraf/plugins/inputs"
	"golang.org/x/time/rate"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/secrets"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/tcloud"
)

//go:embed sample.conf
var sampleConfig string

const (
	defaultEndpoint = "ckafka.tencentcloudapi.com"
	// instanceRunning is DescribeInstances' Status of a running instance.
	instanceRunning = 1
)

// CKafkaLag is the ckafka_lag input.
type CKafkaLag struct {
	Source           string          `toml:"source"`
	Region           string          `toml:"region"`
	SecretID         string          `toml:"secret_id"`
	SecretKey        config.Secret   `toml:"secret_key"`
	Token            config.Secret   `toml:"token"`
	Endpoint         string          `toml:"endpoint"`
	InstanceIDs      []string        `toml:"instance_ids"`
	Groups           []string        `toml:"groups"`
	ExcludeGroups    []string        `toml:"exclude_groups"`
	Topics           []string        `toml:"topics"`
	ExcludeTopics    []string        `toml:"exclude_topics"`
	PartitionMetrics bool            `toml:"partition_metrics"`
	Timeout          config.Duration `toml:"timeout"`
	MaxConcurrency   int             `toml:"max_concurrency"`
	RateLimit        RateLimit       `toml:"rate_limit"`
	RateLimitMax     float64         `toml:"rate_limit_max"`
	GroupInfo        bool            `toml:"group_info"`
	StallIntervals   int             `toml:"stall_intervals"`
	HistoryWindow    config.Duration `toml:"history_window"`
	HistorySamples   int             `toml:"history_samples"`
	// RetentionRefresh is how long a topic's retention is cached; 0 turns
	// the retention fields off.
	RetentionRefresh config.Duration `toml:"retention_refresh"`

	// Keys of source = "kafka".
	Brokers       []string      `toml:"brokers"`
	InstanceID    string        `toml:"instance_id"`
	InstanceName  string        `toml:"instance_name"`
	SASLMechanism string        `toml:"sasl_mechanism"`
	SASLUsername  string        `toml:"sasl_username"`
	SASLPassword  config.Secret `toml:"sasl_password"`
	TimeLag       string        `toml:"time_lag"`
	common_tls.ClientConfig

	// The HA pair (see cluster.go).
	ClusterBrokers        []string        `toml:"cluster_brokers"`
	ClusterGroup          string          `toml:"cluster_group"`
	ClusterTopic          string          `toml:"cluster_topic"`
	ClusterMemberName     string          `toml:"cluster_member_name"`
	ClusterSessionTimeout config.Duration `toml:"cluster_session_timeout"`

	Log telegraf.Logger `toml:"-"`

	pair *collectorLease // nil without cluster_brokers

	source      source // the one of the two below that Source names
	api         *cloudAPI
	kafka       *kafkaSource
	clock       func() time.Time // when answers arrive; tests share one with the fakes
	credSource  string
	groupFilter filter.Filter
	topicFilter filter.Filter

	// knownGroups is how many groups each instance's last listing found
	// (the Kafka source's under ""): when a listing fails, they are the
	// groups the collection could not read.
	knownMu     sync.Mutex
	knownGroups map[string]int
	// retention caches each topic's retention (key: instance/topic for the
	// cloud API, topic for Kafka); retentionDenied turns the cloud API's
	// retention off when the key may not call DescribeTopicAttributes.
	retention       retentionCache
	retentionDenied atomic.Bool

	// trackerMu serializes the tracker: answers of many groups arrive
	// concurrently and share the histories of their topics.
	trackerMu sync.Mutex
	tracker   *timeTracker
	// infoBatch is how many groups one DescribeGroupInfo may ask for,
	// learned from the API's refusals.
	infoBatch atomic.Int64
}

// groupInfoBatch is the first batch size tried; the API documents none.
const groupInfoBatch = 100

func (*CKafkaLag) SampleConfig() string { return sampleConfig }

const (
	sourceCloudAPI = "cloudapi"
	sourceKafka    = "kafka"
)

// Init validates the configuration and builds the source's client.
func (c *CKafkaLag) Init() error {
	if c.clock == nil {
		c.clock = time.Now
	}
	if err := c.initCommon(); err != nil {
		return err
	}
	if err := c.initCluster(); err != nil {
		return err
	}
	switch c.Source {
	case "", sourceCloudAPI:
		c.Source, c.source = sourceCloudAPI, cloudCollector{c}
		return c.initCloudAPI()
	case sourceKafka:
		c.source = kafkaCollector{c}
		return c.initKafka()
	}
	return fmt.Errorf("source: %q is not \"cloudapi\" or \"kafka\"", c.Source)
}

// initCommon checks the keys both sources share.
func (c *CKafkaLag) initCommon() error {
	if c.Timeout <= 0 {
		return fmt.Errorf("timeout must be positive, got %s", time.Duration(c.Timeout))
	}
	if c.MaxConcurrency < 1 {
		return fmt.Errorf("max_concurrency must be at least 1, got %d", c.MaxConcurrency)
	}
	if c.StallIntervals < 1 {
		return fmt.Errorf("stall_intervals must be at least 1, got %d", c.StallIntervals)
	}
	if c.HistoryWindow <= 0 {
		return fmt.Errorf("history_window must be positive, got %s", time.Duration(c.HistoryWindow))
	}
	if c.HistorySamples < 2 {
		return fmt.Errorf("history_samples must be at least 2, got %d", c.HistorySamples)
	}
	var err error
	if c.groupFilter, err = filter.NewIncludeExcludeFilter(c.Groups, c.ExcludeGroups); err != nil {
		return fmt.Errorf("groups/exclude_groups: %w", err)
	}
	if c.topicFilter, err = filter.NewIncludeExcludeFilter(c.Topics, c.ExcludeTopics); err != nil {
		return fmt.Errorf("topics/exclude_topics: %w", err)
	}
	c.knownGroups = map[string]int{}
	c.tracker = newTimeTracker(TimeSettings{
		Window:         time.Duration(c.HistoryWindow),
		MaxSamples:     c.HistorySamples,
		StallIntervals: c.StallIntervals,
	})
	return nil
}

// initCloudAPI validates the cloud API's keys and builds its client.
func (c *CKafkaLag) initCloudAPI() error {
	if key := firstSet(c.kafkaOnlyKeys()); key != "" {
		return fmt.Errorf("%s is a key of source \"kafka\", not of source \"cloudapi\"", key)
	}
	if c.Region == "" {
		return errors.New("region is required (e.g. \"ap-guangzhou\")")
	}
	if c.Endpoint == "" {
		// An unset ${VAR} expands to "": treat it as the default.
		c.Endpoint = defaultEndpoint
	}
	if c.RateLimit == (RateLimit{}) {
		c.RateLimit.Auto = true
	}
	if c.RateLimitMax == 0 {
		c.RateLimitMax = defaultRateLimitMax
	}
	if c.RetentionRefresh < 0 {
		return errors.New("retention_refresh must not be negative (0s turns the retention fields off)")
	}
	if c.RateLimit.Fixed < 0 {
		return fmt.Errorf("rate_limit must be positive or \"auto\", got %v", c.RateLimit.Fixed)
	}
	if c.RateLimitMax < 1 {
		return fmt.Errorf("rate_limit_max must be at least 1, got %v", c.RateLimitMax)
	}
	for _, id := range c.InstanceIDs {
		if strings.TrimSpace(id) == "" {
			return errors.New("instance_ids contains an empty id")
		}
	}
	secretKey, err := secrets.Reveal(c.SecretKey)
	if err != nil {
		return fmt.Errorf("secret_key: %w", err)
	}
	token, err := secrets.Reveal(c.Token)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	client, err := tcloud.New(tcloud.Options{
		Service:   "ckafka",
		Version:   apiVersion,
		Region:    c.Region,
		Endpoint:  c.Endpoint,
		SecretID:  c.SecretID,
		SecretKey: secretKey,
		Token:     token,
		Timeout:   time.Duration(c.Timeout),
	})
	if err != nil {
		return fmt.Errorf("creating CKafka API client: %w", err)
	}
	c.credSource = client.CredentialSource
	var pace pacer = newAutoPacer(c.RateLimitMax)
	if !c.RateLimit.Auto {
		pace = fixedPacer{rate.NewLimiter(rate.Limit(c.RateLimit.Fixed), 1)}
	}
	c.api = newCloudAPI(client, pace, c.MaxConcurrency, time.Duration(c.Timeout))
	c.api.now = func() time.Time { return c.clock() }
	c.infoBatch.Store(groupInfoBatch)
	return nil
}

// collection is the state of one Gather.
type collection struct {
	c     *CKafkaLag
	acc   telegraf.Accumulator
	now   time.Time // the metrics' timestamp
	since time.Time // when the collection began, on the answers' clock
	// role and active, with cluster_brokers: "active" and this member.
	role, active string
	stats        callStats
	// fallbacks counts exact time lags that fell back to the estimate.
	fallbacks atomic.Int64

	ctx       context.Context
	abort     context.CancelFunc
	aborted   sync.Once
	abortedBy error

	mu     sync.Mutex
	groups int
	// expected is how many groups the collection meant to read (see
	// expect); lastError the class of its latest failure.
	expected  int
	lastError string
	// retentionOf returns a topic's retention in seconds.
	retentionOf func(instanceID, topic string) Optional
	// lookups are the background lookups the collection started; it ends
	// when they do, so its counts and duration include them.
	lookups sync.WaitGroup
}

// background runs f beside the collection (see lookups).
func (col *collection) background(f func()) {
	col.lookups.Add(1)
	go func() {
		defer col.lookups.Done()
		f()
	}()
}

// Gather runs one collection. Failures are reported per instance or group
// with acc.AddError; everything else is still emitted.
func (c *CKafkaLag) Gather(acc telegraf.Accumulator) error {
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	col := &collection{c: c, acc: acc, now: start, since: c.clock(), ctx: ctx, abort: cancel}
	role, active := "", ""
	if c.pair != nil {
		var err error
		role, active, err = c.role(ctx)
		if err != nil {
			// Unknown: collect rather than go quiet (the output's HA pair
			// still sends once); say so.
			acc.AddError(fmt.Errorf("cluster: %w; collecting as if active", err))
			role = roleActive
		}
		if role == roleStandby {
			c.gatherStandby(acc, active, start)
			return nil
		}
	}
	col.role, col.active = role, active
	tags, fields := c.source.collect(col)
	c.sweep()
	fields["duration_ms"] = time.Since(start).Milliseconds()
	col.addHealth(fields)
	acc.AddFields("ckafka_lag_gather", fields, tags, start)
	return nil
}

// source is where a collection reads lag from: the CKafka cloud API
// (cloudCollector) or the Kafka protocol (kafkaCollector). Gather runs one
// collection through it and adds what every collection reports.
type source interface {
	// collect reads every group's lag into col and returns the tags and
	// the source's own fields of ckafka_lag_gather.
	collect(col *collection) (tags map[string]string, fields map[string]interface{})
}

// cloudCollector collects through the CKafka cloud API.
type cloudCollector struct{ c *CKafkaLag }

func (s cloudCollector) collect(col *collection) (map[string]string, map[string]interface{}) {
	c := s.c
	col.retentionOf = func(instanceID, topic string) Optional { return c.cloudRetention(col, instanceID, topic) }
	instances, err := c.instances(col)
	if err != nil {
		col.report(err, "")
		if len(instances) == 0 {
			col.expectAllKnown()
		}
	}
	var wg sync.WaitGroup
	for _, in := range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			col.collectInstance(in, &wg)
		}()
	}
	wg.Wait()
	col.lookups.Wait()
	fields := map[string]interface{}{
		"instances":    int64(len(instances)),
		"groups":       int64(col.groups),
		"api_requests": col.stats.requests.Load(),
		"api_errors":   col.stats.errors.Load(),
		"throttled":    col.stats.throttled.Load(),
		"rate_limit":   c.api.pace.Rate(paceAction),
	}
	return map[string]string{"region": c.Region}, fields
}

// kafkaCollector collects over the Kafka protocol.
type kafkaCollector struct{ c *CKafkaLag }

func (s kafkaCollector) collect(col *collection) (map[string]string, map[string]interface{}) {
	c := s.c
	in, groups := c.gatherKafka(col)
	col.mu.Lock()
	col.groups = groups
	col.mu.Unlock()
	tags := map[string]string{}
	if c.Region != "" {
		tags["region"] = c.Region
	}
	if in.ID != "" {
		tags["instance_id"] = in.ID
	}
	fields := map[string]interface{}{
		"groups":             int64(groups),
		"requests":           col.stats.requests.Load(),
		"api_errors":         col.stats.errors.Load(),
		"time_lag_fallbacks": col.fallbacks.Load(),
	}
	return tags, fields
}

// CollectOnce tells the plugin that it will collect once and exit
// (ckafka_lag -once): what only the next collection would use is not kept.
func (c *CKafkaLag) CollectOnce() {
	c.trackerMu.Lock()
	defer c.trackerMu.Unlock()
	c.tracker.settings.Once = true
}

// sweep lets the tracker forget what it has not seen for history_window.
func (c *CKafkaLag) sweep() {
	c.trackerMu.Lock()
	c.tracker.sweep(c.clock())
	c.trackerMu.Unlock()
}

func (col *collection) emitGroup(in instanceInfo, group string, topics []TopicLag, times []TopicTime, info *groupInfo) {
	tags := func(extra ...string) map[string]string {
		t := map[string]string{"instance_id": in.ID, "group": group}
		if col.c.Region != "" {
			t["region"] = col.c.Region
		}
		if in.Name != "" {
			t["instance_name"] = in.Name
		}
		for i := 0; i+1 < len(extra); i += 2 {
			t[extra[i]] = extra[i+1]
		}
		return t
	}
	for i, t := range topics {
		tt := times[i]
		fields := map[string]interface{}{
			"lag":                    t.Lag,
			"max_partition_lag":      t.MaxPartitionLag,
			"partitions":             t.Partitions,
			"uncommitted_partitions": t.Uncommitted,
			"committed_offset":       t.Committed,
			"log_end_offset":         t.LogEnd,
			"stalled":                tt.Stalled,
		}
		addOptional(fields, "lag_seconds", tt.LagSeconds)
		addOptional(fields, "produce_rate", tt.ProduceRate)
		addOptional(fields, "consume_rate", tt.ConsumeRate)
		addOptional(fields, "drain_seconds", tt.DrainSeconds)
		retention := col.retention(in.ID, t.Topic)
		perPartition := make([]RetentionFields, len(tt.Partitions))
		for j, pt := range tt.Partitions {
			perPartition[j] = CalculateRetention(retention, pt.Lag, pt.LagSeconds, pt.ProduceRate, pt.ConsumeRate)
		}
		r := CalculateRetention(retention, known(float64(t.Lag)), tt.LagSeconds, tt.ProduceRate, tt.ConsumeRate)
		if len(perPartition) > 0 {
			r.LossETA = TopicLossETA(perPartition) // the soonest partition decides, not the sums
		}
		addRetention(fields, r)
		if t.LostKnown {
			fields["lost_messages"] = t.Lost
		}
		if info != nil {
			fields["group_state"] = info.State
			if info.MembersKnown {
				fields["group_members"] = info.Members
			}
		}
		col.acc.AddFields("ckafka_lag", fields, tags("topic", t.Topic), col.now)
		for j, p := range t.PartitionLags {
			fields := map[string]interface{}{
				"lag":              p.Lag,
				"committed_offset": p.Committed,
				"log_end_offset":   p.LogEnd,
			}
			pt := tt.Partitions[j]
			addOptional(fields, "lag_seconds", pt.LagSeconds)
			addOptional(fields, "produce_rate", pt.ProduceRate)
			addOptional(fields, "consume_rate", pt.ConsumeRate)
			r := perPartition[j]
			addOptional(fields, "retention_headroom_seconds", r.Headroom)
			addOptional(fields, "loss_eta_seconds", r.LossETA)
			if p.LostKnown {
				fields["lost_messages"] = p.Lost
			}
			col.acc.AddFields("ckafka_partition_lag", fields, tags("topic", t.Topic, "partition", fmt.Sprint(p.Partition)), col.now)
		}
	}
	g := CalculateGroupLag(topics)
	gt := CalculateGroupTime(topics, times)
	fields := map[string]interface{}{
		"lag":               g.Lag,
		"max_partition_lag": g.MaxPartitionLag,
		"topics":            g.Topics,
		"stalled":           gt.Stalled,
	}
	addOptional(fields, "lag_seconds", gt.LagSeconds)
	addOptional(fields, "produce_rate", gt.ProduceRate)
	addOptional(fields, "consume_rate", gt.ConsumeRate)
	if info != nil {
		fields["state"] = info.State
		if info.MembersKnown {
			fields["members"] = info.Members
		}
	}
	col.acc.AddFields("ckafka_group_lag", fields, tags(), col.now)
}

// retention is a topic's retention in seconds, when the source knows it.
func (col *collection) retention(instanceID, topic string) Optional {
	if col.retentionOf == nil {
		return Optional{}
	}
	return col.retentionOf(instanceID, topic)
}

// addOptional adds a value only when it is known: an unknown rate is
// absent, never 0 and never NaN.
func addOptional(fields map[string]interface{}, name string, v Optional) {
	if v.Known {
		fields[name] = v.Value
	}
}

// defaultRateLimitMax caps rate_limit = "auto": Tencent Cloud documents
// 100 requests/s per action and sub-account for the group and offset reads.
const defaultRateLimitMax = 100

// paceAction is the action whose pace ckafka_lag_gather reports as
// rate_limit: the one a collection is made of.
const paceAction = "DescribeGroupOffsets"

// New returns the plugin with its defaults (the cloud API's endpoint and
// rate limit are set by Init: with source = "kafka" they are errors).
func New() *CKafkaLag {
	return &CKafkaLag{
		Groups:         []string{"*"},
		Topics:         []string{"*"},
		Timeout:        config.Duration(10 * time.Second),
		MaxConcurrency: 8,
		GroupInfo:      true,
		StallIntervals: 3,
		HistoryWindow:  config.Duration(time.Hour),
		HistorySamples: 64,
		// Retention changes rarely; asking costs a request per topic.
		RetentionRefresh: config.Duration(10 * time.Minute),
	}
}

func init() {
	inputs.Add("ckafka_lag", func() telegraf.Input { return New() })
}
