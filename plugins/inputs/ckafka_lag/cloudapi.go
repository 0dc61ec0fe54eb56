package ckafka_lag

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/tcloud"
)

const (
	apiVersion = "2019-08-19"
	// Page sizes: DescribeGroupOffsets allows at most 50 topics per page,
	// DescribeInstances 100.
	instancesPageSize = 100
	groupsPageSize    = 50
	offsetsPageSize   = 50
	// maxPages stops a server that keeps reporting more items than it sends.
	maxPages = 10000
)

// callStats counts one collection's requests for ckafka_lag_gather.
type callStats struct {
	requests  atomic.Int64
	errors    atomic.Int64
	throttled atomic.Int64
}

// cloudAPI issues typed CKafka calls under one shared concurrency limit and
// one shared request rate, retrying throttled answers within the per-request
// budget.
type cloudAPI struct {
	client  *tcloud.Client
	pace    pacer
	slots   chan struct{}
	timeout time.Duration
	// now stamps answers; tests share a clock with the fake.
	now func() time.Time
}

func newCloudAPI(client *tcloud.Client, pace pacer, concurrency int, timeout time.Duration) *cloudAPI {
	return &cloudAPI{
		client:  client,
		pace:    pace,
		slots:   make(chan struct{}, concurrency),
		timeout: timeout,
		now:     time.Now,
	}
}

// apiError is a failed call: the action, and the cloud's code, message and
// RequestId rendered by tcloud.Describe.
type apiError struct {
	action string
	note   string
	err    error
}

func (e *apiError) Error() string {
	return e.action + ": " + e.note + tcloud.Describe(e.err)
}

func (e *apiError) Unwrap() error { return e.err }

// call sends one request. It holds one of the concurrency slots for its
// whole life; the budget (timeout) starts once it has the slot, so queueing
// behind other calls never eats it. Throttled answers are retried with
// exponential backoff and jitter while the budget lasts.
func (a *cloudAPI) call(ctx context.Context, st *callStats, action string, params map[string]any, resp tchttp.Response) error {
	select {
	case a.slots <- struct{}{}:
	case <-ctx.Done():
		return &apiError{action: action, err: ctx.Err()}
	}
	defer func() { <-a.slots }()
	return a.send(ctx, st, action, params, resp)
}

// callAhead is call without waiting for a concurrency slot, still paced by
// the rate: for the few requests that answered groups wait on (a topic's
// retention), which must not queue behind the hundreds of groups still to
// read while those that were read hold their offsets in memory.
func (a *cloudAPI) callAhead(ctx context.Context, st *callStats, action string, params map[string]any, resp tchttp.Response) error {
	return a.send(ctx, st, action, params, resp)
}

// errPaceBudget: waiting for the rate limit would outlast the request's
// budget.
var errPaceBudget = errors.New("no room left in the request budget at rate_limit")

// send makes one call within the budget, retrying throttled answers.
func (a *cloudAPI) send(ctx context.Context, st *callStats, action string, params map[string]any, resp tchttp.Response) error {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	backoff := 100 * time.Millisecond
	throttled := false
	stillThrottled := func(err error) error {
		st.errors.Add(1)
		return &apiError{action: action, note: "still throttled when the " + a.timeout.String() + " request budget ran out: ", err: err}
	}
	for {
		err := a.attempt(ctx, st, action, params, resp)
		if err == nil {
			a.pace.Answered(action, false, a.now())
			return nil
		}
		if errors.Is(err, errPaceBudget) && throttled && parent.Err() == nil {
			// The pace left no room in the budget for another attempt.
			return stillThrottled(err)
		}
		if parent.Err() != nil {
			// The collection was stopped (an auth failure elsewhere):
			// not this request's failure.
			return &apiError{action: action, err: parent.Err()}
		}
		if !tcloud.IsThrottled(err) {
			st.errors.Add(1)
			return &apiError{action: action, err: err}
		}
		st.throttled.Add(1)
		throttled = true
		a.pace.Answered(action, true, a.now())
		wait := backoff/2 + rand.N(backoff/2+1)
		backoff = min(2*backoff, 2*time.Second)
		select {
		case <-ctx.Done():
			return stillThrottled(err)
		case <-time.After(wait):
		}
	}
}

func (a *cloudAPI) attempt(ctx context.Context, st *callStats, action string, params map[string]any, resp tchttp.Response) error {
	if err := a.pace.Wait(ctx, action); err != nil {
		return fmt.Errorf("%w: %w", errPaceBudget, err)
	}
	st.requests.Add(1)
	return a.client.Call(ctx, action, params, resp)
}

type instanceInfo struct {
	ID     string
	Name   string
	Status int64
}

type describeInstancesResponse struct {
	tchttp.BaseResponse
	Response struct {
		Result struct {
			TotalCount   int64
			InstanceList []struct {
				InstanceId   string //nolint:revive // API field name
				InstanceName string
				Status       int64
			}
		}
	}
}

func (a *cloudAPI) describeInstances(ctx context.Context, st *callStats) ([]instanceInfo, error) {
	var out []instanceInfo
	for offset, pages := 0, 0; pages < maxPages; pages++ {
		var resp describeInstancesResponse
		params := map[string]any{"Offset": offset, "Limit": instancesPageSize}
		if err := a.call(ctx, st, "DescribeInstances", params, &resp); err != nil {
			return nil, err
		}
		list := resp.Response.Result.InstanceList
		for _, in := range list {
			out = append(out, instanceInfo{ID: in.InstanceId, Name: in.InstanceName, Status: in.Status})
		}
		offset += len(list)
		if len(list) == 0 || int64(offset) >= resp.Response.Result.TotalCount {
			return out, nil
		}
	}
	return nil, errors.New("DescribeInstances: too many pages")
}

type describeGroupResponse struct {
	tchttp.BaseResponse
	Response struct {
		Result struct {
			TotalCount int64
			GroupList  []struct {
				Group    string
				Protocol string
			}
		}
	}
}

func (a *cloudAPI) describeGroups(ctx context.Context, st *callStats, instanceID string, page func([]string)) error {
	for offset, pages := 0, 0; pages < maxPages; pages++ {
		var resp describeGroupResponse
		params := map[string]any{"InstanceId": instanceID, "Offset": offset, "Limit": groupsPageSize}
		if err := a.call(ctx, st, "DescribeGroup", params, &resp); err != nil {
			return err
		}
		list := resp.Response.Result.GroupList
		names := make([]string, len(list))
		for i, g := range list {
			names[i] = g.Group
		}
		page(names)
		offset += len(list)
		if len(list) == 0 || int64(offset) >= resp.Response.Result.TotalCount {
			return nil
		}
	}
	return errors.New("DescribeGroup: too many pages")
}

type topicOffsets struct {
	Topic      string
	Partitions []PartitionOffset
	// Arrived is when the answer holding this topic arrived: the time the
	// offsets were true, for lag in seconds and rates.
	Arrived time.Time
}

type describeGroupOffsetsResponse struct {
	tchttp.BaseResponse
	Response struct {
		Result struct {
			TotalCount int64
			TopicList  []struct {
				Topic      string
				Partitions []struct {
					Partition    int64
					Offset       int64
					LogEndOffset *int64
					Lag          *int64
				}
			}
		}
	}
}

// describeGroupOffsets fetches every page of a group's topics.
func (a *cloudAPI) describeGroupOffsets(ctx context.Context, st *callStats, instanceID, group string) ([]topicOffsets, error) {
	var out []topicOffsets
	for offset, pages := 0, 0; pages < maxPages; pages++ {
		var resp describeGroupOffsetsResponse
		params := map[string]any{"InstanceId": instanceID, "Group": group, "Offset": offset, "Limit": offsetsPageSize}
		if err := a.call(ctx, st, "DescribeGroupOffsets", params, &resp); err != nil {
			return nil, err
		}
		arrived := a.now()
		list := resp.Response.Result.TopicList
		for _, t := range list {
			parts := make([]PartitionOffset, len(t.Partitions))
			for i, p := range t.Partitions {
				parts[i] = PartitionOffset{Partition: p.Partition, Committed: p.Offset, LogEnd: p.LogEndOffset, APILag: p.Lag}
			}
			out = append(out, topicOffsets{Topic: t.Topic, Partitions: parts, Arrived: arrived})
		}
		offset += len(list)
		if len(list) == 0 || int64(offset) >= resp.Response.Result.TotalCount {
			return out, nil
		}
	}
	return nil, errors.New("DescribeGroupOffsets: too many pages")
}

// groupInfo is a group's state and members from DescribeGroupInfo.
type groupInfo struct {
	State        string
	Members      int64
	MembersKnown bool // members are listed only for Stable (and, being none, Empty or Dead) groups
}

type describeGroupInfoResponse struct {
	tchttp.BaseResponse
	Response struct {
		Result []struct {
			Group        string
			ErrorCode    string
			State        string
			ProtocolType string
			Members      []struct {
				MemberId string //nolint:revive // API field name
			}
		}
	}
}

// describeGroupInfo asks for the groups in batches of *batch, halving the
// batch when the API refuses its size (it documents no maximum) and keeping
// what worked for the next collections. Groups answered with an error code
// are left out.
func (a *cloudAPI) describeGroupInfo(ctx context.Context, st *callStats, instanceID string, groups []string, batch *atomic.Int64) (map[string]groupInfo, error) {
	out := make(map[string]groupInfo, len(groups))
	for start := 0; start < len(groups); {
		size := int(max(batch.Load(), 1))
		end := min(start+size, len(groups))
		var resp describeGroupInfoResponse
		params := map[string]any{"InstanceId": instanceID, "GroupList": groups[start:end]}
		err := a.call(ctx, st, "DescribeGroupInfo", params, &resp)
		if err != nil && size > 1 && strings.HasPrefix(tcloud.Code(err), "InvalidParameter") {
			// A refused batch size is not a failure: retry smaller.
			st.errors.Add(-1)
			batch.CompareAndSwap(int64(size), int64(size/2))
			continue
		}
		if err != nil {
			return out, err
		}
		for _, g := range resp.Response.Result {
			if g.ErrorCode != "" && g.ErrorCode != "0" {
				continue
			}
			info := groupInfo{State: g.State}
			switch g.State {
			case "Stable", "Empty", "Dead":
				if g.ProtocolType == "" || g.ProtocolType == "consumer" {
					info.Members, info.MembersKnown = int64(len(g.Members)), true
				}
			}
			out[g.Group] = info
		}
		start = end
	}
	return out, nil
}

type describeTopicAttributesResponse struct {
	tchttp.BaseResponse
	Response struct {
		Result struct {
			Config struct {
				Retention *int64 // milliseconds; null when the API does not say
			}
		}
	}
}

// describeTopicRetention asks DescribeTopicAttributes for a topic's
// retention (Result.Config.Retention, milliseconds): seconds, unknown when
// null or not positive.
func (a *cloudAPI) describeTopicRetention(ctx context.Context, st *callStats, instanceID, topic string) (Optional, error) {
	var resp describeTopicAttributesResponse
	params := map[string]any{"InstanceId": instanceID, "TopicName": topic}
	if err := a.callAhead(ctx, st, "DescribeTopicAttributes", params, &resp); err != nil {
		return Optional{}, err
	}
	ms := resp.Response.Result.Config.Retention
	if ms == nil || *ms <= 0 {
		return Optional{}, nil
	}
	return known(float64(*ms) / 1000), nil
}
