package oncall

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/influxdata/telegraf/config"
)

// StepConfig is one of an escalation's steps.
type StepConfig struct {
	After  config.Duration `toml:"after"`
	Notify []string        `toml:"notify"`
	Who    string          `toml:"who"`
}

// Who a step reaches.
const (
	WhoOnCall = "oncall" // the person on call
	WhoNext   = "next"   // the person after them in the roster, wrapping around
	WhoAll    = "all"    // everyone on the roster
)

// Step is a parsed step.
type Step struct {
	After  time.Duration
	Notify []string // channel kinds: voice, sms, email, wecom, dingtalk, feishu
	Who    string
}

// ParseSteps checks an escalation's steps: times in order, known channel
// kinds (kinds lists those configured), known whos.
func ParseSteps(key string, cs []StepConfig, kinds []string) ([]Step, error) {
	if len(cs) == 0 {
		return nil, fmt.Errorf("%s: steps: at least one step is required", key)
	}
	var out []Step
	for i, c := range cs {
		s := Step{After: time.Duration(c.After), Notify: c.Notify, Who: c.Who}
		if s.Who == "" {
			s.Who = WhoOnCall
		}
		switch {
		case s.After < 0:
			return nil, fmt.Errorf("%s: steps[%d].after must not be negative", key, i)
		case i > 0 && s.After < out[i-1].After:
			return nil, fmt.Errorf("%s: steps[%d].after (%s) comes before steps[%d].after (%s): steps must be in order",
				key, i, s.After, i-1, out[i-1].After)
		case s.Who != WhoOnCall && s.Who != WhoNext && s.Who != WhoAll:
			return nil, fmt.Errorf("%s: steps[%d].who: %q is not \"oncall\", \"next\" or \"all\"", key, i, c.Who)
		case len(s.Notify) == 0:
			return nil, fmt.Errorf("%s: steps[%d].notify: name at least one channel, e.g. [\"sms\", \"voice\"]", key, i)
		}
		for _, n := range s.Notify {
			if !slices.Contains(kinds, n) {
				return nil, fmt.Errorf("%s: steps[%d].notify: %q is not a configured channel (configured: %v)", key, i, n, kinds)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// Targets are the people a step reaches at shift s.
func Targets(step Step, r Roster, s Shift) []Person {
	switch step.Who {
	case WhoNext:
		p, _ := r.After(s.Index)
		return []Person{p}
	case WhoAll:
		return slices.Clone(r.People)
	}
	return []Person{s.Person}
}

// Call results as the output records them.
const (
	CallPlaced     = ""          // no result yet
	CallAnswered   = "answered"  // answered, no key (yet)
	CallNoAnswer   = "no_answer" // not answered, or failed: the next person is called
	CallFailed     = "failed"    // refused by the API or failed in the network
	CallAcked      = "acked"     // the ack key was pressed: the alert is claimed
	CallOtherKey   = "other_key" // a key other than the ack key
	callMaxPerStep = 16          // bounds the chain of "next person" calls in one step
	// VoiceKind is the channel kind that places calls.
	VoiceKind = "voice"
)

// Call is one phone call an escalation placed.
type Call struct {
	ID     string    `json:"id"` // VMS's CallId
	Step   int       `json:"step"`
	Person string    `json:"person"`
	Phone  string    `json:"phone"`
	At     time.Time `json:"at"`
	Result string    `json:"result,omitempty"`
}

// Escalation is one alert's walk through its policy: what the replicated
// state keeps, so that a takeover continues from the next step and never
// repeats one.
type Escalation struct {
	Key    string `json:"key"`
	Policy int    `json:"policy"` // index of the [[escalation]], 0-based
	// Since is the alert's first firing: step times count from it.
	Since time.Time `json:"since"`
	// Next is the index of the next step to place.
	Next  int    `json:"next"`
	Calls []Call `json:"calls,omitempty"`
}

// Action is one thing to do now for an escalation: notify people on the
// channels of a step.
type Action struct {
	Key    string
	Step   int
	Notify []string
	People []Person
	// Retry says the action calls the next person after a call that was
	// not answered; only voice is placed again.
	Retry bool
}

// Due advances e to now: each step whose time has come (and that quiet
// hours do not hold: held reports it) becomes an action, in order, and
// e.Next moves past it, so that no step is placed twice.
func Due(e *Escalation, steps []Step, r Roster, s Shift, now time.Time, held func(Step) bool) []Action {
	var out []Action
	for e.Next < len(steps) {
		st := steps[e.Next]
		if now.Before(e.Since.Add(st.After)) || (held != nil && held(st)) {
			break
		}
		out = append(out, Action{Key: e.Key, Step: e.Next, Notify: st.Notify, People: Targets(st, r, s)})
		e.Next++
	}
	return out
}

// Placed records a call placed for step to p.
func Placed(e *Escalation, step int, p Person, callID string, now time.Time) {
	e.Calls = append(e.Calls, Call{ID: callID, Step: step, Person: p.Name, Phone: p.Phone, At: now})
}

// Find returns the escalation and the index of the call with this ID.
func Find(es []*Escalation, callID string) (*Escalation, int) {
	if callID == "" {
		return nil, -1
	}
	for _, e := range es {
		for i, c := range e.Calls {
			if c.ID == callID {
				return e, i
			}
		}
	}
	return nil, -1
}

// Outcome is what a call's result asks of the output.
type Outcome struct {
	// ClaimBy, when set, claims the alert for this person.
	ClaimBy string
	// Next, when set, is the call to place at once.
	Next *Action
}

// ErrUnknownCall: a result for a call no escalation placed.
var ErrUnknownCall = errors.New("no escalation placed this call")

// Result applies a call's result (CallNoAnswer, CallFailed, CallAnswered,
// or a key press: CallAcked, CallOtherKey) to the escalation that placed
// it. A call not answered or failed calls the next person of the roster at
// once, until each was called once in the step. A result that comes again
// (VMS may retry a callback) changes nothing.
func Result(e *Escalation, i int, result string, r Roster) Outcome {
	c := &e.Calls[i]
	switch result {
	case CallAcked:
		c.Result = CallAcked
		name := c.Person
		if name == "" {
			name = MaskPhone(c.Phone)
		}
		return Outcome{ClaimBy: name}
	case CallAnswered, CallOtherKey:
		if c.Result == CallPlaced || c.Result == CallAnswered {
			c.Result = result
		}
		return Outcome{}
	}
	if c.Result != CallPlaced {
		return Outcome{} // answered, or told already
	}
	c.Result = result
	called := map[string]bool{}
	count := 0
	for _, o := range e.Calls {
		if o.Step == c.Step {
			called[o.Person] = true
			count++
		}
	}
	idx := r.Index(c.Person)
	if idx < 0 || count >= callMaxPerStep {
		return Outcome{}
	}
	for range r.People {
		p, j := r.After(idx)
		idx = j
		if called[p.Name] || p.Phone == "" {
			continue
		}
		return Outcome{Next: &Action{Key: e.Key, Step: c.Step, Notify: []string{VoiceKind}, People: []Person{p}, Retry: true}}
	}
	return Outcome{}
}
