package ckafka_lag

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/kafkaconn"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/lease"
)

// The HA pair's collector side. The output's members hold a lease in
// cluster_group (package lease); the collector follows it rather than
// holding its own: it collects on the host whose output is active, so the
// active output receives the lag metrics and the sub-account's API rate
// limit is spent once. A standby emits ckafka_lag_gather with role =
// "standby" only.

const (
	roleActive  = "active"
	roleStandby = "standby"
)

// collectorLease follows the output's lease.
type collectorLease struct {
	client *kgo.Client // asks the group's coordinator; never joins
	// cfg.Member is cluster_member_name: when set, the output member to
	// follow by name; otherwise the collector follows the member on its
	// machine (cfg.Host), which the output tells in its lease.
	cfg     lease.Config
	noneFor time.Time // since when no member holds the lease
	orphan  bool      // collecting for lack of a holder (warned once)
}

// follows reports whether the lease's holder is the output this collector
// serves.
func (cl *collectorLease) follows(holder lease.Identity) bool {
	if cl.cfg.Member != "" {
		return holder.Name == cl.cfg.Member
	}
	return holder.Host == cl.cfg.Host
}

// clusterKeysSet reports whether a cluster key is set.
func (c *CKafkaLag) clusterKeysSet() string {
	keys := map[string]bool{
		"cluster_group": c.ClusterGroup != "", "cluster_topic": c.ClusterTopic != "",
		"cluster_member_name": c.ClusterMemberName != "", "cluster_session_timeout": c.ClusterSessionTimeout != 0,
	}
	return firstSet(keys)
}

// initCluster validates the cluster keys. The connection uses the same
// sasl_* and tls_* keys as source = "kafka".
func (c *CKafkaLag) initCluster() error {
	if len(c.ClusterBrokers) == 0 {
		if key := c.clusterKeysSet(); key != "" {
			return fmt.Errorf("%s needs cluster_brokers", key)
		}
		return nil
	}
	conn := kafkaconn.Config{Brokers: c.ClusterBrokers, SASLMechanism: c.SASLMechanism, SASLUsername: c.SASLUsername,
		SASLPassword: c.SASLPassword, ClientConfig: c.ClientConfig}
	opts, _, err := conn.Opts("cluster_", time.Duration(c.Timeout))
	if err != nil {
		return err
	}
	cfg := lease.Config{Topic: c.ClusterTopic, Group: c.ClusterGroup, Member: c.ClusterMemberName,
		SessionTimeout: time.Duration(c.ClusterSessionTimeout)}
	if cfg.Topic == "" {
		cfg.Topic = lease.DefaultName
	}
	if cfg.Group == "" {
		cfg.Group = lease.DefaultName
	}
	if cfg.Host, err = os.Hostname(); err != nil && cfg.Member == "" {
		return fmt.Errorf("cluster_member_name: not set and the hostname is unknown: %w", err)
	}
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = lease.DefaultSessionTimeout
	}
	if cfg.SessionTimeout < time.Second {
		return fmt.Errorf("cluster_session_timeout: %s is below 1s", cfg.SessionTimeout)
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("cluster_brokers: %w", err)
	}
	c.pair = &collectorLease{client: client, cfg: cfg}
	return nil
}

// role says whether this member collects, and which member does. With no
// holder for two session timeouts (no output member runs, or all fell back
// to stand-alone), it collects: twice the API calls beat a silent pair.
func (c *CKafkaLag) role(ctx context.Context) (role, active string, err error) {
	cl := c.pair
	actx, cancel := context.WithTimeout(ctx, cl.cfg.SessionTimeout)
	defer cancel()
	holder, err := lease.Holder(actx, cl.client, cl.cfg.Group, cl.cfg.Topic)
	if err != nil {
		return "", "", fmt.Errorf("cluster_brokers %v: asking group %q for its active member: %w", c.ClusterBrokers, cl.cfg.Group, err)
	}
	now := c.clock()
	if holder.Name != "" {
		cl.noneFor, cl.orphan = time.Time{}, false
		if cl.follows(holder) {
			return roleActive, holder.Name, nil
		}
		return roleStandby, holder.Name, nil
	}
	if cl.noneFor.IsZero() {
		cl.noneFor = now
	}
	if now.Sub(cl.noneFor) <= 2*cl.cfg.SessionTimeout {
		return roleStandby, "", nil
	}
	if !cl.orphan {
		cl.orphan = true
		c.Log.Warnf("Cluster: no member of group %q has been active for %s; collecting here", cl.cfg.Group, now.Sub(cl.noneFor).Round(time.Second))
	}
	return roleActive, "", nil
}

// gatherStandby emits the standby's ckafka_lag_gather; tags as the active's.
func (c *CKafkaLag) gatherStandby(acc interface {
	AddFields(string, map[string]interface{}, map[string]string, ...time.Time)
}, active string, start time.Time) {
	tags := map[string]string{}
	if c.Region != "" {
		tags["region"] = c.Region
	}
	if c.Source == sourceKafka && c.InstanceID != "" {
		tags["instance_id"] = c.InstanceID
	}
	fields := map[string]interface{}{"role": roleStandby, "groups": int64(0), "failed_groups": int64(0)}
	if active != "" {
		fields["active"] = active
	}
	acc.AddFields("ckafka_lag_gather", fields, tags, start)
}

// Stop closes the cluster client.
func (c *CKafkaLag) Stop() {
	if c.pair != nil {
		c.pair.client.Close()
	}
}
