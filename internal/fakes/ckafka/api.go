package ckafka

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/tcapi"
)

// The documented actions: limits checked, pages cut, errors shaped as the
// API answers them. The state they read is in ckafka.go.

// page cuts [offset, offset+limit) out of total items.
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
	topics := make([]string, 0, len(g.topics))
	for t := range g.topics {
		if (len(p.Topics) == 0 || containsString(p.Topics, t)) && (p.SearchWord == "" || strings.Contains(t, p.SearchWord)) {
			topics = append(topics, t)
		}
	}
	sort.Strings(topics)
	from, to := page(len(topics), p.Offset, p.Limit)
	list := make([]map[string]any, 0, to-from)
	now := f.Now()
	for _, t := range topics[from:to] {
		tl, gt := in.topics[t], g.topics[t]
		advance(tl, gt, now)
		parts := make([]partitionJSON, 0, len(tl.logEnd))
		for i, part := range partitions(tl, gt) {
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

// describeTopicAttributes answers the documented shape: Result with the
// topic's attributes, its Config holding Retention in milliseconds (null
// when not set) and RetentionBytes (null here).
func (f *Fake) describeTopicAttributes(params json.RawMessage) (any, *tcapi.Error) {
	var p struct {
		InstanceID string `json:"InstanceId"`
		TopicName  string
	}
	if err := tcapi.DecodeParams(params, &p); err != nil {
		return nil, err
	}
	if p.InstanceID == "" || p.TopicName == "" {
		return nil, &tcapi.Error{Code: "MissingParameter", Message: "The request is missing a required parameter `InstanceId` or `TopicName`."}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	in := f.instance(p.InstanceID)
	if in == nil {
		return nil, &tcapi.Error{Code: "InvalidParameterValue.InstanceNotExist", Message: "The instance " + p.InstanceID + " does not exist."}
	}
	tl := in.topics[p.TopicName]
	if tl == nil {
		return nil, &tcapi.Error{Code: "ResourceNotFound", Message: "The topic " + p.TopicName + " does not exist."}
	}
	var retention any // null unless set
	if tl.retentionMs > 0 {
		retention = tl.retentionMs
	}
	return map[string]any{"Result": map[string]any{
		"TopicId":      "topic-" + p.TopicName,
		"TopicName":    p.TopicName,
		"PartitionNum": len(tl.logEnd),
		"ReplicaNum":   2,
		"Config": map[string]any{
			"CleanUpPolicy":   "delete",
			"Retention":       retention,
			"RetentionBytes":  nil,
			"MaxMessageBytes": 1048588,
		},
	}}, nil
}
