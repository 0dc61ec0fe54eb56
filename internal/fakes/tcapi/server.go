// Package tcapi is a faithful fake of the Tencent Cloud API 3.0 front door:
// it verifies TC3-HMAC-SHA256 signatures, routes X-TC-Action to handlers,
// answers in the documented {"Response":{...,"RequestId"}} shape with errors
// inside HTTP 200, enforces a request rate like the cloud's
// RequestLimitExceeded, and injects latency, faults and broken bodies on
// demand. Product fakes (CKafka, SMS) register their actions on it.
package tcapi

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/tc3"
)

// Error is an API error answered inside HTTP 200.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Handler serves one action: it decodes params and returns the value that
// goes next to RequestId inside "Response", or an *Error.
type Handler func(params json.RawMessage) (any, *Error)

// Fault is one injected misbehaviour. It applies to requests of Action (all
// actions when empty), Times times (forever when Times < 0).
type Fault struct {
	Action string
	// BodyContains, when set, limits the fault to requests whose JSON body
	// contains it, e.g. `"Group":"g1"`.
	BodyContains string
	// Code and Message answer an API error (HTTP 200, error body).
	Code    string
	Message string
	// Status answers this HTTP status with Body verbatim (e.g. a gateway 502).
	Status int
	// Body, with Status 0, answers HTTP 200 with this raw (malformed) body.
	Body string
	// Delay is added before answering.
	Delay time.Duration
	Times int
}

// Server is the fake. The zero value is not usable: call New.
type Server struct {
	service string
	now     func() time.Time

	mu         sync.Mutex
	keys       map[string]string
	handlers   map[string]Handler
	latency    time.Duration
	rateLimit  int
	tokens     float64
	lastRefill time.Time
	// perAction: each action has its own bucket of actionLimit a second,
	// as Tencent Cloud limits each action per sub-account.
	actionLimit int
	actions     map[string]*bucket
	faults      []*Fault
	stats       Stats
	onAnswer    func(action string, body []byte, at time.Time)
}

// OnAnswer registers a hook called after every successful answer, with the
// request body, e.g. to timestamp the collection that showed a breach.
func (s *Server) OnAnswer(f func(action string, body []byte, at time.Time)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onAnswer = f
}

// Stats counts what the fake saw.
type Stats struct {
	Requests int
	ByAction map[string]int
	// Span is each action's first and last request, for its pace.
	Span         map[string][2]time.Time
	Throttled    int
	AuthFailures int
	MaxInFlight  int
	inFlight     int
}

// New returns a fake for service (e.g. "ckafka") accepting the given
// SecretId → SecretKey pairs.
func New(service string, keys map[string]string) *Server {
	k := make(map[string]string, len(keys))
	for id, key := range keys {
		k[id] = key
	}
	return &Server{
		service:  service,
		now:      time.Now,
		keys:     k,
		handlers: make(map[string]Handler),
		stats:    Stats{ByAction: make(map[string]int), Span: make(map[string][2]time.Time)},
	}
}

// Handle registers the handler of an action.
func (s *Server) Handle(action string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[action] = h
}

// SetLatency delays every answer.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetRateLimit makes the fake answer RequestLimitExceeded above perSecond
// requests per second (a token bucket holding one second of requests);
// 0 disables it.
func (s *Server) SetRateLimit(perSecond int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimit = perSecond
	s.tokens = float64(perSecond)
	s.lastRefill = s.now()
}

// SetActionRateLimit makes the fake answer RequestLimitExceeded above
// perSecond requests per second of each action (its own token bucket
// holding one second of requests), on top of SetRateLimit's; 0 disables
// it. The client is not told the limit.
func (s *Server) SetActionRateLimit(perSecond int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.actionLimit = perSecond
	s.actions = map[string]*bucket{}
}

// bucket is one token bucket.
type bucket struct {
	tokens float64
	last   time.Time
}

// take takes a token from a bucket of perSecond refilled up to one second
// of requests; false when empty.
func (b *bucket) take(perSecond int, now time.Time) bool {
	b.tokens = min(b.tokens+now.Sub(b.last).Seconds()*float64(perSecond), float64(perSecond))
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// allowAction applies the per-action limit; s.mu is held.
func (s *Server) allowAction(action string) bool {
	if s.actionLimit <= 0 {
		return true
	}
	b := s.actions[action]
	if b == nil {
		b = &bucket{tokens: float64(s.actionLimit), last: s.now()}
		s.actions[action] = b
	}
	return b.take(s.actionLimit, s.now())
}

// SetClock replaces the server clock (for signature expiry tests).
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetKey adds or replaces a credential.
func (s *Server) SetKey(secretID, secretKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[secretID] = secretKey
}

// Inject queues a fault; faults are matched in the order injected.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ByAction = make(map[string]int, len(s.stats.ByAction))
	for k, v := range s.stats.ByAction {
		st.ByAction[k] = v
	}
	st.Span = make(map[string][2]time.Time, len(s.stats.Span))
	for k, v := range s.stats.Span {
		st.Span[k] = v
	}
	return st
}

// ResetStats zeroes the counters.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = Stats{ByAction: make(map[string]int), Span: make(map[string][2]time.Time), inFlight: s.stats.inFlight}
}

func (s *Server) takeFault(action string, body []byte) *Fault {
	for i, f := range s.faults {
		if f.Action != "" && f.Action != action {
			continue
		}
		if f.BodyContains != "" && !bytes.Contains(body, []byte(f.BodyContains)) {
			continue
		}
		c := *f
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
		}
		return &c
	}
	return nil
}

// allow is the rate limiter; it must be called with s.mu held.
func (s *Server) allow() bool {
	if s.rateLimit <= 0 {
		return true
	}
	now := s.now()
	s.tokens += now.Sub(s.lastRefill).Seconds() * float64(s.rateLimit)
	if max := float64(s.rateLimit); s.tokens > max {
		s.tokens = max
	}
	s.lastRefill = now
	if s.tokens < 1 {
		return false
	}
	s.tokens--
	return true
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		writeError(w, requestID, &Error{"InternalError", "reading body: " + err.Error()})
		return
	}
	action := r.Header.Get("X-TC-Action")

	s.mu.Lock()
	s.stats.Requests++
	s.stats.ByAction[action]++
	span := s.stats.Span[action]
	if span[0].IsZero() {
		span[0] = time.Now()
	}
	span[1] = time.Now()
	s.stats.Span[action] = span
	s.stats.inFlight++
	if s.stats.inFlight > s.stats.MaxInFlight {
		s.stats.MaxInFlight = s.stats.inFlight
	}
	latency := s.latency
	now := s.now()
	keys := s.keys
	fault := s.takeFault(action, body)
	handler := s.handlers[action]
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.stats.inFlight--
		s.mu.Unlock()
	}()

	if fault != nil && fault.Delay > 0 {
		latency += fault.Delay
	}
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}

	s.mu.Lock()
	_, failure := tc3.Verify(r, body, s.service, func(id string) (string, bool) { k, ok := keys[id]; return k, ok }, now)
	if failure != nil {
		s.stats.AuthFailures++
	}
	throttled := failure == nil && (!s.allow() || !s.allowAction(r.Header.Get("X-TC-Action")))
	if throttled {
		s.stats.Throttled++
	}
	s.mu.Unlock()

	switch {
	case failure != nil:
		writeError(w, requestID, &Error{failure.Code, failure.Message})
	case throttled:
		writeError(w, requestID, &Error{"RequestLimitExceeded", "Your current request times exceeds the frequency limit of this action."})
	case fault != nil && fault.Status != 0:
		w.WriteHeader(fault.Status)
		_, _ = io.WriteString(w, fault.Body)
	case fault != nil && fault.Body != "":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, fault.Body)
	case fault != nil && fault.Code != "":
		writeError(w, requestID, &Error{fault.Code, fault.Message})
	case handler == nil:
		writeError(w, requestID, &Error{"InvalidAction", fmt.Sprintf("The action %q is not supported by the fake %s API.", action, s.service)})
	default:
		result, apiErr := handler(body)
		if apiErr != nil {
			writeError(w, requestID, apiErr)
			return
		}
		writeResult(w, requestID, result)
		s.mu.Lock()
		hook := s.onAnswer
		s.mu.Unlock()
		if hook != nil {
			hook(action, body, time.Now())
		}
	}
}

func writeError(w http.ResponseWriter, requestID string, e *Error) {
	writeJSON(w, map[string]any{"Response": map[string]any{
		"Error":     map[string]string{"Code": e.Code, "Message": e.Message},
		"RequestId": requestID,
	}})
}

// writeResult merges the handler's fields with RequestId inside "Response".
func writeResult(w http.ResponseWriter, requestID string, result any) {
	raw, err := json.Marshal(result)
	if err != nil {
		writeError(w, requestID, &Error{"InternalError", err.Error()})
		return
	}
	fields := map[string]json.RawMessage{}
	if err := json.Unmarshal(raw, &fields); err != nil {
		writeError(w, requestID, &Error{"InternalError", "handler result is not an object"})
		return
	}
	fields["RequestId"], _ = json.Marshal(requestID)
	writeJSON(w, map[string]any{"Response": fields})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// DecodeParams decodes a request body into v, answering the cloud's
// InvalidParameter error shape on failure.
func DecodeParams(params json.RawMessage, v any) *Error {
	if err := json.Unmarshal(params, v); err != nil {
		return &Error{Code: "InvalidParameter", Message: "request body: " + err.Error()}
	}
	return nil
}
