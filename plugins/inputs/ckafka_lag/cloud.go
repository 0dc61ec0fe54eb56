package ckafka_lag

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/tcloud"
)

// instances returns, for the cloud API source (its calls are in
// cloudapi.go), the instances to collect: the configured ones (named
// when the API tells their names) or every running one.
func (c *CKafkaLag) instances(col *collection) ([]instanceInfo, error) {
	all, err := c.api.describeInstances(col.ctx, &col.stats)
	if len(c.InstanceIDs) == 0 {
		if err != nil {
			return nil, err
		}
		running := make([]instanceInfo, 0, len(all))
		for _, in := range all {
			if in.Status == instanceRunning {
				running = append(running, in)
			}
		}
		return running, nil
	}
	known := make(map[string]instanceInfo, len(all))
	for _, in := range all {
		known[in.ID] = in
	}
	selected := make([]instanceInfo, 0, len(c.InstanceIDs))
	for _, id := range c.InstanceIDs {
		in, ok := known[id]
		if !ok && err == nil {
			col.acc.AddError(fmt.Errorf("region %s instance %s: not found by DescribeInstances; check instance_ids and region", c.Region, id))
			continue
		}
		in.ID = id
		selected = append(selected, in)
	}
	// Without names we still collect the configured instances.
	return selected, err
}

// collectInstance reads an instance's groups a listing page at a time:
// a page's groups are read while the next page is asked for, and their
// state (DescribeGroupInfo) is asked for beside their offsets, so neither
// the listing nor the state holds up the first offset reads.
func (col *collection) collectInstance(in instanceInfo, wg *sync.WaitGroup) {
	listed := 0
	err := col.c.api.describeGroups(col.ctx, &col.stats, in.ID, func(page []string) {
		selected := page[:0]
		for _, g := range page {
			if col.c.groupFilter.Match(g) {
				selected = append(selected, g)
			}
		}
		listed += len(selected)
		if len(selected) == 0 {
			return
		}
		infos := col.groupInfo(in.ID, selected, wg)
		for _, g := range selected {
			wg.Add(1)
			go func() {
				defer wg.Done()
				col.collectGroup(in, g, infos)
			}()
		}
	})
	if err != nil {
		col.expect(in.ID, 0, false)
		col.report(err, "instance "+in.ID)
		return
	}
	col.expect(in.ID, listed, true)
}

// groupInfos is the state of one page of groups, ready once done closes.
type groupInfos struct {
	done  chan struct{}
	byKey map[string]groupInfo
}

// of waits for the page's state and returns group's, if known.
func (gi *groupInfos) of(group string) *groupInfo {
	if gi == nil {
		return nil
	}
	<-gi.done
	if info, ok := gi.byKey[group]; ok {
		return &info
	}
	return nil
}

// groupInfo asks for the state of groups in the background, with
// group_info on; nil without.
func (col *collection) groupInfo(instanceID string, groups []string, wg *sync.WaitGroup) *groupInfos {
	if !col.c.GroupInfo {
		return nil
	}
	gi := &groupInfos{done: make(chan struct{})}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(gi.done)
		var err error
		// Without state the lag is still worth emitting: report and go on.
		if gi.byKey, err = col.c.api.describeGroupInfo(col.ctx, &col.stats, instanceID, groups, &col.c.infoBatch); err != nil {
			col.report(err, "instance "+instanceID+" group info")
		}
	}()
	return gi
}

func (col *collection) collectGroup(in instanceInfo, group string, infos *groupInfos) {
	offsets, err := col.c.api.describeGroupOffsets(col.ctx, &col.stats, in.ID, group)
	if err != nil {
		col.report(err, fmt.Sprintf("instance %s group %q", in.ID, group))
		return
	}
	sort.Slice(offsets, func(i, j int) bool { return offsets[i].Topic < offsets[j].Topic })
	topics := make([]TopicLag, 0, len(offsets))
	times := make([]TopicTime, 0, len(offsets))
	col.c.trackerMu.Lock()
	for _, t := range offsets {
		if col.c.topicFilter.Match(t.Topic) {
			lag := CalculateTopicLag(t.Topic, t.Partitions, col.c.PartitionMetrics)
			topics = append(topics, lag)
			times = append(times, col.c.tracker.observe(in.ID, group, lag, t.Partitions, t.Arrived, col.since))
		}
	}
	col.c.trackerMu.Unlock()
	col.emitGroup(in, group, topics, times, infos.of(group))
	col.mu.Lock()
	col.groups++
	col.mu.Unlock()
}

// cloudRetention is a topic's retention from DescribeTopicAttributes,
// cached for retention_refresh and looked up in the background (see
// retentionCache): the lag never waits for it. A key without the
// permission turns it off with one warning (the lag is the job); other
// failures keep what was known.
func (c *CKafkaLag) cloudRetention(col *collection, instanceID, topic string) Optional {
	if c.RetentionRefresh <= 0 || c.retentionDenied.Load() {
		return Optional{}
	}
	return c.retention.lookup(instanceID+"/"+topic, c.clock(), time.Duration(c.RetentionRefresh), col.background, func() (Optional, error) {
		v, err := c.api.describeTopicRetention(col.ctx, &col.stats, instanceID, topic)
		switch {
		case err == nil:
		case tcloud.IsAuth(err):
			if c.retentionDenied.CompareAndSwap(false, true) {
				c.Log.Warnf("region %s: DescribeTopicAttributes: %v: retention fields are off; grant ckafka:DescribeTopicAttributes to get them", c.Region, err)
			}
		case col.ctx.Err() == nil:
			c.Log.Warnf("region %s instance %s topic %q: DescribeTopicAttributes: %v (retention fields left out)", c.Region, instanceID, topic, err)
		}
		return v, err
	})
}
