package ckafka_lag

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/lease"
)

// Two collectors of an HA pair follow the output's lease: the host whose
// output holds it collects; the other emits its ckafka_lag_gather with role
// "standby" and names the active one. When the lease moves, so does the
// collection.
func TestClusterOnlyTheActiveCollects(t *testing.T) {
	e := startKafka(t, nil, kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "100"}))
	e.commit(t, "billing", map[string]map[int32]int64{"orders": {0: 5, 1: 10}})
	member := func(name string) func(*CKafkaLag) {
		return func(c *CKafkaLag) {
			c.ClusterBrokers = e.addrs
			c.ClusterMemberName = name
			c.ClusterSessionTimeout = config.Duration(time.Second)
			c.Groups = []string{"billing"}
		}
	}
	a := newKafkaPlugin(t, e, member("host-a"))
	b := newKafkaPlugin(t, e, member("host-b"))
	t.Cleanup(a.Stop)
	t.Cleanup(b.Stop)
	output := func(name string) *lease.Lease {
		l, err := lease.Start([]kgo.Opt{kgo.SeedBrokers(e.addrs...)}, lease.Config{Topic: lease.DefaultName,
			Group: lease.DefaultName, Member: name, SessionTimeout: time.Second})
		require.NoError(t, err)
		return l
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.addrs...))
	require.NoError(t, err)
	_, err = lease.EnsureTopic(context.Background(), cl, lease.DefaultName, "cluster.topic")
	cl.Close()
	require.NoError(t, err)
	outA := output("host-a")
	require.Eventually(t, outA.Held, 20*time.Second, 20*time.Millisecond)

	gather := func(c *CKafkaLag) (lagged bool, fields map[string]interface{}) {
		var acc testutil.Accumulator
		require.NoError(t, c.Gather(&acc))
		require.Empty(t, acc.Errors)
		g := byName(&acc, "ckafka_lag_gather")
		require.Len(t, g, 1)
		return len(kafkaLag(&acc)) > 0, g[0].Fields()
	}
	la, fa := gather(a)
	lb, fb := gather(b)
	require.True(t, la, "host-a's output is active: host-a collects")
	require.Equal(t, "active", fa["role"])
	require.False(t, lb, "host-b stands by")
	require.Equal(t, map[string]interface{}{"role": "standby", "active": "host-a", "groups": int64(0), "failed_groups": int64(0)}, fb)

	outB := output("host-b")
	defer outB.Close()
	outA.Close()
	require.Eventually(t, outB.Held, 20*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		lb, fb := gather(b)
		la, fa := gather(a)
		return lb && fb["role"] == "active" && !la && fa["active"] == "host-b"
	}, 10*time.Second, 50*time.Millisecond, "the collection follows the lease")
}

// The output's member_name need not be told to the collector: the output
// tells its machine in the lease, and a collector without
// cluster_member_name follows the member on its own machine, whatever that
// member is called. (Before, it looked for a member named after the
// hostname, and both collectors of a pair named "host-a"/"host-b" stood by
// for ever.)
func TestClusterFollowsTheMemberOnItsMachine(t *testing.T) {
	e := startKafka(t, nil, kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "100"}))
	e.commit(t, "billing", map[string]map[int32]int64{"orders": {0: 5}})
	c := newKafkaPlugin(t, e, func(c *CKafkaLag) {
		c.ClusterBrokers = e.addrs
		c.ClusterSessionTimeout = config.Duration(time.Second)
	})
	t.Cleanup(c.Stop)
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.addrs...))
	require.NoError(t, err)
	_, err = lease.EnsureTopic(context.Background(), cl, lease.DefaultName, "cluster.topic")
	cl.Close()
	require.NoError(t, err)
	host, err := os.Hostname()
	require.NoError(t, err)

	tests := []struct {
		name, member, host string
		want               string
	}{
		{name: "a member named otherwise on this machine", member: "host-a", host: host, want: roleActive},
		{name: "a member on another machine", member: "host-b", host: "elsewhere", want: roleStandby},
		{name: "a member of 0.x named after this machine", member: host, want: roleActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := lease.Start([]kgo.Opt{kgo.SeedBrokers(e.addrs...)}, lease.Config{Topic: lease.DefaultName,
				Group: lease.DefaultName, Member: tt.member, Host: tt.host, SessionTimeout: time.Second})
			require.NoError(t, err)
			defer out.Close()
			require.Eventually(t, out.Held, 20*time.Second, 20*time.Millisecond)
			require.Eventually(t, func() bool {
				role, active, err := c.role(context.Background())
				return err == nil && role == tt.want && active == tt.member
			}, 10*time.Second, 50*time.Millisecond, "the collector is %s while %s@%s holds the lease", tt.want, tt.member, tt.host)
		})
	}
}

// With no member holding the lease for two session timeouts, a collector
// collects rather than leave the pair silent.
func TestClusterCollectsWithoutHolder(t *testing.T) {
	e := startKafka(t, nil)
	e.commit(t, "billing", map[string]map[int32]int64{"orders": {0: 5}})
	now := time.Now()
	c := newKafkaPlugin(t, e, func(c *CKafkaLag) {
		c.ClusterBrokers = e.addrs
		c.ClusterMemberName = "host-a"
		c.ClusterSessionTimeout = config.Duration(time.Second)
		c.clock = func() time.Time { return now }
	})
	t.Cleanup(c.Stop)
	role, _, err := c.role(context.Background())
	require.NoError(t, err)
	require.Equal(t, roleStandby, role, "a rebalance may be under way")
	now = now.Add(2*time.Second + time.Millisecond)
	role, _, err = c.role(context.Background())
	require.NoError(t, err)
	require.Equal(t, roleActive, role)
}

func TestClusterKeysNeedBrokers(t *testing.T) {
	c := New()
	c.Region = "ap-guangzhou"
	c.SecretID, c.SecretKey = "id", config.NewSecret([]byte("key"))
	c.ClusterGroup = "g"
	require.ErrorContains(t, c.Init(), "cluster_group needs cluster_brokers")
	c.ClusterBrokers = []string{"nohost"}
	require.ErrorContains(t, c.Init(), `cluster_brokers[0]: "nohost" is not host:port`)
}
