// Package oncall is who must act on an alert: duty rosters with their
// overrides, and escalation policies walked step by step until someone
// claims the alert. Rosters and escalations are pure (no I/O, the time
// passed in): the output places the steps they return and reports the
// calls' results. The override file (file.go) is the package's only I/O.
package oncall

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/influxdata/telegraf/config"
)

// PersonConfig is one entry of a roster's people.
type PersonConfig struct {
	Name         string `toml:"name"`
	Phone        string `toml:"phone"`
	WeComMention string `toml:"wecom_mention"`
	Email        string `toml:"email"`
}

// RosterConfig is one [[outputs.wecom_sms_mail.oncall]].
type RosterConfig struct {
	Name     string          `toml:"name"`
	People   []PersonConfig  `toml:"people"`
	Rotation config.Duration `toml:"rotation"`
	Handoff  string          `toml:"handoff"`
	Timezone string          `toml:"timezone"`
}

// Person is someone on a roster; Phone is E.164.
type Person struct {
	Name, Phone, WeComMention, Email string
}

// Masked is how a person is named where the roster gives no name: the
// phone number with its middle digits hidden.
func MaskPhone(p string) string {
	if len(p) > 8 {
		return p[:len(p)-8] + "****" + p[len(p)-4:]
	}
	return p
}

// Roster is a parsed roster: people take turns of Rotation, the first
// starting at Handoff.
type Roster struct {
	Name     string
	People   []Person
	Rotation time.Duration
	Handoff  time.Time
	Location *time.Location
}

// ParseRoster checks one roster; normalize turns a phone number into its
// E.164 form (the SMS channel's rule) or says why it cannot.
func ParseRoster(c RosterConfig, normalize func(string) (string, error)) (Roster, error) {
	r := Roster{Name: c.Name, Rotation: time.Duration(c.Rotation)}
	key := fmt.Sprintf("oncall %q", c.Name)
	if c.Name == "" {
		return r, errors.New("oncall: name is required")
	}
	if len(c.People) == 0 {
		return r, fmt.Errorf("%s: people: at least one person is required", key)
	}
	if r.Rotation <= 0 {
		return r, fmt.Errorf("%s: rotation must be a positive duration, e.g. \"168h\"", key)
	}
	r.Location = time.Local
	if c.Timezone != "" {
		loc, err := time.LoadLocation(c.Timezone)
		if err != nil {
			return r, fmt.Errorf("%s: timezone: %w", key, err)
		}
		r.Location = loc
	}
	if c.Handoff == "" {
		return r, fmt.Errorf("%s: handoff is required: the RFC 3339 time a shift starts, e.g. \"2026-12-07T09:00:00+08:00\"", key)
	}
	t, err := time.Parse(time.RFC3339, c.Handoff)
	if err != nil {
		// Without an offset it is a time of the roster's timezone.
		if t, err = time.ParseInLocation("2006-01-02T15:04:05", c.Handoff, r.Location); err != nil {
			return r, fmt.Errorf("%s: handoff: %q is not an RFC 3339 time", key, c.Handoff)
		}
	}
	r.Handoff = t
	seen := map[string]bool{}
	for i, p := range c.People {
		if p.Name == "" {
			return r, fmt.Errorf("%s: people[%d]: name is required", key, i)
		}
		if seen[p.Name] {
			return r, fmt.Errorf("%s: people[%d]: %q is listed twice", key, i, p.Name)
		}
		seen[p.Name] = true
		phone := ""
		if p.Phone != "" {
			if phone, err = normalize(p.Phone); err != nil {
				return r, fmt.Errorf("%s: people[%d] (%s): phone: %w", key, i, p.Name, err)
			}
		}
		r.People = append(r.People, Person{Name: p.Name, Phone: phone, WeComMention: p.WeComMention, Email: p.Email})
	}
	return r, nil
}

// Index returns the position of the person named name, or -1.
func (r Roster) Index(name string) int {
	return slices.IndexFunc(r.People, func(p Person) bool { return p.Name == name })
}

// Shift is who is on call at a moment, and until when.
type Shift struct {
	Roster string
	Person Person
	Index  int // in the roster's people
	Ends   time.Time
	// Override is the ID of the override that put Person on call, or "".
	Override string
}

// At returns the shift at now: the newest active override of the roster,
// else the rotation's turn.
func (r Roster) At(now time.Time, overrides []Override) Shift {
	turns := now.Sub(r.Handoff) / r.Rotation
	if now.Before(r.Handoff) && now.Sub(r.Handoff)%r.Rotation != 0 {
		turns-- // floor, before the first handoff too
	}
	n := int64(len(r.People))
	i := int((int64(turns)%n + n) % n)
	s := Shift{Roster: r.Name, Person: r.People[i], Index: i, Ends: r.Handoff.Add((turns + 1) * r.Rotation)}
	var newest *Override
	for k := range overrides {
		o := &overrides[k]
		if o.Roster != r.Name || !o.Active(now) || r.Index(o.Who) < 0 {
			continue
		}
		if newest == nil || o.Created.After(newest.Created) {
			newest = o
		}
	}
	if newest != nil {
		j := r.Index(newest.Who)
		s.Person, s.Index, s.Ends, s.Override = r.People[j], j, newest.Until, newest.ID
	}
	return s
}

// After returns the person after index i, wrapping around.
func (r Roster) After(i int) (Person, int) {
	j := (i + 1) % len(r.People)
	return r.People[j], j
}

// Override puts Who on call for Roster from Start until Until (a swap).
type Override struct {
	ID        string    `json:"id"`
	Roster    string    `json:"roster"`
	Who       string    `json:"who"`
	Start     time.Time `json:"start"`
	Until     time.Time `json:"until"`
	CreatedBy string    `json:"created_by,omitempty"`
	Created   time.Time `json:"created"`
	// Expired is when `override expire` ended it early; zero otherwise.
	Expired time.Time `json:"expired,omitzero"`
}

// Same reports whether o and p say the same (times compared as instants).
func (o Override) Same(p Override) bool {
	return o.ID == p.ID && o.Roster == p.Roster && o.Who == p.Who && o.CreatedBy == p.CreatedBy &&
		o.Start.Equal(p.Start) && o.Until.Equal(p.Until) && o.Created.Equal(p.Created) && o.Expired.Equal(p.Expired)
}

// Active reports whether the override holds at now.
func (o Override) Active(now time.Time) bool {
	return !now.Before(o.Start) && now.Before(o.Until) && (o.Expired.IsZero() || now.Before(o.Expired))
}

// Describe is the -oncall block of one roster: who is on call and until
// when, in the roster's timezone.
func Describe(r Roster, s Shift, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", r.Name)
	fmt.Fprintf(&b, "  on call: %s", s.Person.Name)
	if s.Person.Phone != "" {
		fmt.Fprintf(&b, " (%s)", MaskPhone(s.Person.Phone))
	}
	fmt.Fprintf(&b, "\n  until:   %s\n", s.Ends.In(r.Location).Format("2006-01-02 15:04:05 -07:00"))
	if s.Override != "" {
		fmt.Fprintf(&b, "  by override %s\n", s.Override)
	}
	next, _ := r.After(s.Index)
	if s.Override == "" {
		fmt.Fprintf(&b, "  next:    %s\n", next.Name)
	}
	return b.String()
}
