// Package silence is everything about silences: the model and its
// matching, the silence file, the running output's cache of it, and how two
// hosts' versions merge. The CLI (-silence), the page, the engine (is this
// alert muted?) and the HA pair (replication) all use it.
package silence

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/route"
)

// Keep is how long an ended silence stays in the file (and in the HA
// pair's log) before it is dropped.
const Keep = 7 * 24 * time.Hour

// Silence mutes the alerts its matchers match between StartsAt and EndsAt.
type Silence struct {
	ID        string          `json:"id"`
	Matchers  []route.Matcher `json:"matchers"`
	StartsAt  time.Time       `json:"starts_at"`
	EndsAt    time.Time       `json:"ends_at"`
	CreatedBy string          `json:"created_by,omitempty"`
	Comment   string          `json:"comment,omitempty"`
}

// Active reports whether the silence mutes at now.
func (s Silence) Active(now time.Time) bool {
	return !now.Before(s.StartsAt) && now.Before(s.EndsAt)
}

// Mutes reports whether the silence mutes an alert with tags at now.
func (s Silence) Mutes(tags map[string]string, now time.Time) bool {
	return s.Active(now) && route.Matches(s.Matchers, tags)
}

// Merge combines two versions of one silence: a silence only ever changes
// by being expired early, so the earlier end wins, whatever order the
// hosts heard of them in.
func Merge(old, s Silence) Silence {
	if old.ID == "" || s.EndsAt.Before(old.EndsAt) {
		return s
	}
	return old
}

// Silences are the silence file's content.
type Silences []Silence

// Silenced reports whether an active silence matches the tags at now.
func (ss Silences) Silenced(tags map[string]string, now time.Time) bool {
	for _, s := range ss {
		if s.Mutes(tags, now) {
			return true
		}
	}
	return false
}

// MutedUntil is when the last silence muting tags at now ends; zero when
// none does.
func (ss Silences) MutedUntil(tags map[string]string, now time.Time) time.Time {
	var until time.Time
	for _, s := range ss {
		if s.Mutes(tags, now) && s.EndsAt.After(until) {
			until = s.EndsAt
		}
	}
	return until
}

// ForAlert returns matchers that match exactly the alert with key: each
// of its tags, literally (a group named "pay*" silences only itself).
func ForAlert(key string) ([]route.Matcher, error) {
	_, tags := alert.ParseKey(key)
	out := make([]route.Matcher, 0, len(tags))
	for _, t := range tags {
		m, err := route.NewMatcher(t.Key, route.Literal(t.Value))
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// ParseMatcherArgs reads -match tag=glob arguments.
func ParseMatcherArgs(args []string) ([]route.Matcher, error) {
	if len(args) == 0 {
		return nil, errors.New("at least one -match tag=glob is required")
	}
	out := make([]route.Matcher, 0, len(args))
	for _, a := range args {
		tag, glob, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("-match %q is not tag=glob", a)
		}
		m, err := route.NewMatcher(strings.TrimSpace(tag), glob)
		if err != nil {
			return nil, fmt.Errorf("-match %q: %w", a, err)
		}
		out = append(out, m)
	}
	return out, nil
}
