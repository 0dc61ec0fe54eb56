// Package feishu is a fake Feishu/Lark custom bot: POST
// /open-apis/bot/v2/hook/TOKEN, answers {code, msg} inside HTTP 200,
// verifies signatures (timestamp and sign in the body) and their one-hour
// window, enforces 5 requests a second and 100 a minute and 20 KB a body,
// checks keywords, and fails on demand.
package feishu

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
	"sync"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/chatbot"
)

// Bot is the fake; serve it with httptest.
type Bot struct {
	*chatbot.Base
	tokens   map[string]string // token → secret ("" for unsigned bots)
	Keywords []string

	mu        sync.Mutex
	throttled int
}

// TooManyRequests makes the next n requests answer as Feishu was seen to
// answer its rate limit in the field (ccfos/nightingale#1437): HTTP 400
// with {"code":9499,"msg":"too many request"}.
func (b *Bot) TooManyRequests(n int) {
	b.mu.Lock()
	b.throttled = n
	b.mu.Unlock()
}

func (b *Bot) takeThrottled() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.throttled > 0 {
		b.throttled--
		return true
	}
	return false
}

// New returns a bot accepting the given token → secret pairs.
func New(tokens map[string]string) *Bot {
	return &Bot{Base: chatbot.NewBase(), tokens: tokens}
}

func answer(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"code":%d,"msg":%q,"data":{}}`, code, msg)
}

func (b *Bot) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	const prefix = "/open-apis/bot/v2/hook/"
	if req.Method != http.MethodPost || !strings.HasPrefix(req.URL.Path, prefix) {
		http.NotFound(w, req)
		return
	}
	if code := b.Begin(); code != 0 {
		answer(w, code, "injected failure")
		return
	}
	if b.takeThrottled() {
		_, _ = io.Copy(io.Discard, req.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprint(w, `{"code":9499,"msg":"too many request","data":{}}`)
		return
	}
	token := strings.TrimPrefix(req.URL.Path, prefix)
	secret, ok := b.tokens[token]
	if !ok {
		answer(w, 19001, "param invalid: incoming webhook access token invalid")
		return
	}
	raw, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if len(raw) > 20<<10 {
		answer(w, 9499, "Bad Request")
		return
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		answer(w, 9499, "Bad Request")
		return
	}
	if secret != "" {
		tsText, _ := body["timestamp"].(string)
		ts, err := strconv.ParseInt(tsText, 10, 64)
		mac := hmac.New(sha256.New, []byte(tsText+"\n"+secret))
		sign, _ := body["sign"].(string)
		if err != nil || b.Now().Sub(time.Unix(ts, 0)).Abs() > time.Hour || sign != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
			answer(w, 19021, "sign match fail or timestamp is not within one hour from current time")
			return
		}
	}
	m := chatbot.Message{Token: token, Body: body}
	m.Type, _ = body["msg_type"].(string)
	switch m.Type {
	case "text":
		c, _ := body["content"].(map[string]any)
		m.Content, _ = c["text"].(string)
	case "interactive":
		card, _ := body["card"].(map[string]any)
		header, _ := card["header"].(map[string]any)
		m.Colour, _ = header["template"].(string)
		title, _ := header["title"].(map[string]any)
		m.Title, _ = title["content"].(string)
		elements, _ := card["elements"].([]any)
		for _, e := range elements {
			el, _ := e.(map[string]any)
			text, _ := el["text"].(map[string]any)
			s, _ := text["content"].(string)
			m.Content += s
		}
	default:
		answer(w, 9499, "Bad Request: msg_type")
		return
	}
	if len(b.Keywords) > 0 && !strings.Contains(m.Title+m.Content, b.Keywords[0]) {
		answer(w, 19024, "Key Words Not Found")
		return
	}
	if !b.Allow(token, map[time.Duration]int{time.Second: 5, time.Minute: 100}) {
		answer(w, 11232, "frequency limited")
		return
	}
	b.Accept(m)
	answer(w, 0, "success")
}
