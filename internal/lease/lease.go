// Package lease makes one process of several the active one, using a Kafka
// consumer group as the lease: every process joins the group on a topic of
// one partition, and the group coordinator assigns that partition to one
// member at a time. The member holding it is active; the others stand by.
//
// A lease is only as good as its freshness: a process paused longer than
// the session timeout has been replaced without knowing it. Held therefore
// also asks that the coordinator answered within half the session timeout,
// and after a late answer it waits for one more before it trusts the lease.
package lease

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Config names the lease.
// The defaults of the pair's keys, for the output's members and the
// collectors that follow them alike: one place, so the two cannot drift.
const (
	// DefaultName is the lease's topic and group when none is configured.
	DefaultName = "ckafka_lag_alerting"
	// DefaultSessionTimeout is the session timeout when none is configured.
	DefaultSessionTimeout = 10 * time.Second
)

type Config struct {
	Topic  string
	Group  string
	Member string // the member's name, told to the others in the client ID
	// Host is the machine the member runs on, told with its name, so that
	// a process on the same machine (the HA pair's collector) knows its
	// member without being told the name a second time. Empty: Member.
	Host           string
	SessionTimeout time.Duration
}

// Identity is who holds the lease: the member's name and its machine.
type Identity struct {
	Name, Host string
}

// clientID tells a member's identity in the one field every member of a
// group shows the others (the consumer protocol's metadata belongs to the
// balancer): the name, and "@host" when the host differs. A client ID
// without "@" (a member of 0.x, or one named after its host) is both.
func (id Identity) clientID() string {
	if id.Host == "" || id.Host == id.Name {
		return id.Name
	}
	return id.Name + "@" + id.Host
}

// parseClientID is clientID's inverse; host names hold no "@".
func parseClientID(s string) Identity {
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return Identity{Name: s[:i], Host: s[i+1:]}
	}
	return Identity{Name: s, Host: s}
}

// Lease is one process's membership of the group.
type Lease struct {
	cfg    Config
	client *kgo.Client
	now    func() time.Time

	mu         sync.Mutex
	assigned   bool
	lastAnswer time.Time // the coordinator's last answer to this member
	suspended  bool      // a late answer came; held again after the next
	dropped    int       // late answers, for tests
	joined     bool      // the group accepted this member at least once
	joinErr    error     // what stopped the member joining, until it joins
	changes    chan struct{}
}

// Start joins the group; the lease is not held until the coordinator
// assigns the partition. opts are the connection's options.
func Start(opts []kgo.Opt, cfg Config) (*Lease, error) {
	if cfg.SessionTimeout <= 0 {
		return nil, errors.New("session timeout must be positive")
	}
	l := &Lease{cfg: cfg, now: time.Now, changes: make(chan struct{}, 1)}
	opts = append(slices.Clone(opts),
		kgo.ClientID(Identity{Name: cfg.Member, Host: cfg.Host}.clientID()),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.DisableAutoCommit(),
		// Cooperative and sticky: a member joining does not move the
		// lease; only its holder leaving (or dying) does.
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.SessionTimeout(cfg.SessionTimeout),
		kgo.RebalanceTimeout(cfg.SessionTimeout),
		kgo.HeartbeatInterval(cfg.SessionTimeout/5),
		// Called after every join, with what it added (often nothing).
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, got map[string][]int32) {
			l.joinedGroup()
			if slices.Contains(got[cfg.Topic], 0) {
				l.set(true)
			}
		}),
		// Cooperative rebalances call these with what moved, often
		// nothing: only the lease's partition counts.
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, gone map[string][]int32) {
			if slices.Contains(gone[cfg.Topic], 0) {
				l.set(false)
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, gone map[string][]int32) {
			if slices.Contains(gone[cfg.Topic], 0) {
				l.set(false)
			}
		}),
		kgo.WithHooks(coordinatorHook{l}),
	)
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the group client: %w", err)
	}
	// The partition is a token, not data: never fetch it.
	client.PauseFetchTopics(cfg.Topic)
	l.client = client
	return l, nil
}

// coordinatorHook times the coordinator's answers to the group requests.
type coordinatorHook struct{ l *Lease }

// OnGroupManageError sees what ended a group session or stopped a join: an
// answer's error code (INVALID_SESSION_TIMEOUT, GROUP_AUTHORIZATION_FAILED)
// never reaches OnBrokerRead, which sees only the transport.
func (h coordinatorHook) OnGroupManageError(err error) {
	l := h.l
	l.mu.Lock()
	l.joinErr = err
	l.mu.Unlock()
	l.signal()
}

func (h coordinatorHook) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	switch kmsg.Key(key) {
	case kmsg.Heartbeat, kmsg.JoinGroup, kmsg.SyncGroup:
		if err == nil {
			h.l.answered()
		}
	}
}

// answered records an answer. An answer after a gap of more than half the
// session timeout (the process was paused, or the network cut) may be the
// one that says this member was replaced: the lease is suspended until the
// next answer finds it still assigned. Had the member been replaced, the
// group client has by then called OnPartitionsLost.
func (l *Lease) answered() {
	l.mu.Lock()
	now := l.now()
	switch {
	case l.assigned && now.Sub(l.lastAnswer) > l.cfg.SessionTimeout/2:
		l.suspended = true
		l.dropped++
	case l.assigned:
		l.suspended = false
	}
	l.lastAnswer = now
	l.mu.Unlock()
	l.signal()
}

func (l *Lease) joinedGroup() {
	l.mu.Lock()
	l.joined, l.joinErr = true, nil
	l.mu.Unlock()
	l.signal()
}

func (l *Lease) set(assigned bool) {
	l.mu.Lock()
	changed := l.assigned != assigned
	l.assigned = assigned
	if assigned {
		l.lastAnswer = l.now()
		l.suspended = false
	}
	l.mu.Unlock()
	if changed {
		l.signal()
	}
}

func (l *Lease) signal() {
	select {
	case l.changes <- struct{}{}:
	default:
	}
}

// Held reports whether this member holds the lease and the coordinator
// answered within half the session timeout: only then may it act.
func (l *Lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.assigned && !l.suspended && l.now().Sub(l.lastAnswer) <= l.cfg.SessionTimeout/2
}

// Assigned reports whether the group assigned the lease to this member,
// fresh or not.
func (l *Lease) Assigned() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.assigned
}

// Changes is signalled when the assignment may have changed.
func (l *Lease) Changes() <-chan struct{} { return l.changes }

// Holder asks the coordinator which member holds the lease; a zero
// Identity when none does (a rebalance is under way).
func (l *Lease) Holder(ctx context.Context) (Identity, error) {
	return Holder(ctx, l.client, l.cfg.Group, l.cfg.Topic)
}

// Holder asks the coordinator through client which member of group holds
// the lease on topic, without joining it.
func Holder(ctx context.Context, client *kgo.Client, group, topic string) (Identity, error) {
	groups, err := kadm.NewClient(client).DescribeGroups(ctx, group)
	if err != nil {
		return Identity{}, err
	}
	g, ok := groups[group]
	if !ok {
		return Identity{}, nil
	}
	if errors.Is(g.Err, kerr.GroupIDNotFound) {
		return Identity{}, nil // no member ever joined
	}
	if g.Err != nil {
		return Identity{}, g.Err
	}
	for _, m := range g.Members {
		assigned, ok := m.Assigned.AsConsumer()
		if !ok {
			continue
		}
		for _, t := range assigned.Topics {
			if t.Topic == topic && slices.Contains(t.Partitions, 0) {
				return parseClientID(m.ClientID), nil
			}
		}
	}
	return Identity{}, nil
}

// Close leaves the group, so that another member takes over at once
// rather than after the session timeout.
func (l *Lease) Close() {
	l.set(false)
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.SessionTimeout/2)
	defer cancel()
	_ = l.client.LeaveGroupContext(ctx)
	l.client.Close()
}

// Generation is the group's generation this member joined, which orders
// the writers of a log (0 before the first join).
func (l *Lease) Generation() int32 {
	_, gen := l.client.GroupMetadata()
	return max(gen, 0)
}

// Joined reports whether the group ever accepted this member: the brokers
// are reachable and the coordinator takes its settings. A coordinator that
// answers every JoinGroup with an error has answered, but not accepted.
func (l *Lease) Joined() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.joined
}

// JoinError is what stopped the member joining the group (the broker's
// error), nil once it joined. It also drops the error fetches the group
// client queues for a poll after each such error: the lease never polls
// (its partition is a token), and a member refused for days would keep
// them all. PollFetches(nil) returns at once.
func (l *Lease) JoinError() error {
	l.client.PollFetches(nil) //nolint:staticcheck // nil: do not block
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.joinErr
}
