package lease

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

const session = 1500 * time.Millisecond

func newCluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "100"}))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	require.NoError(t, err)
	defer cl.Close()
	warnings, err := EnsureTopic(context.Background(), cl, "lease", "cluster.topic")
	require.NoError(t, err)
	require.Empty(t, warnings)
	return c
}

func start(t *testing.T, c *kfake.Cluster, member string) *Lease {
	t.Helper()
	l, err := Start([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, Config{Topic: "lease", Group: "g", Member: member, Host: member + ".example", SessionTimeout: session})
	require.NoError(t, err)
	return l
}

// holders returns the members that hold their lease now.
func holders(ls map[string]*Lease) []string {
	var out []string
	for name, l := range ls {
		if l.Held() {
			out = append(out, name)
		}
	}
	return out
}

func TestOneHolderAndHandOver(t *testing.T) {
	c := newCluster(t)
	ls := map[string]*Lease{"host-a": start(t, c, "host-a"), "host-b": start(t, c, "host-b")}
	_, err := c.WaitGroupStable(context.Background(), "g", 2)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(holders(ls)) == 1 }, 20*time.Second, 20*time.Millisecond)
	first := holders(ls)[0]
	// Never two at once while the group settles.
	for range 50 {
		require.LessOrEqual(t, len(holders(ls)), 1)
		time.Sleep(10 * time.Millisecond)
	}
	holder, err := ls[first].Holder(context.Background())
	require.NoError(t, err)
	require.Equal(t, Identity{Name: first, Host: first + ".example"}, holder)

	ls[first].Close()
	delete(ls, first)
	require.Eventually(t, func() bool { return len(holders(ls)) == 1 }, 2*session+5*time.Second, 20*time.Millisecond)
	for _, l := range ls {
		l.Close()
	}
}

// A member that was paused (here: its clock jumps past the session
// timeout) must not act on its old lease: Held turns false at once, and
// the late answer makes it rejoin before it holds again.
func TestPausedMemberIsFenced(t *testing.T) {
	c := newCluster(t)
	l := start(t, c, "host-a")
	defer l.Close()
	require.Eventually(t, l.Held, 20*time.Second, 20*time.Millisecond)

	var mu sync.Mutex
	skew := time.Duration(0)
	l.mu.Lock()
	l.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(skew) }
	l.mu.Unlock()
	mu.Lock()
	skew = 2 * session
	mu.Unlock()
	require.False(t, l.Held(), "a stale lease is not held")
	// The next answer is late: the lease is suspended, and trusted again
	// after the next one finds it still assigned (no one replaced it).
	require.Eventually(t, func() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.dropped == 1 }, 5*time.Second, time.Millisecond)
	require.Eventually(t, l.Held, 20*time.Second, 20*time.Millisecond, "held again")
}

// A topic that cannot serve as the lease's is named in a warning.
func TestEnsureTopicWarns(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.CreateTopic("wide", 3, map[string]string{"cleanup.policy": "delete"}))
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	require.NoError(t, err)
	defer cl.Close()
	warnings, err := EnsureTopic(context.Background(), cl, "wide", "cluster.topic")
	require.NoError(t, err)
	require.Len(t, warnings, 2)
	require.Contains(t, warnings[0], `cluster.topic: topic "wide" has 3 partitions`)
	require.Contains(t, warnings[1], "cleanup.policy=delete")

	warnings, err = EnsureTopic(context.Background(), cl, "fresh", "cluster.topic")
	require.NoError(t, err)
	require.Empty(t, warnings, "a missing topic is created as the lease needs it")
	warnings, err = EnsureTopic(context.Background(), cl, "fresh", "cluster.topic")
	require.NoError(t, err)
	require.Empty(t, warnings, "one partition, compacted")
}

func TestClientID(t *testing.T) {
	tests := []struct {
		id   Identity
		want string
	}{
		{Identity{Name: "host-a", Host: "vm-17"}, "host-a@vm-17"},
		{Identity{Name: "vm-17", Host: "vm-17"}, "vm-17"},
		{Identity{Name: "host-a"}, "host-a"},
		{Identity{Name: "team@pair", Host: "vm-17"}, "team@pair@vm-17"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			require.Equal(t, tt.want, tt.id.clientID())
			back := parseClientID(tt.want)
			require.Equal(t, tt.id.Name, back.Name)
			require.Equal(t, max(tt.id.Host, tt.id.Name), back.Host, "no host: the name is the host (a 0.x member)")
		})
	}
}

// A session timeout below the brokers' group.min.session.timeout.ms (6s,
// Kafka's default and kfake's): the coordinator refuses every JoinGroup.
// The lease says why, and never counts the member as joined; the range
// check says the same before anything joins.
func TestJoinRefused(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	require.NoError(t, err)
	defer cl.Close()
	_, err = EnsureTopic(context.Background(), cl, "lease", "cluster.topic")
	require.NoError(t, err)

	r, err := SessionTimeouts(context.Background(), cl)
	require.NoError(t, err)
	require.Equal(t, 6*time.Second, r.Min)
	err = CheckSessionTimeout(context.Background(), cl, 4*time.Second, "cluster.session_timeout")
	require.ErrorContains(t, err, "cluster.session_timeout: 4s is outside the range the brokers accept (6s to 5m0s")
	require.NoError(t, CheckSessionTimeout(context.Background(), cl, 10*time.Second, "cluster.session_timeout"))

	l, err := Start([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, Config{Topic: "lease", Group: "g", Member: "host-a", SessionTimeout: 4 * time.Second})
	require.NoError(t, err)
	defer l.Close()
	require.Eventually(t, func() bool { return l.JoinError() != nil }, 20*time.Second, 20*time.Millisecond)
	require.ErrorIs(t, l.JoinError(), kerr.InvalidSessionTimeout)
	require.False(t, l.Joined())
	require.False(t, l.Held())
	msg := ExplainJoinError(l.JoinError(), "g", "cluster.session_timeout", 4*time.Second, r)
	require.Contains(t, msg, "INVALID_SESSION_TIMEOUT")
	require.Contains(t, msg, "set cluster.session_timeout (now 4s) within the range the brokers accept: 6s to 5m0s")
}
