package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/oncall"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/silence"
)

// maxRecordBytes bounds a record on our side; the topic's
// max.message.bytes (1 MB by default) is the real limit, and a state that
// outgrows it is reported by name.
const maxRecordBytes = 8 << 20

// Log reads the topic's one partition from its start into a Replica and
// appends records to it. Every member runs one, active or not.
type Log struct {
	client *kgo.Client
	topic  string
	member string

	mu       sync.Mutex
	replica  Replica
	applied  chan struct{}     // closed and replaced after each batch
	seq      uint64            // deliveries this process appended
	uncover  []string          // delivery keys not yet covered by a state
	parts    map[string][]byte // the parts as last appended (or read, at takeover)
	written  int64             // bytes appended, for the figures
	readErrs int
}

// Open connects the log; Run reads it.
func Open(opts []kgo.Opt, topic, member string) (*Log, error) {
	opts = append(slices.Clone(opts),
		kgo.ClientID(member),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(maxRecordBytes),
		kgo.ProducerBatchCompression(kgo.ZstdCompression(), kgo.SnappyCompression(), kgo.NoCompression()),
		kgo.ProducerLinger(0),
	)
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the log client: %w", err)
	}
	return &Log{client: client, topic: topic, member: member, applied: make(chan struct{})}, nil
}

// Client is the log's Kafka client (for the topic check).
func (l *Log) Client() *kgo.Client { return l.client }

// Run applies records until ctx ends; onErr hears of records it cannot
// read (they are skipped) and of fetch errors.
func (l *Log) Run(ctx context.Context, onErr func(error)) {
	for {
		fetches := l.client.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fetches.EachError(func(_ string, _ int32, err error) { onErr(fmt.Errorf("reading the cluster log: %w", err)) })
		l.mu.Lock()
		fetches.EachRecord(func(r *kgo.Record) {
			if err := l.replica.Apply(string(r.Key), r.Value, r.Offset); err != nil {
				l.readErrs++
				onErr(err)
			}
		})
		close(l.applied)
		l.applied = make(chan struct{})
		l.mu.Unlock()
	}
}

// CatchUp waits until every record written before it was called is
// applied, and returns the replica then: a takeover acts on nothing less.
func (l *Log) CatchUp(ctx context.Context) (Replica, error) {
	ends, err := kadm.NewClient(l.client).ListEndOffsets(ctx, l.topic)
	if err != nil {
		return Replica{}, fmt.Errorf("listing the log's end: %w", err)
	}
	end, ok := ends.Lookup(l.topic, 0)
	if !ok {
		return Replica{}, fmt.Errorf("listing the log's end: topic %q has no partition 0", l.topic)
	}
	if end.Err != nil {
		return Replica{}, fmt.Errorf("listing the log's end: %w", end.Err)
	}
	for {
		l.mu.Lock()
		if l.replica.Offset >= end.Offset {
			r := l.replica.Clone()
			l.mu.Unlock()
			return r, nil
		}
		wait := l.applied
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return Replica{}, fmt.Errorf("reading the log to offset %d: %w", end.Offset, ctx.Err())
		case <-wait:
		}
	}
}

// Replica returns what has been read so far.
func (l *Log) Replica() Replica {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.replica.Clone()
}

// AppendState appends a save: the parts that changed since the last one,
// tombstones for those gone, then the StateRecord that commits them, and
// tombstones for the deliveries it covers, all in one produce request.
// mark is DeliveryMark taken before the state was snapshotted.
func (l *Log) AppendState(ctx context.Context, generation int32, state []byte, savedAt time.Time, mark uint64) error {
	parts, err := Split(state)
	if err != nil {
		return err
	}
	rec := StateRecord{Member: l.member, Generation: generation, At: savedAt, Covers: mark}
	value, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	l.mu.Lock()
	changed, gone := diff(l.parts, parts)
	covered := 0
	for covered < len(l.uncover) && seqOf(l.uncover[covered]) <= mark {
		covered++
	}
	tombs := slices.Clone(l.uncover[:covered])
	l.mu.Unlock()
	records := make([]*kgo.Record, 0, len(changed)+len(gone)+1+len(tombs))
	keys := make([]string, 0, len(changed))
	for k := range changed {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		records = append(records, &kgo.Record{Topic: l.topic, Key: []byte(keyPart + k), Value: changed[k]})
	}
	for _, k := range gone {
		records = append(records, &kgo.Record{Topic: l.topic, Key: []byte(keyPart + k)})
	}
	records = append(records, &kgo.Record{Topic: l.topic, Key: []byte(keyState), Value: value})
	for _, k := range tombs {
		records = append(records, &kgo.Record{Topic: l.topic, Key: []byte(k)})
	}
	if err := l.produce(ctx, records...); err != nil {
		return fmt.Errorf("appending a save of %d part(s): %w", len(changed)+len(gone), err)
	}
	l.mu.Lock()
	l.parts = parts
	l.uncover = l.uncover[min(covered, len(l.uncover)):]
	l.mu.Unlock()
	return nil
}

// Baseline sets what the log holds, so that the next save appends only
// what differs: a member taking over passes the replica's. Parts a dead
// member appended without their StateRecord would be committed by the
// next save's: the next save rewrites or removes each of them.
func (l *Log) Baseline(r Replica) {
	parts := make(map[string][]byte, len(r.Parts)+len(r.pending))
	for k, v := range r.Parts {
		parts[k] = v
	}
	for k := range r.pending {
		parts[k] = orphan
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.parts = parts
}

// orphan marks a part whose value in the log is unknown: never equal to a
// part's JSON, so it is always rewritten.
var orphan = []byte{0}

// DeliveryMark is the sequence number of the last delivery appended.
func (l *Log) DeliveryMark() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq
}

// AppendDelivery writes one accepted delivery.
func (l *Log) AppendDelivery(ctx context.Context, generation int32, d notify.Delivered) error {
	l.mu.Lock()
	l.seq++
	rec := DeliveryRecord{Member: l.member, Generation: generation, Seq: l.seq, Delivered: d}
	key := deliveryKey(l.member, l.seq)
	l.uncover = append(l.uncover, key)
	l.mu.Unlock()
	value, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return l.produce(ctx, &kgo.Record{Topic: l.topic, Key: []byte(key), Value: value})
}

// AppendSilence writes a silence (new, or expired early).
func (l *Log) AppendSilence(ctx context.Context, s silence.Silence) error {
	value, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return l.produce(ctx, &kgo.Record{Topic: l.topic, Key: []byte(keySilence + s.ID), Value: value})
}

// AppendOverride writes a roster override (new, or expired early).
func (l *Log) AppendOverride(ctx context.Context, o oncall.Override) error {
	value, err := json.Marshal(o)
	if err != nil {
		return err
	}
	return l.produce(ctx, &kgo.Record{Topic: l.topic, Key: []byte(keyOverride + o.ID), Value: value})
}

// AppendCall writes a call result a standby received.
func (l *Log) AppendCall(ctx context.Context, c CallRecord) error {
	value, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return l.produce(ctx, &kgo.Record{Topic: l.topic, Key: []byte(c.key()), Value: value})
}

func (l *Log) produce(ctx context.Context, records ...*kgo.Record) error {
	n := 0
	for _, r := range records {
		r.Partition = 0
		n += len(r.Key) + len(r.Value)
	}
	if err := l.client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return err
	}
	l.mu.Lock()
	l.written += int64(n)
	l.mu.Unlock()
	return nil
}

// Written is the bytes of keys and values appended by this process.
func (l *Log) Written() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.written
}

// Close releases the client.
func (l *Log) Close() { l.client.Close() }

func seqOf(key string) uint64 {
	n, _ := strconv.ParseUint(key[strings.LastIndexByte(key, '/')+1:], 10, 64)
	return n
}
