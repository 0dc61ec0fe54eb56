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

func (col *collection) collectInstance(in instanceInfo, wg *sync.WaitGroup) {
	groups, err := col.c.api.describeGroups(col.ctx, &col.stats, in.ID)
	if err != nil {
		col.expect(in.ID, 0, false)
		col.report(err, "instance "+in.ID)
		return
	}
	selected := groups[:0]
	for _, g := range groups {
		if col.c.groupFilter.Match(g) {
			selected = append(selected, g)
		}
	}
	col.expect(in.ID, len(selected), true)
	var infos map[string]groupInfo
	if col.c.GroupInfo && len(selected) > 0 {
		// Without state the lag is still worth emitting: report and go on.
		if infos, err = col.c.api.describeGroupInfo(col.ctx, &col.stats, in.ID, selected, &col.c.infoBatch); err != nil {
			col.report(err, "instance "+in.ID+" group info")
		}
	}
	for _, g := range selected {
		info, hasInfo := infos[g]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if hasInfo {
				col.collectGroup(in, g, &info)
			} else {
				col.collectGroup(in, g, nil)
			}
		}()
	}
}

func (col *collection) collectGroup(in instanceInfo, group string, info *groupInfo) {
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
	col.emitGroup(in, group, topics, times, info)
	col.mu.Lock()
	col.groups++
	col.mu.Unlock()
}

// cloudRetention is a topic's retention from DescribeTopicAttributes,
// cached for retention_refresh. A key without the permission turns it off
// with one warning (the lag is the job); other failures keep what was known.
func (c *CKafkaLag) cloudRetention(col *collection, instanceID, topic string) Optional {
	if c.RetentionRefresh <= 0 || c.retentionDenied.Load() {
		return Optional{}
	}
	return c.retention.get(instanceID+"/"+topic, c.clock(), time.Duration(c.RetentionRefresh), func() (Optional, error) {
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
