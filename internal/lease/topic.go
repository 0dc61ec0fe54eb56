package lease

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EnsureTopic creates the lease's topic when it is missing (one partition,
// compacted) and returns warnings about one that exists but is not so.
// key names the setting in messages.
func EnsureTopic(ctx context.Context, client *kgo.Client, topic, key string) (warnings []string, err error) {
	exists, warnings, err := CheckTopic(ctx, client, topic, key)
	if err != nil || exists {
		return warnings, err
	}
	compact := "compact"
	resp, err := kadm.NewClient(client).CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": &compact}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return nil, fmt.Errorf("%s: topic %q does not exist and creating it failed: %w (create it with 1 partition and cleanup.policy=compact)", key, topic, err)
	}
	return nil, nil
}

// CheckTopic looks at the lease's topic without changing it, and returns
// warnings about one that is not as the lease needs: more than one
// partition breaks the lease (each would have its holder), and without
// compaction the log grows without bound.
func CheckTopic(ctx context.Context, client *kgo.Client, topic, key string) (exists bool, warnings []string, err error) {
	adm := kadm.NewClient(client)
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return false, nil, fmt.Errorf("%s: listing topic %q: %w", key, topic, err)
	}
	d, ok := details[topic]
	if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
		return false, nil, nil
	}
	if d.Err != nil {
		return false, nil, fmt.Errorf("%s: topic %q: %w", key, topic, d.Err)
	}
	if n := len(d.Partitions); n != 1 {
		warnings = append(warnings, fmt.Sprintf("%s: topic %q has %d partitions; it must have exactly 1 (partition 0 is the lease)", key, topic, n))
	}
	configs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return true, warnings, nil // an ACL may deny DescribeConfigs; the lease works without
	}
	for _, rc := range configs {
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" && (c.Value == nil || *c.Value != "compact") {
				v := "<unset>"
				if c.Value != nil {
					v = *c.Value
				}
				warnings = append(warnings, fmt.Sprintf("%s: topic %q has cleanup.policy=%s; set it to compact, or the log grows without bound", key, topic, v))
			}
		}
	}
	return true, warnings, nil
}
