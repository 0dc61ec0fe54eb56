// Package chatbot is what the fake chat robots share: recorded messages,
// rate-limit windows per robot, and failures on demand.
package chatbot

import (
	"sync"
	"time"
)

// Message is one message a robot accepted.
type Message struct {
	Token   string         // which robot
	Type    string         // msgtype / msg_type
	Title   string         // markdown title or card header
	Content string         // the text
	Colour  string         // Feishu card header template
	Body    map[string]any // the whole request
	At      time.Time
}

// Base records messages and answers the shared questions of the fakes.
type Base struct {
	mu        sync.Mutex
	messages  []Message
	requests  int
	failCodes []int
	sent      map[string][]time.Time
	notify    chan Message
	Now       func() time.Time
}

// NewBase returns an empty recorder.
func NewBase() *Base {
	return &Base{sent: map[string][]time.Time{}, notify: make(chan Message, 1024), Now: time.Now}
}

// FailWith makes the next requests answer these error codes, one each.
func (b *Base) FailWith(codes ...int) {
	b.mu.Lock()
	b.failCodes = append(b.failCodes, codes...)
	b.mu.Unlock()
}

// Messages returns the accepted messages.
func (b *Base) Messages() []Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Message(nil), b.messages...)
}

// Requests counts every request, failed ones included.
func (b *Base) Requests() int { b.mu.Lock(); defer b.mu.Unlock(); return b.requests }

// Received delivers each accepted message as it arrives.
func (b *Base) Received() <-chan Message { return b.notify }

// Begin counts a request and returns an injected failure code, or 0.
func (b *Base) Begin() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.requests++
	if len(b.failCodes) > 0 {
		code := b.failCodes[0]
		b.failCodes = b.failCodes[1:]
		return code
	}
	return 0
}

// Allow reports whether token may send one more message within each
// limit (n per window), and counts it if so.
func (b *Base) Allow(token string, limits map[time.Duration]int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.Now()
	var longest time.Duration
	for w := range limits {
		longest = max(longest, w)
	}
	kept := b.sent[token][:0]
	for _, t := range b.sent[token] {
		if now.Sub(t) < longest {
			kept = append(kept, t)
		}
	}
	b.sent[token] = kept
	for w, n := range limits {
		count := 0
		for _, t := range kept {
			if now.Sub(t) < w {
				count++
			}
		}
		if count >= n {
			return false
		}
	}
	b.sent[token] = append(b.sent[token], now)
	return true
}

// Accept records a message.
func (b *Base) Accept(m Message) {
	m.At = b.Now()
	b.mu.Lock()
	b.messages = append(b.messages, m)
	b.mu.Unlock()
	select {
	case b.notify <- m:
	default:
	}
}
