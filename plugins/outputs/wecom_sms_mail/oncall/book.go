package oncall

import (
	"fmt"
	"slices"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/route"
)

// EscalationConfig is one [[outputs.wecom_sms_mail.escalation]].
type EscalationConfig struct {
	Match    map[string]string `toml:"match"`
	MinLevel string            `toml:"min_level"`
	OnCall   string            `toml:"oncall"`
	Steps    []StepConfig      `toml:"steps"`
}

// Policy is a parsed escalation.
type Policy struct {
	Matchers []route.Matcher
	MinLevel alert.Level
	Roster   int // index in the book's rosters
	Steps    []Step
}

// Book is the rosters, the escalation policies and the escalations under
// way: the whole of on call, without I/O.
type Book struct {
	Rosters  []Roster
	Policies []Policy
	// Escalations under way, by alert key.
	Escalations map[string]*Escalation
}

// NewBook checks the escalations against the rosters and the configured
// channel kinds.
func NewBook(rosters []Roster, cs []EscalationConfig, kinds []string) (*Book, error) {
	b := &Book{Rosters: rosters, Escalations: map[string]*Escalation{}}
	seen := map[string]bool{}
	for _, r := range rosters {
		if seen[r.Name] {
			return nil, fmt.Errorf("oncall %q is configured twice", r.Name)
		}
		seen[r.Name] = true
	}
	for i, c := range cs {
		key := fmt.Sprintf("escalation[%d]", i)
		ri := slices.IndexFunc(rosters, func(r Roster) bool { return r.Name == c.OnCall })
		if ri < 0 {
			return nil, fmt.Errorf("%s: oncall: no [[outputs.wecom_sms_mail.oncall]] is named %q", key, c.OnCall)
		}
		ms, err := route.ParseMatchers(c.Match)
		if err != nil {
			return nil, fmt.Errorf("%s: match: %w", key, err)
		}
		min := alert.LevelWarning
		if c.MinLevel != "" {
			if min, err = alert.ParseMinLevel(key+".min_level", c.MinLevel); err != nil {
				return nil, err
			}
		}
		steps, err := ParseSteps(key, c.Steps, kinds)
		if err != nil {
			return nil, err
		}
		b.Policies = append(b.Policies, Policy{Matchers: ms, MinLevel: min, Roster: ri, Steps: steps})
	}
	return b, nil
}

// Roster returns the roster named name.
func (b *Book) Roster(name string) (Roster, bool) {
	i := slices.IndexFunc(b.Rosters, func(r Roster) bool { return r.Name == name })
	if i < 0 {
		return Roster{}, false
	}
	return b.Rosters[i], true
}

// PolicyFor returns the index of the first escalation an alert of level
// with tags matches, or -1.
func (b *Book) PolicyFor(tags map[string]string, level alert.Level) int {
	for i, p := range b.Policies {
		if level >= p.MinLevel && route.Matches(p.Matchers, tags) {
			return i
		}
	}
	return -1
}

// RosterFor returns the roster of the first escalation that takes alerts
// with tags at any level (whose person robot messages mention), or false.
func (b *Book) RosterFor(tags map[string]string) (Roster, bool) {
	for _, p := range b.Policies {
		if route.Matches(p.Matchers, tags) {
			return b.Rosters[p.Roster], true
		}
	}
	return Roster{}, false
}

// Firing is what the book needs of a firing alert.
type Firing struct {
	Key   string
	Tags  map[string]string
	Level alert.Level
	// Since is the alert's first firing.
	Since time.Time
	// Claimed or Silenced: someone has it, or nobody is to hear of it.
	Claimed, Silenced bool
}

// Held reports whether quiet hours hold a step of an alert at level now.
type Held func(step Step, level alert.Level) bool

// Advance brings the escalations to now: an alert that resolved, was
// claimed or silenced ends its escalation (ended lists them); an alert
// that reaches its policy's level starts one, counting from its first
// firing (a rise from warning to critical does not restart it); and every
// step whose time came becomes an action.
func (b *Book) Advance(firing []Firing, overrides []Override, now time.Time, held Held) (actions []Action, ended []string) {
	live := make(map[string]bool, len(firing))
	for _, f := range firing {
		live[f.Key] = true
		e := b.Escalations[f.Key]
		if f.Claimed || f.Silenced {
			if e != nil {
				delete(b.Escalations, f.Key)
				ended = append(ended, f.Key)
			}
			continue
		}
		if e == nil {
			pi := b.PolicyFor(f.Tags, f.Level)
			if pi < 0 {
				continue
			}
			e = &Escalation{Key: f.Key, Policy: pi, Since: f.Since}
			b.Escalations[f.Key] = e
		}
		if e.Policy >= len(b.Policies) {
			continue // the configuration changed under a restored state
		}
		p := b.Policies[e.Policy]
		r := b.Rosters[p.Roster]
		var h func(Step) bool
		if held != nil {
			h = func(s Step) bool { return held(s, f.Level) }
		}
		actions = append(actions, Due(e, p.Steps, r, r.At(now, overrides), now, h)...)
	}
	for key := range b.Escalations {
		if !live[key] {
			delete(b.Escalations, key)
			ended = append(ended, key)
		}
	}
	slices.Sort(ended)
	return actions, ended
}

// CallResult applies a call's result; the alert's key comes back with the
// outcome. An unknown call ID changes nothing.
func (b *Book) CallResult(callID, result string) (string, Outcome, error) {
	es := make([]*Escalation, 0, len(b.Escalations))
	for _, e := range b.Escalations {
		es = append(es, e)
	}
	e, i := Find(es, callID)
	if e == nil {
		return "", Outcome{}, ErrUnknownCall
	}
	r := b.Rosters[b.Policies[e.Policy].Roster]
	return e.Key, Result(e, i, result, r), nil
}

// Snapshot returns the escalations under way, sorted by key, as the state
// file keeps them.
func (b *Book) Snapshot() []Escalation {
	out := make([]Escalation, 0, len(b.Escalations))
	for _, e := range b.Escalations {
		c := *e
		c.Calls = slices.Clone(e.Calls)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Escalation) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	return out
}

// Restore replaces the escalations with saved ones.
func (b *Book) Restore(es []Escalation) {
	b.Escalations = make(map[string]*Escalation, len(es))
	for _, e := range es {
		c := e
		c.Calls = slices.Clone(e.Calls)
		b.Escalations[e.Key] = &c
	}
}

// Plan is the steps an escalation of an alert would place and when (for
// -preview): each step's time and who it reaches at that time.
func (b *Book) Plan(f Firing, overrides []Override) []PlannedStep {
	pi := b.PolicyFor(f.Tags, f.Level)
	if pi < 0 {
		return nil
	}
	p := b.Policies[pi]
	r := b.Rosters[p.Roster]
	var out []PlannedStep
	for i, st := range p.Steps {
		at := f.Since.Add(st.After)
		var names []string
		for _, t := range Targets(st, r, r.At(at, overrides)) {
			names = append(names, t.Name)
		}
		out = append(out, PlannedStep{Index: i, At: at, Notify: st.Notify, Who: names})
	}
	return out
}

// PlannedStep is one step of a plan.
type PlannedStep struct {
	Index  int
	At     time.Time
	Notify []string
	Who    []string
}
