package ckafka_lag

import (
	"reflect"
	"testing"
)

func i64(v int64) *int64 { return &v }

func TestCalculateTopicLag(t *testing.T) {
	tests := []struct {
		name       string
		partitions []PartitionOffset
		want       TopicLag
	}{
		{
			name: "sum over partitions, not the last one",
			partitions: []PartitionOffset{
				{Partition: 0, Committed: 100, LogEnd: i64(1100)},
				{Partition: 1, Committed: 50, LogEnd: i64(60)},
				{Partition: 2, Committed: 0, LogEnd: i64(5)},
			},
			want: TopicLag{Lag: 1015, MaxPartitionLag: 1000, Partitions: 3, Committed: 150, LogEnd: 1165},
		},
		{
			name: "uncommitted partitions add no lag but count",
			partitions: []PartitionOffset{
				{Partition: 0, Committed: -1, LogEnd: i64(500)},
				{Partition: 1, Committed: 10, LogEnd: i64(30)},
			},
			want: TopicLag{Lag: 20, MaxPartitionLag: 20, Partitions: 2, Uncommitted: 1, Committed: 10, LogEnd: 530},
		},
		{
			name: "all uncommitted",
			partitions: []PartitionOffset{
				{Partition: 0, Committed: -1, LogEnd: i64(500)},
				{Partition: 1, Committed: -1, LogEnd: i64(7)},
			},
			want: TopicLag{Partitions: 2, Uncommitted: 2, LogEnd: 507},
		},
		{
			name:       "committed ahead of log end clamps to zero",
			partitions: []PartitionOffset{{Partition: 0, Committed: 120, LogEnd: i64(100)}},
			want:       TopicLag{Partitions: 1, Committed: 120, LogEnd: 100},
		},
		{
			name: "API lag only when log end is missing",
			partitions: []PartitionOffset{
				{Partition: 0, Committed: 100, APILag: i64(40)},
				{Partition: 1, Committed: 100, LogEnd: i64(110), APILag: i64(999)},
				{Partition: 2, Committed: -1, APILag: i64(999)},
			},
			want: TopicLag{Lag: 50, MaxPartitionLag: 40, Partitions: 3, Uncommitted: 1, Committed: 200, LogEnd: 250},
		},
		{
			name: "no partitions",
			want: TopicLag{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CalculateTopicLag("t", tt.partitions, false)
			tt.want.Topic = "t"
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestCalculateTopicLagPartitions(t *testing.T) {
	got := CalculateTopicLag("t", []PartitionOffset{
		{Partition: 0, Committed: -1, LogEnd: i64(9)},
		{Partition: 1, Committed: 3, LogEnd: i64(9)},
	}, true)
	want := []PartitionLag{
		{Partition: 0, Lag: 0, Committed: -1, LogEnd: 9},
		{Partition: 1, Lag: 6, Committed: 3, LogEnd: 9},
	}
	if !reflect.DeepEqual(got.PartitionLags, want) {
		t.Fatalf("got %+v, want %+v", got.PartitionLags, want)
	}
}

func TestCalculateGroupLag(t *testing.T) {
	got := CalculateGroupLag([]TopicLag{
		{Lag: 10, MaxPartitionLag: 7},
		{Lag: 5, MaxPartitionLag: 9},
	})
	want := GroupLag{Lag: 15, MaxPartitionLag: 9, Topics: 2}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got := CalculateGroupLag(nil); got != (GroupLag{}) {
		t.Fatalf("empty group: %+v", got)
	}
}
