// Package sms is a fake of Tencent Cloud SMS API 3.0 SendSms (version
// 2021-01-11) on the shared tcapi front door: TC3 signatures, the request
// shape, per-number SendStatusSet answers inside HTTP 200, the
// same-number-same-content 30-second limit, and failures on demand.
package sms

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/tcapi"
)

// Service is the API's service name in the TC3 credential scope.
const Service = "sms"

// Message is one SMS sent to one number.
type Message struct {
	Phone      string
	AppID      string
	SignName   string
	TemplateID string
	Params     []string
	At         time.Time
}

// Fake is the SMS API fake.
type Fake struct {
	*tcapi.Server

	mu          sync.Mutex
	templates   map[string]int // template id → number of variables
	maxParamLen int
	numberCodes map[string][]string // phone → codes answered next (consumed)
	last        map[string]time.Time
	messages    []Message
	notify      chan Message
	now         func() time.Time
}

var e164 = regexp.MustCompile(`^\+[1-9]\d{6,14}$`)

// New returns a fake accepting the given credentials. Templates map
// approved template ids to their variable counts.
func New(keys map[string]string, templates map[string]int) *Fake {
	f := &Fake{Server: tcapi.New(Service, keys), templates: templates, maxParamLen: 6,
		numberCodes: map[string][]string{}, last: map[string]time.Time{}, notify: make(chan Message, 1024), now: time.Now}
	f.Handle("SendSms", f.sendSms)
	return f
}

// SetMaxParamLength sets the per-variable length cap (6 for new accounts).
func (f *Fake) SetMaxParamLength(n int) { f.mu.Lock(); f.maxParamLen = n; f.mu.Unlock() }

// FailNumber makes the next sends to phone answer these codes, one each.
func (f *Fake) FailNumber(phone string, codes ...string) {
	f.mu.Lock()
	f.numberCodes[phone] = append(f.numberCodes[phone], codes...)
	f.mu.Unlock()
}

// ClearNumber drops the failures FailNumber queued for phone.
func (f *Fake) ClearNumber(phone string) { f.mu.Lock(); delete(f.numberCodes, phone); f.mu.Unlock() }

// Messages returns every SMS sent.
func (f *Fake) Messages() []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Message(nil), f.messages...)
}

// Received delivers each SMS as it is sent.
func (f *Fake) Received() <-chan Message { return f.notify }

type status struct {
	SerialNo       string
	PhoneNumber    string
	Fee            int
	SessionContext string
	Code           string
	Message        string
	IsoCode        string
}

func (f *Fake) sendSms(params json.RawMessage) (any, *tcapi.Error) {
	var p struct {
		PhoneNumberSet   []string
		SmsSdkAppId      string //nolint:revive // API field name
		TemplateId       string //nolint:revive // API field name
		SignName         string
		TemplateParamSet []string
		SessionContext   string
	}
	if err := tcapi.DecodeParams(params, &p); err != nil {
		return nil, err
	}
	switch {
	case len(p.PhoneNumberSet) == 0 || p.SmsSdkAppId == "" || p.TemplateId == "":
		return nil, &tcapi.Error{Code: "MissingParameter", Message: "PhoneNumberSet, SmsSdkAppId and TemplateId are required"}
	case len(p.PhoneNumberSet) > 200:
		return nil, &tcapi.Error{Code: "LimitExceeded.PhoneNumberCountLimit", Message: "at most 200 numbers per request"}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	vars, ok := f.templates[p.TemplateId]
	if !ok {
		return nil, &tcapi.Error{Code: "FailedOperation.TemplateIncorrectOrUnapproved", Message: "template " + p.TemplateId + " is not approved"}
	}
	if len(p.TemplateParamSet) != vars {
		return nil, &tcapi.Error{Code: "InvalidParameterValue.TemplateParameterFormatError",
			Message: fmt.Sprintf("template %s has %d variables, got %d", p.TemplateId, vars, len(p.TemplateParamSet))}
	}
	for _, v := range p.TemplateParamSet {
		if f.maxParamLen > 0 && len([]rune(v)) > f.maxParamLen {
			return nil, &tcapi.Error{Code: "InvalidParameterValue.TemplateParameterLengthLimit",
				Message: fmt.Sprintf("variable %q is longer than %d characters", v, f.maxParamLen)}
		}
		if strings.Contains(v, "://") {
			return nil, &tcapi.Error{Code: "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter", Message: "no URLs in variables"}
		}
	}
	now := f.now()
	content := p.TemplateId + "\x00" + strings.Join(p.TemplateParamSet, "\x00")
	var set []status
	for i, phone := range p.PhoneNumberSet {
		st := status{SerialNo: fmt.Sprintf("2433:%d%03d", now.UnixNano(), i), PhoneNumber: phone, Fee: 1, Code: "Ok", Message: "send success", IsoCode: "CN"}
		switch {
		case !e164.MatchString(phone):
			st.Code, st.Message, st.Fee = "InvalidParameterValue.IncorrectPhoneNumber", "incorrect phone number", 0
		case len(f.numberCodes[phone]) > 0:
			st.Code, st.Message, st.Fee = f.numberCodes[phone][0], "injected failure", 0
			f.numberCodes[phone] = f.numberCodes[phone][1:]
		case now.Sub(f.last[phone+"\x00"+content]) < 30*time.Second:
			st.Code, st.Message, st.Fee = "LimitExceeded.PhoneNumberThirtySecondLimit", "the same content to the same number within 30 seconds", 0
		default:
			f.last[phone+"\x00"+content] = now
			m := Message{Phone: phone, AppID: p.SmsSdkAppId, SignName: p.SignName, TemplateID: p.TemplateId,
				Params: append([]string(nil), p.TemplateParamSet...), At: now}
			f.messages = append(f.messages, m)
			select {
			case f.notify <- m:
			default:
			}
		}
		set = append(set, st)
	}
	return map[string]any{"SendStatusSet": set}, nil
}
