package ckafka_lag

// PartitionOffset is one partition as DescribeGroupOffsets reports it.
// LogEnd and APILag are nil when the answer leaves them out.
type PartitionOffset struct {
	Partition int64
	Committed int64 // -1: the group never committed to this partition
	LogEnd    *int64
	APILag    *int64
	// LogStart is the earliest offset still in the log (Kafka source
	// only); nil when the source cannot know it.
	LogStart *int64
}

// PartitionLag is the lag of one partition.
type PartitionLag struct {
	Partition int64
	Lag       int64
	Committed int64 // -1 when uncommitted
	LogEnd    int64
	// Lost is how many messages retention deleted before the group read
	// them: max(0, log start − committed); LostKnown without a log start
	// or a commit is false.
	Lost      int64
	LostKnown bool
}

// TopicLag is a group's lag on one topic.
type TopicLag struct {
	Topic           string
	Lag             int64 // sum over committed partitions of max(0, log end − committed)
	MaxPartitionLag int64
	Partitions      int64
	Uncommitted     int64
	Committed       int64 // sum of committed offsets (committed partitions only)
	LogEnd          int64 // sum over all partitions
	// Lost sums the partitions' lost messages; LostKnown when any
	// committed partition's log start is known.
	Lost          int64
	LostKnown     bool
	PartitionLags []PartitionLag
}

// GroupLag sums a group's topics.
type GroupLag struct {
	Lag             int64
	MaxPartitionLag int64
	Topics          int64
}

// partitionLag applies the rules: an uncommitted partition has no lag
// (never one computed from -1); a negative difference, seen while offsets
// move between the two reads, is clamped to 0; the API's own Lag is used
// only when LogEndOffset is missing.
func partitionLag(p PartitionOffset) PartitionLag {
	pl := PartitionLag{Partition: p.Partition, Committed: p.Committed}
	if p.LogEnd != nil {
		pl.LogEnd = *p.LogEnd
	}
	if p.Committed < 0 {
		pl.Committed = -1
		return pl
	}
	if p.LogStart != nil {
		pl.Lost, pl.LostKnown = max(0, *p.LogStart-p.Committed), true
	}
	switch {
	case p.LogEnd != nil:
		pl.Lag = max(0, *p.LogEnd-p.Committed)
	case p.APILag != nil:
		pl.Lag = max(0, *p.APILag)
		pl.LogEnd = p.Committed + pl.Lag
	default:
		pl.LogEnd = p.Committed
	}
	return pl
}

// CalculateTopicLag folds a topic's partitions into its lag. With
// keepPartitions it also returns each partition's lag.
func CalculateTopicLag(topic string, partitions []PartitionOffset, keepPartitions bool) TopicLag {
	t := TopicLag{Topic: topic, Partitions: int64(len(partitions))}
	if keepPartitions {
		t.PartitionLags = make([]PartitionLag, 0, len(partitions))
	}
	for _, p := range partitions {
		pl := partitionLag(p)
		t.LogEnd += pl.LogEnd
		if pl.Committed < 0 {
			t.Uncommitted++
		} else {
			t.Committed += pl.Committed
			t.Lag += pl.Lag
			t.MaxPartitionLag = max(t.MaxPartitionLag, pl.Lag)
			if pl.LostKnown {
				t.Lost += pl.Lost
				t.LostKnown = true
			}
		}
		if keepPartitions {
			t.PartitionLags = append(t.PartitionLags, pl)
		}
	}
	return t
}

// CalculateGroupLag sums the topics of one group.
func CalculateGroupLag(topics []TopicLag) GroupLag {
	g := GroupLag{Topics: int64(len(topics))}
	for _, t := range topics {
		g.Lag += t.Lag
		g.MaxPartitionLag = max(g.MaxPartitionLag, t.MaxPartitionLag)
	}
	return g
}
