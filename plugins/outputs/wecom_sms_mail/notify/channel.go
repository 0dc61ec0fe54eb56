package notify

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
)

// Channel is one destination: a robot, a phone list, a mailbox list, a
// webhook receiver. A channel only renders and delivers; grouping,
// queueing, retries and persistence live once, in the dispatcher. A new
// channel is one new package implementing this.
type Channel interface {
	// Kind is the channel's table in the configuration: wecom, sms, email,
	// dingtalk, feishu, webhook.
	Kind() string
	// ID identifies the destination in logs and the state file; it never
	// contains a secret.
	ID() string
	// Destination describes where messages go, redacted: the robot's host
	// and key suffix, the phone numbers, the mailboxes.
	Destination() string
	MinLevel() alert.Level
	// Prepare renders the data into the deliveries this channel makes.
	Prepare(d *render.TemplateData) ([]Delivery, error)
	// Deliver sends one delivery. It may narrow d (e.g. to the phone
	// numbers that still failed) before returning a retryable error.
	Deliver(ctx context.Context, d *Delivery) error
}

// Paced is a channel that keeps within its destination's rate limit. The
// dispatcher keeps its recent sends in the state file: a process restarted
// a few times in a minute would otherwise run into the limit (45009).
type Paced interface {
	Pacer() *Pacer
}

// Delivery is one message as sent: rendered once, kept in the state file
// until delivered, so a restart resends exactly what was pending.
type Delivery struct {
	Subject string   `json:"subject,omitempty"`
	Text    string   `json:"text,omitempty"`
	HTML    string   `json:"html,omitempty"`
	Params  []string `json:"params,omitempty"`
	// Style is a presentation hint of the channel's own (Feishu's card
	// colour).
	Style string `json:"style,omitempty"`
	// Chart is a PNG the channel shows with the message.
	Chart  []byte   `json:"chart,omitempty"`
	Phones []string `json:"phones,omitempty"`
	// MentionMobiles and MentionUsers are who a robot message mentions
	// besides the configured ones: the people on call.
	// To, when set, replaces an email channel's recipients (an escalation
	// step's people).
	To             []string `json:"to,omitempty"`
	MentionMobiles []string `json:"mention_mobiles,omitempty"`
	MentionUsers   []string `json:"mention_users,omitempty"`
}

// Mentions splits a message's mentions into mobile numbers (without the
// +86 a chat does not know) and chat user IDs.
func Mentions(d *render.TemplateData) (mobiles, users []string) {
	for _, m := range d.Mentions {
		switch {
		case m.UserID != "":
			users = append(users, m.UserID)
		case m.Mobile != "":
			mobiles = append(mobiles, strings.TrimPrefix(m.Mobile, "+86"))
		}
	}
	return mobiles, users
}

// deliveryError says whether a failure is worth retrying, and when.
type deliveryError struct {
	err    error
	retry  bool
	after  time.Duration // wait at least this long (e.g. SMS's 30 s same-content limit)
	within time.Duration // retry no later than this (e.g. when a rate window frees a slot)
}

func (e *deliveryError) Error() string { return e.err.Error() }
func (e *deliveryError) Unwrap() error { return e.err }

func Retryable(err error, after time.Duration) error {
	return &deliveryError{err: err, retry: true, after: after}
}

func Permanent(err error) error { return &deliveryError{err: err} }

func RetryWithin(err error, within time.Duration) error {
	return &deliveryError{err: err, retry: true, within: within}
}

// Classify says whether err is worth retrying and picks the wait before the next attempt:
// the backoff, raised to the channel's minimum, capped by its maximum.
// Unknown errors (network, timeouts) are retried.
func Classify(err error, backoff time.Duration) (bool, time.Duration) {
	var de *deliveryError
	if !errors.As(err, &de) {
		return true, backoff
	}
	wait := max(backoff, de.after)
	if de.within > 0 {
		wait = min(wait, de.within)
	}
	return de.retry, wait
}

// splitMessage cuts content into parts of at most limit bytes at line
// breaks (inside a line only when the line alone is too long, at a
// character boundary). Parts after the first start with a "(2/3)" marker.
// Nothing is dropped.
func SplitMessage(content string, limit int) []string {
	if len(content) <= limit {
		return []string{content}
	}
	const markerRoom = 16 // "(99/99)\n"
	room := limit - markerRoom
	var parts []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			parts = append(parts, cur.String())
			cur.Reset()
		}
	}
	for _, line := range strings.SplitAfter(content, "\n") {
		for len(line) > room {
			flush()
			cut := room
			for cut > 0 && !utf8.RuneStart(line[cut]) {
				cut--
			}
			parts = append(parts, line[:cut])
			line = line[cut:]
		}
		if cur.Len()+len(line) > room {
			flush()
		}
		cur.WriteString(line)
	}
	flush()
	for i := 1; i < len(parts); i++ {
		parts[i] = "(" + itoa(i+1) + "/" + itoa(len(parts)) + ")\n" + parts[i]
	}
	return parts
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// Try renders data for ch and makes one attempt at each of its deliveries,
// each within timeout, outside the dispatcher (-test-notify and notices):
// no queue, no retry, no delivery log.
func Try(ctx context.Context, ch Channel, data *render.TemplateData, timeout time.Duration) error {
	deliveries, err := ch.Prepare(data)
	if err != nil {
		return err
	}
	for i := range deliveries {
		actx, cancel := context.WithTimeout(ctx, timeout)
		err := ch.Deliver(actx, &deliveries[i])
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}
