package lease

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Range is the session timeouts the group coordinator accepts
// (group.min.session.timeout.ms, group.max.session.timeout.ms); a zero
// bound is one the broker did not say.
type Range struct{ Min, Max time.Duration }

func (r Range) String() string {
	show := func(d time.Duration) string {
		if d == 0 {
			return "?"
		}
		return d.String()
	}
	return show(r.Min) + " to " + show(r.Max)
}

// Contains reports whether d is within the bounds the broker said.
func (r Range) Contains(d time.Duration) bool {
	return (r.Min == 0 || d >= r.Min) && (r.Max == 0 || d <= r.Max)
}

// SessionTimeouts asks a broker for the session timeouts its group
// coordinator accepts. An ACL may deny DescribeConfigs (CKafka's users
// often lack it): then the error says so and callers go on without.
func SessionTimeouts(ctx context.Context, client *kgo.Client) (Range, error) {
	configs, err := kadm.NewClient(client).DescribeBrokerConfigs(ctx)
	if err != nil {
		return Range{}, fmt.Errorf("describing the broker's configs: %w", err)
	}
	var r Range
	for _, rc := range configs {
		if rc.Err != nil {
			return Range{}, fmt.Errorf("describing the broker's configs: %w", rc.Err)
		}
		for _, c := range rc.Configs {
			if c.Value == nil {
				continue
			}
			ms, err := strconv.ParseInt(*c.Value, 10, 64)
			if err != nil {
				continue
			}
			switch c.Key {
			case "group.min.session.timeout.ms":
				r.Min = time.Duration(ms) * time.Millisecond
			case "group.max.session.timeout.ms":
				r.Max = time.Duration(ms) * time.Millisecond
			}
		}
	}
	return r, nil
}

// CheckSessionTimeout says, naming key, when the broker would refuse d.
// A broker that does not tell its limits passes.
func CheckSessionTimeout(ctx context.Context, client *kgo.Client, d time.Duration, key string) error {
	r, err := SessionTimeouts(ctx, client)
	if err != nil || r.Contains(d) {
		return nil
	}
	return fmt.Errorf("%s: %s is outside the range the brokers accept (%s: group.min.session.timeout.ms to group.max.session.timeout.ms); the group would refuse this member", key, d, r)
}

// ExplainJoinError turns the broker's refusal of a member into what to
// change: the key of the session timeout and the range the brokers accept
// (r, when known), or the ACL to grant.
func ExplainJoinError(err error, group, key string, d time.Duration, r Range) string {
	switch {
	case errors.Is(err, kerr.InvalidSessionTimeout):
		hint := fmt.Sprintf("set %s (now %s) within the range the brokers accept", key, d)
		if r != (Range{}) {
			hint += fmt.Sprintf(": %s", r)
		} else {
			hint += " (group.min.session.timeout.ms to group.max.session.timeout.ms; Kafka's defaults are 6s to 30m)"
		}
		return fmt.Sprintf("the group coordinator refused to join group %q: %v; %s", group, err, hint)
	case errors.Is(err, kerr.GroupAuthorizationFailed):
		return fmt.Sprintf("the group coordinator refused to join group %q: %v; grant this user Read on group %q", group, err, group)
	}
	return fmt.Sprintf("joining group %q: %v", group, err)
}
