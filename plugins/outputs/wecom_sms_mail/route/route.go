// Package route decides where an alert goes and when: routes by tag globs
// and quiet hours. Its tag matchers are also silences' (package silence).
// It is pure: no I/O, and the time is always passed in.
package route

import (
	"errors"
	"fmt"
	"sort"

	"github.com/influxdata/telegraf/filter"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
)

// Config is one [[outputs.wecom_sms_mail.route]]: which alerts it takes and
// the destinations it names. Accounts and servers stay in the channel
// tables.
type Config struct {
	Match               map[string]string `toml:"match"`
	WeComWebhookURLs    []string          `toml:"wecom_webhook_urls"`
	PhoneNumbers        []string          `toml:"phone_numbers"`
	VoicePhoneNumbers   []string          `toml:"voice_phone_numbers"`
	EmailTo             []string          `toml:"email_to"`
	DingTalkWebhookURLs []string          `toml:"dingtalk_webhook_urls"`
	FeishuWebhookURLs   []string          `toml:"feishu_webhook_urls"`
	WebhookURLs         []string          `toml:"webhook_urls"`
	MinLevel            string            `toml:"min_level"`
	Continue            bool              `toml:"continue"`
	QuietHours          []string          `toml:"quiet_hours"`
	QuietHoursMinLevel  string            `toml:"quiet_hours_min_level"`
}

// Route is a parsed route: its matchers and the IDs of its destinations.
type Route struct {
	Index    int // 1-based position in the configuration
	Matchers []Matcher
	MinLevel alert.Level // 0: any level
	Continue bool
	Dests    []string
	Quiet    *Quiet // nil: the top-level quiet hours
}

// Matcher is tag=glob, with Telegraf's glob syntax (* ? [..] {a,b}).
type Matcher struct {
	Tag, Glob string
	filter    filter.Filter
}

// NewMatcher compiles tag=glob.
func NewMatcher(tag, glob string) (Matcher, error) {
	if tag == "" {
		return Matcher{}, errors.New("empty tag name")
	}
	f, err := filter.Compile([]string{glob})
	if err != nil {
		return Matcher{}, fmt.Errorf("%s: %q is not a glob: %w", tag, glob, err)
	}
	return Matcher{Tag: tag, Glob: glob, filter: f}, nil
}

// ParseMatchers compiles the tag globs of a match table, sorted by tag.
func ParseMatchers(match map[string]string) ([]Matcher, error) {
	out := make([]Matcher, 0, len(match))
	for tag, glob := range match {
		m, err := NewMatcher(tag, glob)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Tag < out[j].Tag })
	return out, nil
}

// Matches reports whether every matcher matches the tags; a tag the alert
// lacks matches as the empty string.
func Matches(ms []Matcher, tags map[string]string) bool {
	for _, m := range ms {
		if m.filter == nil {
			m, _ = NewMatcher(m.Tag, m.Glob) // a matcher read from JSON
		}
		if m.filter == nil || !m.filter.Match(tags[m.Tag]) {
			return false
		}
	}
	return true
}

// Router picks the destinations of an alert.
type Router struct {
	Routes   []Route
	Defaults []string // the channel tables' destinations
}

// Match returns the routes an alert of level with tags goes to, in order;
// none means the default route. A route's min_level is part of its match.
func (r *Router) Match(tags map[string]string, level alert.Level) []*Route {
	var out []*Route
	for i := range r.Routes {
		rt := &r.Routes[i]
		if level < rt.MinLevel || !Matches(rt.Matchers, tags) {
			continue
		}
		out = append(out, rt)
		if !rt.Continue {
			break
		}
	}
	return out
}

// Destinations returns the destination IDs of an alert, each once, in
// route order; the defaults when no route matches.
func (r *Router) Destinations(tags map[string]string, level alert.Level) []string {
	routes := r.Match(tags, level)
	if len(routes) == 0 {
		return r.Defaults
	}
	seen := map[string]bool{}
	var out []string
	for _, rt := range routes {
		for _, d := range rt.Dests {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	return out
}
