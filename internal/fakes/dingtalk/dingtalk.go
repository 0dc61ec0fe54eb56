// Package dingtalk is a fake DingTalk custom robot: POST
// /robot/send?access_token=T[&timestamp=&sign=], answers {errcode, errmsg}
// inside HTTP 200, verifies 加签 signatures and their one-hour window,
// enforces 20 messages a minute and 20,000 bytes a body, checks keywords,
// and fails on demand.
package dingtalk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/chatbot"
)

// Robot is the fake; serve it with httptest.
type Robot struct {
	*chatbot.Base
	tokens   map[string]string // access_token → secret ("" for unsigned robots)
	Keywords []string          // when set, a message must contain one
}

// New returns a robot accepting the given access_token → secret pairs.
func New(tokens map[string]string) *Robot {
	return &Robot{Base: chatbot.NewBase(), tokens: tokens}
}

func answer(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"errcode":%d,"errmsg":%q}`, code, msg)
}

func (r *Robot) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/robot/send" {
		http.NotFound(w, req)
		return
	}
	if code := r.Begin(); code != 0 {
		answer(w, code, "injected failure")
		return
	}
	q := req.URL.Query()
	token := q.Get("access_token")
	secret, ok := r.tokens[token]
	if !ok {
		answer(w, 300001, "token is not exist")
		return
	}
	if secret != "" {
		ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
		if err != nil || r.Now().Sub(time.UnixMilli(ts)).Abs() > time.Hour {
			answer(w, 310000, "invalid timestamp")
			return
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(strconv.FormatInt(ts, 10) + "\n" + secret))
		if q.Get("sign") != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
			answer(w, 310000, "sign not match")
			return
		}
	}
	raw, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if len(raw) > 20000 {
		answer(w, 460101, "message too long")
		return
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		answer(w, 40035, "invalid json")
		return
	}
	m := chatbot.Message{Token: token, Body: body}
	m.Type, _ = body["msgtype"].(string)
	switch m.Type {
	case "markdown":
		md, _ := body["markdown"].(map[string]any)
		m.Title, _ = md["title"].(string)
		m.Content, _ = md["text"].(string)
	case "text":
		t, _ := body["text"].(map[string]any)
		m.Content, _ = t["content"].(string)
	default:
		answer(w, 40008, "invalid msgtype")
		return
	}
	if len(r.Keywords) > 0 && !containsAny(m.Content, r.Keywords) {
		answer(w, 310000, "keywords not in content")
		return
	}
	if !r.Allow(token, map[time.Duration]int{time.Minute: 20}) {
		answer(w, 130101, "send too fast, exceed 20 times per minute")
		return
	}
	r.Accept(m)
	answer(w, 0, "ok")
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}
