// Package wecom is a fake WeCom group robot: POST /cgi-bin/webhook/send?key=
// with the documented JSON body and {errcode, errmsg} answers inside HTTP
// 200, the 20-messages-per-minute limit (45009), invalid keys (93000),
// content limits (40058), and failures on demand.
package wecom

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Message is one message the robot accepted.
type Message struct {
	Key                 string
	MsgType             string
	Content             string
	MentionedList       []string
	MentionedMobileList []string
	Image               []byte // the decoded PNG of an image message
	At                  time.Time
}

// Robot is the fake; serve it with httptest or net/http.
type Robot struct {
	mu        sync.Mutex
	keys      map[string]bool
	perMinute int
	sent      map[string][]time.Time
	messages  []Message
	requests  int
	down      int // answer 503 to this many requests (-1: until Up)
	failCodes []int
	failAll   int           // answer this errcode to every request until cleared
	delay     time.Duration // hang this long before answering
	notify    chan Message
	now       func() time.Time
}

// New returns a robot accepting the given keys, limited to 20 messages a
// minute per key like the real one.
func New(keys ...string) *Robot {
	r := &Robot{keys: map[string]bool{}, perMinute: 20, sent: map[string][]time.Time{}, now: time.Now,
		notify: make(chan Message, 1024)}
	for _, k := range keys {
		r.keys[k] = true
	}
	return r
}

// SetPerMinute changes the per-key limit (0 disables it).
func (r *Robot) SetPerMinute(n int) { r.mu.Lock(); r.perMinute = n; r.mu.Unlock() }

// Down makes the next n requests fail with HTTP 503 (n < 0: until Up).
func (r *Robot) Down(n int) { r.mu.Lock(); r.down = n; r.mu.Unlock() }

// Up ends Down.
func (r *Robot) Up() { r.mu.Lock(); r.down = 0; r.mu.Unlock() }

// FailAll makes every request answer errcode code (e.g. a 45009 storm);
// 0 ends it.
func (r *Robot) FailAll(code int) { r.mu.Lock(); r.failAll = code; r.mu.Unlock() }

// SetDelay makes the robot hang this long before it looks at a request. A
// request whose client gives up first is not accepted, as when a robot
// hangs before reading its input.
func (r *Robot) SetDelay(d time.Duration) { r.mu.Lock(); r.delay = d; r.mu.Unlock() }

// FailWith makes the next requests answer these errcodes, one each.
func (r *Robot) FailWith(codes ...int) {
	r.mu.Lock()
	r.failCodes = append(r.failCodes, codes...)
	r.mu.Unlock()
}

// Title is the message's first line without markdown heading marks: what
// kind of message it is ("CKafka 告警已认领", "CKafka consumer lag alert",
// a takeover notice). Tests wait for a message by its title, since a line
// such as "张三 已认领" is carried by more than one kind.
func (m Message) Title() string {
	first, _, _ := strings.Cut(m.Content, "\n")
	return strings.TrimSpace(strings.TrimLeft(first, "#"))
}

// Titled matches a message titled title whose content has every one of
// parts.
func Titled(title string, parts ...string) func(Message) bool {
	return func(m Message) bool {
		if m.Title() != title {
			return false
		}
		for _, p := range parts {
			if !strings.Contains(m.Content, p) {
				return false
			}
		}
		return true
	}
}

// HasLine matches a message one of whose lines contains every one of
// parts: an alert's own line, whatever other alerts share the message (and
// so its title). "]**</font> collection failing: " is a collector alert's
// line; a lag reminder saying "(collection failing: …)" is not.
func HasLine(parts ...string) func(Message) bool {
	return func(m Message) bool {
	lines:
		for line := range strings.Lines(m.Content) {
			for _, p := range parts {
				if !strings.Contains(line, p) {
					continue lines
				}
			}
			return true
		}
		return false
	}
}

// Messages returns the accepted messages.
func (r *Robot) Messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.messages...)
}

// Requests counts every request, failed ones included.
func (r *Robot) Requests() int { r.mu.Lock(); defer r.mu.Unlock(); return r.requests }

// Received delivers each accepted message as it arrives.
func (r *Robot) Received() <-chan Message { return r.notify }

func answer(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"errcode": code, "errmsg": msg})
}

func (r *Robot) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	// The body is read first: only then does the server notice a client
	// that gives up, and a hung request it abandoned is not accepted.
	raw, readErr := io.ReadAll(io.LimitReader(req.Body, 4<<20))
	r.mu.Lock()
	delay := r.delay
	r.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-req.Context().Done():
			return
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	if req.Method != http.MethodPost || req.URL.Path != "/cgi-bin/webhook/send" {
		http.NotFound(w, req)
		return
	}
	if r.down != 0 {
		if r.down > 0 {
			r.down--
		}
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	}
	key := req.URL.Query().Get("key")
	if !r.keys[key] {
		answer(w, 93000, "invalid webhook url, hint: [1700000000_1_abc], from ip: 127.0.0.1")
		return
	}
	if r.failAll != 0 {
		answer(w, r.failAll, fmt.Sprintf("injected failure %d", r.failAll))
		return
	}
	if len(r.failCodes) > 0 {
		code := r.failCodes[0]
		r.failCodes = r.failCodes[1:]
		answer(w, code, fmt.Sprintf("injected failure %d", code))
		return
	}
	now := r.now()
	window := r.sent[key][:0]
	for _, t := range r.sent[key] {
		if now.Sub(t) < time.Minute {
			window = append(window, t)
		}
	}
	r.sent[key] = window
	if r.perMinute > 0 && len(window) >= r.perMinute {
		answer(w, 45009, "api freq out of limit")
		return
	}
	if readErr != nil {
		answer(w, -1, "system busy")
		return
	}
	var body struct {
		MsgType string `json:"msgtype"`
		Text    *struct {
			Content             string   `json:"content"`
			MentionedList       []string `json:"mentioned_list"`
			MentionedMobileList []string `json:"mentioned_mobile_list"`
		} `json:"text"`
		Markdown *struct {
			Content string `json:"content"`
		} `json:"markdown"`
		Image *struct {
			Base64 string `json:"base64"`
			MD5    string `json:"md5"`
		} `json:"image"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		answer(w, 40008, "invalid message type")
		return
	}
	m := Message{Key: key, MsgType: body.MsgType, At: now}
	limit := 0
	switch {
	case body.MsgType == "text" && body.Text != nil:
		m.Content, m.MentionedList, m.MentionedMobileList = body.Text.Content, body.Text.MentionedList, body.Text.MentionedMobileList
		limit = 2048
	case body.MsgType == "markdown" && body.Markdown != nil:
		m.Content = body.Markdown.Content
		limit = 4096
	case body.MsgType == "image" && body.Image != nil:
		// The image must decode, match its md5, and be at most 2 MB.
		img, err := base64.StdEncoding.DecodeString(body.Image.Base64)
		sum := md5.Sum(img)
		switch {
		case err != nil:
			answer(w, 40008, "invalid base64")
			return
		case hex.EncodeToString(sum[:]) != body.Image.MD5:
			answer(w, 301019, "media md5 not match")
			return
		case len(img) > 2<<20:
			answer(w, 40009, "invalid image size")
			return
		}
		m.Image = img
		m.Content = "[image]"
		limit = len(m.Content)
	default:
		answer(w, 40008, "invalid message type")
		return
	}
	if m.Content == "" {
		answer(w, 44004, "text content is empty")
		return
	}
	if len(m.Content) > limit {
		answer(w, 40058, fmt.Sprintf("content exceed max length %d", limit))
		return
	}
	r.sent[key] = append(r.sent[key], now)
	r.messages = append(r.messages, m)
	select {
	case r.notify <- m:
	default:
	}
	answer(w, 0, "ok")
}
