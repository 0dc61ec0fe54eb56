// Package ckafka is a fake of the CKafka API 3.0 (version 2019-08-19):
// DescribeInstances, DescribeGroup, DescribeGroupOffsets,
// DescribeGroupInfo and DescribeTopicAttributes with the documented paging limits and JSON shapes, over
// a state that tests and the demo change between collections, and offsets
// that can advance at set rates (SetFlow). Faults, latency and throttling
// come from the embedded tcapi.Server.
package ckafka

import (
	"fmt"
	"sync"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/tcapi"
)

// Service is the API's service name, part of the TC3 credential scope.
const Service = "ckafka"

// Instance status codes of DescribeInstances.
const (
	StatusCreating = 0
	StatusRunning  = 1
	StatusDeleting = 2
)

// Partition is one partition of a group's view of a topic. Committed is -1
// when the group never committed. LogEnd belongs to the topic: setting it
// for one group sets it for all groups reading the topic. A LogEnd of
// NoLogEnd makes the fake omit LogEndOffset and answer APILag in Lag, as
// some API versions do.
type Partition struct {
	Committed int64
	LogEnd    int64
	APILag    int64
}

// NoLogEnd marks a partition whose LogEndOffset the fake leaves out.
const NoLogEnd = -2

type instance struct {
	id, name string
	status   int
	groups   map[string]*group
	topics   map[string]*topicLog
}

// topicLog is a topic's log end offsets, shared by every group that reads
// it, as in Kafka; producers move them at a rate.
type topicLog struct {
	// retentionMs is answered by DescribeTopicAttributes; 0 answers null.
	retentionMs int64
	logEnd      []int64 // per partition; NoLogEnd: the answer omits it
	produce     float64 // messages per second per partition
	last        time.Time
	carry       []float64 // fractions of messages not yet whole
}

type group struct {
	protocol string
	topics   map[string]*groupTopic
	state    string
	members  int
}

// groupTopic is what a group committed on a topic; consumers move it at a
// rate, never past the log end.
type groupTopic struct {
	committed []int64 // -1: never committed
	apiLag    []int64 // answered in Lag when the log end is omitted
	consume   float64
	last      time.Time
	carry     []float64
}

// Fake is the CKafka API fake; serve it with httptest or net/http.
type Fake struct {
	*tcapi.Server

	// Now is the fake's clock for flows; time.Now unless a test sets it
	// before serving.
	Now func() time.Time
	// GroupInfoMax is the most groups one DescribeGroupInfo accepts; more
	// is answered with InvalidParameterValue (the API documents no maximum,
	// so clients must cope with one).
	GroupInfoMax int

	mu        sync.Mutex
	instances []*instance
}

// New returns an empty fake accepting the given SecretId → SecretKey pairs.
func New(keys map[string]string) *Fake {
	f := &Fake{Server: tcapi.New(Service, keys), Now: time.Now, GroupInfoMax: 50}
	f.Handle("DescribeInstances", f.describeInstances)
	f.Handle("DescribeGroup", f.describeGroup)
	f.Handle("DescribeGroupOffsets", f.describeGroupOffsets)
	f.Handle("DescribeGroupInfo", f.describeGroupInfo)
	f.Handle("DescribeTopicAttributes", f.describeTopicAttributes)
	return f
}

// AddInstance adds (or renames) an instance.
func (f *Fake) AddInstance(id, name string, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in := f.instance(id); in != nil {
		in.name, in.status = name, status
		return
	}
	f.instances = append(f.instances, &instance{id: id, name: name, status: status, groups: map[string]*group{}, topics: map[string]*topicLog{}})
}

// SetTopic sets a group's committed offsets on a topic and the topic's log
// end offsets (shared with the other groups reading it), creating group and
// topic.
func (f *Fake) SetTopic(instanceID, groupName, topic string, partitions []Partition) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tl, gt := f.topic(instanceID, groupName, topic)
	for i, p := range partitions {
		set(tl, gt, i, p)
	}
	gt.committed = gt.committed[:len(partitions)]
	gt.apiLag = gt.apiLag[:len(partitions)]
}

// SetRetention sets a topic's retention, which DescribeTopicAttributes
// answers as Result.Config.Retention (milliseconds); 0 answers null.
func (f *Fake) SetRetention(instanceID, topic string, retention time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in := f.instance(instanceID)
	if in == nil {
		return
	}
	if tl := in.topics[topic]; tl != nil {
		tl.retentionMs = retention.Milliseconds()
	}
}

// SetPartition changes one partition, creating group, topic and partition.
func (f *Fake) SetPartition(instanceID, groupName, topic string, partition int, p Partition) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tl, gt := f.topic(instanceID, groupName, topic)
	set(tl, gt, partition, p)
}

func set(tl *topicLog, gt *groupTopic, i int, p Partition) {
	for len(tl.logEnd) <= i {
		tl.logEnd, tl.carry = append(tl.logEnd, 0), append(tl.carry, 0)
	}
	for len(gt.committed) <= i {
		gt.committed, gt.apiLag, gt.carry = append(gt.committed, -1), append(gt.apiLag, 0), append(gt.carry, 0)
	}
	tl.logEnd[i], gt.committed[i], gt.apiLag[i] = p.LogEnd, p.Committed, p.APILag
}

// SetFlow makes producers add produce messages a second to each partition
// of the topic (for every group reading it) and the group commit consume a
// second, never past the log end (uncommitted partitions stay so). Rates
// of 0 stop them. The group's topic must exist (SetTopic).
func (f *Fake) SetFlow(instanceID, groupName, topic string, produce, consume float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tl, gt := f.topic(instanceID, groupName, topic)
	now := f.Now()
	advance(tl, gt, now)
	tl.produce, gt.consume = produce, consume
}

// SetGroupState sets what DescribeGroupInfo says of a group: its state
// (Stable, Empty, PreparingRebalance, Dead, ...) and, for Stable, how many
// members it lists. New groups are Stable with one member.
func (f *Fake) SetGroupState(instanceID, groupName, state string, members int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.group(instanceID, groupName)
	g.state, g.members = state, members
}

// Offsets returns a group's partitions of a topic as they are now (nil if
// the group never had the topic).
func (f *Fake) Offsets(instanceID, groupName, topic string) []Partition {
	f.mu.Lock()
	defer f.mu.Unlock()
	in := f.instance(instanceID)
	if in == nil || in.groups[groupName] == nil || in.groups[groupName].topics[topic] == nil {
		return nil
	}
	tl, gt := in.topics[topic], in.groups[groupName].topics[topic]
	advance(tl, gt, f.Now())
	return partitions(tl, gt)
}

func partitions(tl *topicLog, gt *groupTopic) []Partition {
	out := make([]Partition, len(tl.logEnd))
	for i, logEnd := range tl.logEnd {
		out[i] = Partition{Committed: -1, LogEnd: logEnd}
		if i < len(gt.committed) {
			out[i].Committed, out[i].APILag = gt.committed[i], gt.apiLag[i]
		}
	}
	return out
}

// advance moves the topic's log end and then the group's commits up to now.
func advance(tl *topicLog, gt *groupTopic, now time.Time) {
	if dt := now.Sub(tl.last).Seconds(); dt > 0 {
		for i := range tl.logEnd {
			if tl.logEnd[i] != NoLogEnd {
				tl.logEnd[i] += whole(&tl.carry[i], tl.produce*dt)
			}
		}
		tl.last = now
	}
	if dt := now.Sub(gt.last).Seconds(); dt > 0 {
		for i := range gt.committed {
			if gt.committed[i] < 0 || i >= len(tl.logEnd) || tl.logEnd[i] == NoLogEnd {
				continue
			}
			gt.committed[i] = min(gt.committed[i]+whole(&gt.carry[i], gt.consume*dt), tl.logEnd[i])
		}
		gt.last = now
	}
}

// whole adds n to the carry and takes out its whole part.
func whole(carry *float64, n float64) int64 {
	*carry += n
	w := int64(*carry)
	*carry -= float64(w)
	return w
}

// AddGroup creates a group with no committed topics.
func (f *Fake) AddGroup(instanceID, groupName string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.group(instanceID, groupName)
}

// RemoveGroup deletes a group.
func (f *Fake) RemoveGroup(instanceID, groupName string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in := f.instance(instanceID); in != nil {
		delete(in.groups, groupName)
	}
}

func (f *Fake) instance(id string) *instance {
	for _, in := range f.instances {
		if in.id == id {
			return in
		}
	}
	return nil
}

func (f *Fake) group(instanceID, name string) *group {
	in := f.instance(instanceID)
	if in == nil {
		panic(fmt.Sprintf("ckafka fake: instance %q not added", instanceID))
	}
	g := in.groups[name]
	if g == nil {
		g = &group{protocol: "consumer", topics: map[string]*groupTopic{}, state: "Stable", members: 1}
		in.groups[name] = g
	}
	return g
}

// topic returns the topic's log and the group's view of it, creating both;
// flows are brought up to now first, so a change starts from the present.
func (f *Fake) topic(instanceID, groupName, topic string) (*topicLog, *groupTopic) {
	g := f.group(instanceID, groupName)
	in := f.instance(instanceID)
	now := f.Now()
	tl := in.topics[topic]
	if tl == nil {
		tl = &topicLog{last: now}
		in.topics[topic] = tl
	}
	gt := g.topics[topic]
	if gt == nil {
		gt = &groupTopic{last: now}
		g.topics[topic] = gt
	}
	advance(tl, gt, now)
	return tl, gt
}
