package lease

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

const session = 1500 * time.Millisecond

func newCluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.GroupMinSessionTimeout(100*time.Millisecond))
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
	l, err := Start([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, Config{Topic: "lease", Group: "g", Member: member, SessionTimeout: session})
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
	require.Equal(t, first, holder)

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
