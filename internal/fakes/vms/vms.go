// Package vms is a fake of Tencent Cloud Voice Message Service API 3.0
// SendTtsVoice (version 2020-09-02) on the shared tcapi front door — TC3
// signatures, the documented request and answer shapes, error codes,
// a per-number frequency limit — with a phone simulator behind it: each
// number answers as a test scripts it (a key, no key, no answer, a
// failure), and the fake posts the documented callbacks
// (voiceprompt_callback, voicekey_callback, voice_failure_callback;
// cloud.tencent.com/document/product/1128/51534, 51535, 51536) to the URL
// the console would hold.
package vms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/tcapi"
)

// Service is the API's service name in the TC3 credential scope.
const Service = "vms"

// Answer is how a phone answers a call.
type Answer struct {
	// Pick: the call is answered (voiceprompt_callback result 0).
	Pick bool
	// Key, when set on an answered call, is pressed (voicekey_callback).
	Key string
	// Fail, when set, fails the call (voice_failure_callback with this
	// failure_code) instead of ringing; e.g. 8 空号, 1 关机.
	Fail int
}

// Answers a test gives phones.
var (
	AnswerWithKey = func(k string) Answer { return Answer{Pick: true, Key: k} }
	AnswerNoKey   = Answer{Pick: true}
	NoAnswer      = Answer{}
	Failed        = Answer{Fail: 5}
)

// failureReasons are the documented failure codes' reasons (1128/37531).
var failureReasons = map[int]string{1: "关机", 2: "通话中", 3: "不在服务区", 5: "无人接听", 8: "空号", 20: "无应答"}

// Call is one call placed.
type Call struct {
	ID         string
	Phone      string
	AppID      string
	TemplateID string
	Params     []string
	PlayTimes  int
	Session    string
	At         time.Time
}

// Fake is the VMS fake.
type Fake struct {
	*tcapi.Server

	mu          sync.Mutex
	templates   map[string]int // template id → number of variables
	answers     map[string][]Answer
	callbackURL string
	ringFor     time.Duration
	perMinute   int // calls a number takes a minute; 0: no limit
	recent      map[string][]time.Time
	calls       []Call
	callbacks   []string // bodies posted
	notify      chan Call
	seq         int
	client      *http.Client
	wg          sync.WaitGroup
}

var mainland = regexp.MustCompile(`^\+861[3-9]\d{9}$`)

// New returns a fake accepting the given credentials; templates map
// approved template IDs to their variable counts. Phones not scripted do
// not answer.
func New(keys map[string]string, templates map[string]int) *Fake {
	f := &Fake{Server: tcapi.New(Service, keys), templates: templates, answers: map[string][]Answer{},
		recent: map[string][]time.Time{}, notify: make(chan Call, 256), ringFor: 50 * time.Millisecond,
		client: &http.Client{Timeout: 5 * time.Second}}
	f.Handle("SendTtsVoice", f.sendTtsVoice)
	return f
}

// SetCallbackURL is where the callbacks go (the console's setting).
func (f *Fake) SetCallbackURL(u string) { f.mu.Lock(); f.callbackURL = u; f.mu.Unlock() }

// SetRingFor is how long a call rings before its callbacks are posted.
func (f *Fake) SetRingFor(d time.Duration) { f.mu.Lock(); f.ringFor = d; f.mu.Unlock() }

// SetPerNumberLimit refuses more than n calls a minute to one number with
// LimitExceeded.DeliveryFrequencyLimit (the console's frequency policy).
func (f *Fake) SetPerNumberLimit(n int) { f.mu.Lock(); f.perMinute = n; f.mu.Unlock() }

// Script sets how phone answers its next calls, one answer each; the
// last one repeats.
func (f *Fake) Script(phone string, answers ...Answer) {
	f.mu.Lock()
	f.answers[phone] = answers
	f.mu.Unlock()
}

// Calls returns every call placed.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// Received delivers each call as it is placed.
func (f *Fake) Received() <-chan Call { return f.notify }

// Callbacks returns the bodies the fake posted.
func (f *Fake) Callbacks() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.callbacks...)
}

// Wait waits for the callbacks in flight.
func (f *Fake) Wait() { f.wg.Wait() }

func (f *Fake) sendTtsVoice(params json.RawMessage) (any, *tcapi.Error) {
	var p struct {
		TemplateId       string //nolint:revive // API field name
		CalledNumber     string
		VoiceSdkAppid    string //nolint:revive // API field name
		TemplateParamSet []string
		PlayTimes        *int
		SessionContext   string
	}
	if err := tcapi.DecodeParams(params, &p); err != nil {
		return nil, err
	}
	switch {
	case p.CalledNumber == "":
		return nil, &tcapi.Error{Code: "MissingParameter", Message: "The request is missing a required parameter `CalledNumber`."}
	case p.TemplateId == "" || p.VoiceSdkAppid == "":
		return nil, &tcapi.Error{Code: "MissingParameter", Message: "TemplateId and VoiceSdkAppid are required"}
	case p.PlayTimes != nil && (*p.PlayTimes < 1 || *p.PlayTimes > 3):
		return nil, &tcapi.Error{Code: "InvalidParameterValue", Message: "PlayTimes must be 1 to 3"}
	case !mainland.MatchString(p.CalledNumber):
		return nil, &tcapi.Error{Code: "InvalidParameterValue.IncorrectPhoneNumber", Message: "mainland China mobile numbers only (+861…)"}
	}
	total := 0
	for _, v := range p.TemplateParamSet {
		total += len([]rune(v))
	}
	if total > 350 {
		return nil, &tcapi.Error{Code: "InvalidParameterValue.ContentLengthLimit", Message: "the message is longer than 350 characters"}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	vars, ok := f.templates[p.TemplateId]
	if !ok {
		return nil, &tcapi.Error{Code: "FailedOperation.TemplateIncorrectOrUnapproved", Message: "template " + p.TemplateId + " is not approved"}
	}
	if len(p.TemplateParamSet) != vars {
		return nil, &tcapi.Error{Code: "FailedOperation.TemplateIncorrectOrUnapproved",
			Message: fmt.Sprintf("template %s has %d variables, got %d", p.TemplateId, vars, len(p.TemplateParamSet))}
	}
	now := time.Now()
	if f.perMinute > 0 {
		var kept []time.Time
		for _, t := range f.recent[p.CalledNumber] {
			if now.Sub(t) < time.Minute {
				kept = append(kept, t)
			}
		}
		f.recent[p.CalledNumber] = kept
		if len(kept) >= f.perMinute {
			return nil, &tcapi.Error{Code: "LimitExceeded.DeliveryFrequencyLimit", Message: "the number's frequency limit was reached"}
		}
		f.recent[p.CalledNumber] = append(kept, now)
	}
	f.seq++
	c := Call{ID: fmt.Sprintf("%08x-403c-11eb-96b8-525400476c37", f.seq), Phone: p.CalledNumber, AppID: p.VoiceSdkAppid,
		TemplateID: p.TemplateId, Params: append([]string(nil), p.TemplateParamSet...), PlayTimes: 2, Session: p.SessionContext, At: now}
	if p.PlayTimes != nil {
		c.PlayTimes = *p.PlayTimes
	}
	f.calls = append(f.calls, c)
	select {
	case f.notify <- c:
	default:
	}
	answer := NoAnswer
	if as := f.answers[p.CalledNumber]; len(as) > 0 {
		answer = as[0]
		if len(as) > 1 {
			f.answers[p.CalledNumber] = as[1:]
		}
	}
	f.wg.Add(1)
	go f.ring(c, answer, f.callbackURL, f.ringFor)
	return map[string]any{"SendStatus": map[string]string{"CallId": c.ID, "SessionContext": p.SessionContext}}, nil
}

// ring posts the call's callbacks as the phone answered it.
func (f *Fake) ring(c Call, a Answer, url string, ringFor time.Duration) {
	defer f.wg.Done()
	time.Sleep(ringFor)
	if url == "" {
		return
	}
	mobile := c.Phone[3:]
	start := c.At.Unix()
	end := time.Now().Unix()
	if a.Fail != 0 {
		f.post(url, map[string]any{"voice_failure_callback": map[string]any{
			"call_from": "075583763333", "callid": c.ID, "failure_code": a.Fail, "failure_reason": failureReasons[a.Fail],
			"mobile": mobile, "nationcode": "86"}})
		return
	}
	if a.Pick && a.Key != "" {
		f.post(url, map[string]any{"voicekey_callback": map[string]string{
			"call_from": "", "callid": c.ID, "keypress": a.Key, "mobile": mobile, "nationcode": "86"}})
	}
	result, accept, fee := "1", "0", "0"
	if a.Pick {
		result, accept, fee = "0", strconv.FormatInt(start+1, 10), "1"
	}
	f.post(url, map[string]any{"voiceprompt_callback": map[string]string{
		"result": result, "accept_time": accept, "call_from": "", "callid": c.ID, "end_calltime": strconv.FormatInt(end, 10),
		"fee": fee, "mobile": mobile, "nationcode": "86", "start_calltime": strconv.FormatInt(start, 10)}})
}

func (f *Fake) post(url string, body any) {
	data, _ := json.Marshal(body)
	f.mu.Lock()
	f.callbacks = append(f.callbacks, string(data))
	f.mu.Unlock()
	resp, err := f.client.Post(url, "application/json", bytes.NewReader(data))
	if err == nil {
		resp.Body.Close()
	}
}
