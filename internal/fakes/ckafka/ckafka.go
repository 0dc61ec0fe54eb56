// Package ckafka is a fake of the CKafka API 3.0 (version 2019-08-19):
// DescribeInstances, DescribeGroup, DescribeGroupOffsets and
// DescribeGroupInfo with the documented paging limits and JSON shapes, over
// a state that tests and the demo change between collections, and offsets
// that can advance at set rates (SetFlow). Faults, latency and throttling
// come from the embedded tcapi.Server.
package ckafka

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
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
// when the group never committed. A LogEnd of NoLogEnd makes the fake omit
// LogEndOffset and answer APILag in Lag, as some API versions do.
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
}

type group struct {
	protocol string
	topics   map[string][]Partition
	flows    map[string]*flow
	state    string
	members  int
}

// flow moves a topic's offsets at constant rates per partition.
type flow struct {
	produce, consume float64 // messages per second per partition
	last             time.Time
	carryP, carryC   []float64 // fractions of messages not yet whole
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
	return f
}

// SetFlow makes a group's topic move from now on: each partition's log end
// grows by produce messages a second and its committed offset by consume
// (never past the log end; uncommitted partitions stay so). Rates of 0 stop
// it. The topic must exist (SetTopic).
func (f *Fake) SetFlow(instanceID, groupName, topic string, produce, consume float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.group(instanceID, groupName)
	f.advance(g)
	n := len(g.topics[topic])
	g.flows[topic] = &flow{produce: produce, consume: consume, last: f.Now(), carryP: make([]float64, n), carryC: make([]float64, n)}
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

// Offsets returns a group's partitions of a topic as they are now.
func (f *Fake) Offsets(instanceID, groupName, topic string) []Partition {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.group(instanceID, groupName)
	f.advance(g)
	return append([]Partition(nil), g.topics[topic]...)
}

// advance moves the group's flowing topics up to now; f.mu is held.
func (f *Fake) advance(g *group) {
	now := f.Now()
	for topic, fl := range g.flows {
		dt := now.Sub(fl.last).Seconds()
		if dt <= 0 {
			continue
		}
		fl.last = now
		parts := g.topics[topic]
		for i := range parts {
			if i >= len(fl.carryP) {
				fl.carryP, fl.carryC = append(fl.carryP, 0), append(fl.carryC, 0)
			}
			p := &parts[i]
			if p.LogEnd == NoLogEnd {
				continue
			}
			fl.carryP[i] += fl.produce * dt
			whole := int64(fl.carryP[i])
			fl.carryP[i] -= float64(whole)
			p.LogEnd += whole
			if p.Committed < 0 {
				continue
			}
			fl.carryC[i] += fl.consume * dt
			whole = int64(fl.carryC[i])
			fl.carryC[i] -= float64(whole)
			p.Committed = min(p.Committed+whole, p.LogEnd)
		}
	}
}

// AddInstance adds (or renames) an instance.
func (f *Fake) AddInstance(id, name string, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in := f.instance(id); in != nil {
		in.name, in.status = name, status
		return
	}
	f.instances = append(f.instances, &instance{id: id, name: name, status: status, groups: map[string]*group{}})
}

// SetTopic replaces a group's partitions of one topic, creating the group.
func (f *Fake) SetTopic(instanceID, groupName, topic string, partitions []Partition) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.group(instanceID, groupName)
	g.topics[topic] = append([]Partition(nil), partitions...)
}

// SetPartition changes one partition, creating group, topic and partition.
func (f *Fake) SetPartition(instanceID, groupName, topic string, partition int, p Partition) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.group(instanceID, groupName)
	parts := g.topics[topic]
	for len(parts) <= partition {
		parts = append(parts, Partition{Committed: -1})
	}
	parts[partition] = p
	g.topics[topic] = parts
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
		g = &group{protocol: "consumer", topics: map[string][]Partition{}, flows: map[string]*flow{}, state: "Stable", members: 1}
		in.groups[name] = g
	}
	return g
}

func page(total, offset, limit int) (from, to int) {
	from = min(max(offset, 0), total)
	return from, min(from+limit, total)
}

func checkLimit(limit *int, def, maximum int) *tcapi.Error {
	if *limit == 0 {
		*limit = def
	}
	if *limit < 0 || *limit > maximum {
		return &tcapi.Error{Code: "InvalidParameterValue", Message: fmt.Sprintf("Limit must be between 1 and %d", maximum)}
	}
	return nil
}

type instanceJSON struct {
	InstanceID   string `json:"InstanceId"`
	InstanceName string `json:"InstanceName"`
	Vip          string `json:"Vip"`
	Vport        string `json:"Vport"`
	Status       int    `json:"Status"`
	Bandwidth    int    `json:"Bandwidth"`
	DiskSize     int    `json:"DiskSize"`
	ZoneID       int    `json:"ZoneId"`
	IsInternal   int    `json:"IsInternal"`
	TopicNum     int    `json:"TopicNum"`
}

func (f *Fake) describeInstances(params json.RawMessage) (any, *tcapi.Error) {
	var p struct {
		InstanceID string `json:"InstanceId"`
		SearchWord string
		Status     []int
		Offset     int
		Limit      int
	}
	if err := tcapi.DecodeParams(params, &p); err != nil {
		return nil, err
	}
	if err := checkLimit(&p.Limit, 10, 100); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var list []instanceJSON
	for _, in := range f.instances {
		if p.InstanceID != "" && in.id != p.InstanceID {
			continue
		}
		if p.SearchWord != "" && !strings.Contains(in.id, p.SearchWord) && !strings.Contains(in.name, p.SearchWord) {
			continue
		}
		if len(p.Status) > 0 && !containsInt(p.Status, in.status) {
			continue
		}
		list = append(list, instanceJSON{InstanceID: in.id, InstanceName: in.name, Status: in.status,
			Vip: "10.0.0.1", Vport: "9092", Bandwidth: 40, DiskSize: 500, ZoneID: 100003, TopicNum: 1})
	}
	from, to := page(len(list), p.Offset, p.Limit)
	return map[string]any{"Result": map[string]any{"TotalCount": len(list), "InstanceList": nonNil(list[from:to])}}, nil
}

func (f *Fake) describeGroup(params json.RawMessage) (any, *tcapi.Error) {
	var p struct {
		InstanceID string `json:"InstanceId"`
		SearchWord string
		Offset     int
		Limit      int
	}
	if err := tcapi.DecodeParams(params, &p); err != nil {
		return nil, err
	}
	if p.InstanceID == "" {
		return nil, &tcapi.Error{Code: "MissingParameter", Message: "The request is missing a required parameter `InstanceId`."}
	}
	if err := checkLimit(&p.Limit, 20, 100); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	in := f.instance(p.InstanceID)
	if in == nil {
		return nil, &tcapi.Error{Code: "InvalidParameterValue.InstanceNotExist", Message: "The instance " + p.InstanceID + " does not exist."}
	}
	names := make([]string, 0, len(in.groups))
	for name := range in.groups {
		if p.SearchWord == "" || strings.Contains(name, p.SearchWord) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	from, to := page(len(names), p.Offset, p.Limit)
	list := make([]map[string]string, 0, to-from)
	for _, name := range names[from:to] {
		list = append(list, map[string]string{"Group": name, "Protocol": in.groups[name].protocol})
	}
	return map[string]any{"Result": map[string]any{"TotalCount": len(names), "GroupList": list, "GroupCountQuota": 1000}}, nil
}

type partitionJSON struct {
	Partition    int    `json:"Partition"`
	Offset       int64  `json:"Offset"`
	Metadata     string `json:"Metadata"`
	ErrorCode    int    `json:"ErrorCode"`
	LogEndOffset *int64 `json:"LogEndOffset,omitempty"`
	Lag          int64  `json:"Lag"`
}

func (f *Fake) describeGroupOffsets(params json.RawMessage) (any, *tcapi.Error) {
	var p struct {
		InstanceID string `json:"InstanceId"`
		Group      string
		Topics     []string
		SearchWord string
		Offset     int
		Limit      int
	}
	if err := tcapi.DecodeParams(params, &p); err != nil {
		return nil, err
	}
	if p.InstanceID == "" || p.Group == "" {
		return nil, &tcapi.Error{Code: "MissingParameter", Message: "The request is missing a required parameter `InstanceId` or `Group`."}
	}
	if err := checkLimit(&p.Limit, 50, 50); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	in := f.instance(p.InstanceID)
	if in == nil {
		return nil, &tcapi.Error{Code: "InvalidParameterValue.InstanceNotExist", Message: "The instance " + p.InstanceID + " does not exist."}
	}
	g := in.groups[p.Group]
	if g == nil {
		return nil, &tcapi.Error{Code: "ResourceNotFound", Message: "The consumer group " + p.Group + " does not exist."}
	}
	f.advance(g)
	topics := make([]string, 0, len(g.topics))
	for t := range g.topics {
		if (len(p.Topics) == 0 || containsString(p.Topics, t)) && (p.SearchWord == "" || strings.Contains(t, p.SearchWord)) {
			topics = append(topics, t)
		}
	}
	sort.Strings(topics)
	from, to := page(len(topics), p.Offset, p.Limit)
	list := make([]map[string]any, 0, to-from)
	for _, t := range topics[from:to] {
		parts := make([]partitionJSON, 0, len(g.topics[t]))
		for i, part := range g.topics[t] {
			pj := partitionJSON{Partition: i, Offset: part.Committed, Metadata: ""}
			if part.LogEnd != NoLogEnd {
				logEnd := part.LogEnd
				pj.LogEndOffset = &logEnd
				if part.Committed >= 0 {
					pj.Lag = logEnd - part.Committed
				}
			} else if part.Committed >= 0 {
				pj.Lag = part.APILag
			}
			parts = append(parts, pj)
		}
		list = append(list, map[string]any{"Topic": t, "Partitions": parts})
	}
	return map[string]any{"Result": map[string]any{"TotalCount": len(topics), "TopicList": list}}, nil
}

type memberJSON struct {
	MemberID   string `json:"MemberId"`
	ClientID   string `json:"ClientId"`
	ClientHost string `json:"ClientHost"`
	Assignment struct {
		Version int `json:"Version"`
		Topics  []struct {
			Topic      string `json:"Topic"`
			Partitions []int  `json:"Partitions"`
		} `json:"Topics"`
	} `json:"Assignment"`
}

// describeGroupInfo answers per group: ErrorCode is a string ("0" when
// fine), members are listed only for Stable consumer groups, and an unknown
// group is Dead, as Kafka's DescribeGroups reports it.
func (f *Fake) describeGroupInfo(params json.RawMessage) (any, *tcapi.Error) {
	var p struct {
		InstanceID string `json:"InstanceId"`
		GroupList  []string
	}
	if err := tcapi.DecodeParams(params, &p); err != nil {
		return nil, err
	}
	if p.InstanceID == "" || len(p.GroupList) == 0 {
		return nil, &tcapi.Error{Code: "MissingParameter", Message: "The request is missing a required parameter `InstanceId` or `GroupList`."}
	}
	if f.GroupInfoMax > 0 && len(p.GroupList) > f.GroupInfoMax {
		return nil, &tcapi.Error{Code: "InvalidParameterValue", Message: fmt.Sprintf("GroupList has %d groups; at most %d are allowed", len(p.GroupList), f.GroupInfoMax)}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	in := f.instance(p.InstanceID)
	if in == nil {
		return nil, &tcapi.Error{Code: "InvalidParameterValue.InstanceNotExist", Message: "The instance " + p.InstanceID + " does not exist."}
	}
	result := make([]map[string]any, 0, len(p.GroupList))
	for _, name := range p.GroupList {
		entry := map[string]any{"Group": name, "ErrorCode": "0", "State": "Dead", "ProtocolType": "", "Protocol": "", "Members": []memberJSON{}}
		if g := in.groups[name]; g != nil {
			entry["State"], entry["ProtocolType"], entry["Protocol"] = g.state, g.protocol, "range"
			if g.state == "Stable" && g.protocol == "consumer" {
				members := make([]memberJSON, g.members)
				for i := range members {
					members[i] = memberJSON{MemberID: fmt.Sprintf("consumer-%d-%s", i+1, name), ClientID: fmt.Sprintf("consumer-%d", i+1), ClientHost: fmt.Sprintf("/10.0.0.%d", i+1)}
				}
				entry["Members"] = members
			}
		}
		result = append(result, entry)
	}
	return map[string]any{"Result": result}, nil
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func containsString(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
