package chaos

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Delivery is one alert line as a destination received it.
type Delivery struct {
	Dest     string
	Identity string        // group/topic
	Level    string        // warning, critical or resolved
	At       time.Duration // when the fake accepted the message, from the start of the run
}

// Destination is what the ledger knows of one destination.
type Destination struct {
	Name     string
	MinLevel string
	// Delays says whether a fault holds up deliveries to it.
	Delays func(Fault) bool
	// Channel groups destinations one channel serves, e.g. the numbers of
	// one SMS table: the output counts reminders per channel, from when a
	// message reached all of them.
	Channel string
}

// Row is the ledger of one destination.
type Row struct {
	Dest                                                  string
	Expected, Delivered, Lost, Duplicated, Late, Spurious int
	// InFlight counts second copies of a message the output never
	// recorded because it was killed first: delivery is at least once,
	// and no receiver here deduplicates. They are reported, not failed;
	// a repeat of a recorded delivery is Duplicated, however close the
	// kill.
	InFlight int
}

// Record is the output's own word that a delivery is durable against a
// kill (its "Delivery recorded" debug line): the evidence that decides
// whether a second copy was in flight.
type Record struct {
	Dest, Identity, Level string
	// Accepted is when the receiver's answer reached the output, Recorded
	// when the journal append returned; from the start of the run.
	Accepted, Recorded time.Duration
}

// Failed reports whether the row breaks the contract: nothing may be lost,
// repeated out of turn, or sent that the timeline did not call for. Late
// deliveries are reported, not failed.
func (r Row) Failed() bool { return r.Lost > 0 || r.Duplicated > 0 || r.Spurious > 0 }

// Finding explains one lost, duplicated, late or spurious notification.
type Finding struct {
	Dest, Identity, What string
	At                   time.Duration
}

func (f Finding) String() string {
	return fmt.Sprintf("%7.1fs %-24s %-8s %s", f.At.Seconds(), f.Dest, f.Identity, f.What)
}

// Reconcile derives from the plan and the contract the notifications each
// destination must receive — per alert: the first firing at each level the
// destination takes (first, escalation), a reminder repeat_interval after
// each delivery while the level lasts, and the resolution — and compares
// them with what it got.
//
// Messages carry no due time, so the ledger infers it: a line at the level
// last delivered is the reminder due repeat_interval after that delivery
// when it comes no earlier, and a duplicate otherwise (the same alert, kind
// and due time delivered twice). A reminder falling due just before the
// level changes may or may not be sent, so it is neither expected nor
// counted as lost there.
//
// A second copy is in flight only when the output recorded no first copy
// (records) and was killed (outputKills) after it could have sent it.
func Reconcile(p Plan, st Settings, dests []Destination, got []Delivery, outputKills []time.Duration, records []Record) ([]Row, []Finding) {
	l := ledger{plan: p, st: st, kills: outputKills, records: records, got: got, dests: dests}
	var rows []Row
	for _, d := range dests {
		row := Row{Dest: d.Name}
		byID := map[string][]Delivery{}
		for _, g := range got {
			if g.Dest == d.Name {
				byID[g.Identity] = append(byID[g.Identity], g)
			}
		}
		for _, e := range p.Episodes {
			items := byID[e.Identity()]
			delete(byID, e.Identity())
			slices.SortStableFunc(items, func(a, b Delivery) int { return cmp.Compare(a.At, b.At) })
			l.episode(d, e, items, &row)
		}
		for id, items := range byID {
			for _, it := range items {
				row.Delivered++
				row.Spurious++
				l.note(d, id, it.At, "spurious: an alert the plan never raised")
			}
		}
		rows = append(rows, row)
	}
	slices.SortStableFunc(l.findings, func(a, b Finding) int { return cmp.Compare(a.At, b.At) })
	return rows, l.findings
}

type ledger struct {
	plan     Plan
	st       Settings
	kills    []time.Duration
	records  []Record
	findings []Finding
	got      []Delivery
	dests    []Destination
}

// reminderClock is when the output counts the delivery of it from: the
// last copy of the same message to a destination of the same channel.
// Copies of one message lie less than repeat_interval apart, however long
// one number was retried: the previous message's copies were all in before
// its clock, and the next one's come a whole repeat_interval after it.
func (l *ledger) reminderClock(d Destination, it Delivery) time.Duration {
	clock := it.At
	if d.Channel == "" {
		return clock
	}
	siblings := map[string]bool{}
	for _, o := range l.dests {
		siblings[o.Name] = o.Channel == d.Channel
	}
	for _, g := range l.got {
		if siblings[g.Dest] && g.Identity == it.Identity && g.Level == it.Level && (g.At-it.At).Abs() < l.st.RepeatInterval {
			clock = max(clock, g.At)
		}
	}
	return clock
}

// recorded returns the output's record of a delivery to dest of id at
// level accepted in [from, to): the first copy, not the second (which the
// receiver accepted at to, before the output heard so).
func (l *ledger) recorded(dest, id, level string, from, to time.Duration) (Record, bool) {
	for _, r := range l.records {
		if r.Dest == dest && r.Identity == id && r.Level == level && r.Accepted >= from && r.Accepted < to {
			return r, true
		}
	}
	return Record{}, false
}

// killedBetween returns an output kill in [from, to].
func (l *ledger) killedBetween(from, to time.Duration) (time.Duration, bool) {
	for _, k := range l.kills {
		if k >= from && k <= to {
			return k, true
		}
	}
	return 0, false
}

// duplicate counts a second copy, at at, of the delivery at prev at
// level. It was in flight only if the output never recorded the first
// copy and was killed after it may have sent it: a receiver can accept a
// request up to the send timeout after its sender died, never later.
func (l *ledger) duplicate(d Destination, row *Row, id, level string, prev, at time.Duration, what string) {
	if r, ok := l.recorded(d.Name, id, level, prev, at); ok {
		row.Duplicated++
		l.note(d, id, at, "duplicated %s: %.1fs after the previous delivery, which the output had recorded %.0f ms after the receiver accepted it",
			what, (at - prev).Seconds(), (r.Recorded-prev).Seconds()*1000)
		return
	}
	if k, ok := l.killedBetween(prev-l.st.Timeout, at); ok {
		row.InFlight++
		l.note(d, id, at, "in flight at a kill: %s again; the output was killed %+.0f ms from the first copy's acceptance, before it recorded it",
			what, (k-prev).Seconds()*1000)
		return
	}
	row.Duplicated++
	l.note(d, id, at, "duplicated %s: %.1fs after the previous delivery, with no kill between", what, (at - prev).Seconds())
}

func (l *ledger) note(d Destination, id string, at time.Duration, format string, args ...any) {
	l.findings = append(l.findings, Finding{Dest: d.Name, Identity: id, At: at, What: fmt.Sprintf(format, args...)})
}

var rank = map[string]int{"warning": 1, "critical": 2}

// transition is a first notification at a level: firing or escalation.
type transition struct {
	level   string
	at, end time.Duration // when the plan changed the lag, and changed it again
	// required is false for a level too short-lived to be told for sure:
	// the next change may come within the same group window, and a
	// destination hears of each alert once per window, as it is last.
	required bool
	matched  bool
}

func (l *ledger) episode(d Destination, e Episode, items []Delivery, row *Row) {
	id := e.Identity()
	var want []*transition
	add := func(level string, at, end time.Duration) {
		bound := l.deadline(Destination{}, at, l.detection(), true)
		want = append(want, &transition{level: level, at: at, end: end, required: bound+l.st.GroupWait < end})
	}
	if rank[e.StartLevel] >= rank[d.MinLevel] {
		end := e.Resolve
		if e.Escalate > 0 {
			end = e.Escalate
		}
		add(e.StartLevel, e.Start, end)
	}
	if e.Escalate > 0 && rank["critical"] >= rank[d.MinLevel] {
		add("critical", e.Escalate, e.Resolve)
	}
	owed := slices.ContainsFunc(want, func(t *transition) bool { return t.required })
	for _, t := range want {
		if t.required {
			row.Expected++
		}
	}

	// last is this destination's latest delivery; clock is when the
	// output counts it from for reminders (see reminderClock).
	last, clock, lastLevel, resolved, resolvedAt := time.Duration(-1), time.Duration(-1), "", false, time.Duration(0)
	for _, it := range items {
		row.Delivered++
		if resolved {
			l.duplicate(d, row, id, "resolved", resolvedAt, it.At, it.Level+" after the resolution")
			continue
		}
		if it.Level == "resolved" {
			if last < 0 {
				row.Spurious++
				l.note(d, id, it.At, "spurious resolution: the destination was told nothing")
				continue
			}
			l.missedReminders(d, e, row, clock, lastLevel)
			resolved, resolvedAt = true, it.At
			row.Expected++
			l.checkLate(d, id, row, it, e.Resolve, l.detection(), true, "resolution")
			continue
		}
		if i := slices.IndexFunc(want, func(t *transition) bool { return !t.matched && t.level == it.Level }); i >= 0 {
			if last >= 0 {
				l.missedReminders(d, e, row, clock, lastLevel)
			}
			t := want[i]
			t.matched = true
			if !t.required {
				row.Expected++
			}
			l.checkLate(d, id, row, it, t.at, l.detection(), true, it.Level)
			last, clock, lastLevel = it.At, l.reminderClock(d, it), it.Level
			continue
		}
		if it.Level != lastLevel {
			row.Spurious++
			l.note(d, id, it.At, "spurious %s after %s", it.Level, lastLevel)
			continue
		}
		due := clock + l.st.RepeatInterval
		if it.At < due-time.Second {
			l.duplicate(d, row, id, lastLevel, last, it.At, it.Level+" before its reminder was due")
		} else {
			row.Expected++
			l.checkLate(d, id, row, it, due, l.st.GroupWait+3*time.Second, false, "reminder")
		}
		last, clock = it.At, l.reminderClock(d, it)
	}
	for _, t := range want {
		if t.required && !t.matched {
			row.Lost++
			l.note(d, id, t.at, "lost: the %s notification", t.level)
		}
	}
	if !resolved && (owed || last >= 0) {
		row.Expected++
		row.Lost++
		l.note(d, id, e.Resolve, "lost: the resolution")
	}
	if last >= 0 && !resolved {
		l.missedReminders(d, e, row, clock, lastLevel)
	}
}

// missedReminders counts the reminders due after the delivery at last that
// should have come before the level changed, and did not. A reminder whose
// group window (pushed back by kills of the output) may close after the
// change is not owed: the window then tells the change instead.
func (l *ledger) missedReminders(d Destination, e Episode, row *Row, last time.Duration, level string) {
	end := e.Resolve
	if level == "warning" && e.Escalate > 0 {
		end = e.Escalate
	}
	for due := last + l.st.RepeatInterval; l.deadline(Destination{}, due, l.st.GroupWait+3*time.Second, false) < end; due += l.st.RepeatInterval {
		row.Expected++
		row.Lost++
		l.note(d, e.Identity(), due, "lost: the %s reminder due here", level)
	}
}

// detection bounds how long a change of the lag takes to become a due
// notification: for_intervals collections, a flush, the group window.
func (l *ledger) detection() time.Duration {
	return time.Duration(l.st.ForIntervals+1)*l.st.Interval + l.st.Interval/2 + l.st.GroupWait + 3*time.Second
}

func (l *ledger) checkLate(d Destination, id string, row *Row, it Delivery, trigger, base time.Duration, detect bool, what string) {
	deadline := l.deadline(d, trigger, base, detect)
	if it.At > deadline {
		row.Late++
		l.note(d, id, it.At, "late %s: due by %.1fs (plan %.1fs)", what, deadline.Seconds(), trigger.Seconds())
	}
}

// deadline is when a notification triggered at trigger is late: base after
// it, pushed past every fault that holds it up (the destination's own, a
// killed output, a lost or frozen active host until the other takes over,
// and for a change of the lag the collector's) by the retry schedule's
// longest wait.
func (l *ledger) deadline(d Destination, trigger, base time.Duration, detect bool) time.Duration {
	deadline := trigger + base
	for changed := true; changed; {
		changed = false
		for _, f := range l.plan.Faults {
			var until time.Duration
			switch {
			case f.Kind == KillOutput:
				until = f.At + l.st.RestartDelay + 2*time.Second + l.st.GroupWait
			case f.Kind == HostKill || f.Kind == HostPause:
				// The other host takes over after the session timeout, and
				// its collector, which follows it, starts then.
				until = f.At + l.st.Session + 2*time.Second + l.st.GroupWait
				if detect {
					until += base
				}
			case f.Kind == KillCollector && detect:
				until = f.At + l.st.RestartDelay + 2*time.Second + base
			case strings.HasPrefix(string(f.Kind), "ckafka API") && detect:
				until = f.End() + base
			case d.Delays != nil && d.Delays(f):
				until = f.End() + l.st.Timeout + l.st.MaxBackoff + 2*time.Second
			default:
				continue
			}
			if f.At <= deadline && until > deadline && f.End() >= trigger {
				deadline, changed = until, true
			}
		}
	}
	return deadline
}

// linePattern matches an alert line of the English WeCom markdown and email
// text templates: "[CRITICAL] instance prod(ckafka-x) group g01 topic t2: lag …".
var linePattern = regexp.MustCompile(`\[(CRITICAL|WARNING|RESOLVED)[^\]\n]*\]\S* .*?\bgroup (\S+) topic (\S+?): lag `)

// ParseLines reads the alert lines of a WeCom or email message.
func ParseLines(dest, text string, at time.Duration) []Delivery {
	var out []Delivery
	for _, m := range linePattern.FindAllStringSubmatch(text, -1) {
		out = append(out, Delivery{Dest: dest, Identity: m[2] + "/" + m[3], Level: strings.ToLower(m[1]), At: at})
	}
	return out
}

// SMSTemplate is the chaos run's SMS variable: every alert of the message
// as group/topic=level, so that the ledger sees each one; alerts about the
// collector (a faulty CKafka API can raise them) as collector/check=level.
const SMSTemplate = `{{range .Alerts}}{{if .Check}}collector/{{.Check}}{{else}}{{.Group}}/{{.Topic}}{{end}}={{if .Resolved}}resolved{{else}}{{.Level}}{{end}};{{end}}`

// ParseSMS reads the variable SMSTemplate renders. Collector alerts are not
// the ledger's business: the plan is about lag alerts.
func ParseSMS(dest, param string, at time.Duration) []Delivery {
	var out []Delivery
	for entry := range strings.SplitSeq(strings.TrimSuffix(param, ";"), ";") {
		id, level, ok := strings.Cut(entry, "=")
		if ok && !strings.HasPrefix(id, "collector/") {
			out = append(out, Delivery{Dest: dest, Identity: id, Level: level, At: at})
		}
	}
	return out
}

// Table prints the rows as the report shows them.
func Table(rows []Row) string {
	var b strings.Builder
	const format = "%-24s %8v %9v %4v %10v %4v %8v %9v\n"
	fmt.Fprintf(&b, format, "destination", "expected", "delivered", "lost", "duplicated", "late", "spurious", "in flight")
	var total Row
	for _, r := range rows {
		fmt.Fprintf(&b, format, r.Dest, r.Expected, r.Delivered, r.Lost, r.Duplicated, r.Late, r.Spurious, r.InFlight)
		total.Expected += r.Expected
		total.Delivered += r.Delivered
		total.Lost += r.Lost
		total.Duplicated += r.Duplicated
		total.Late += r.Late
		total.Spurious += r.Spurious
		total.InFlight += r.InFlight
	}
	fmt.Fprintf(&b, format, "total", total.Expected, total.Delivered, total.Lost, total.Duplicated, total.Late, total.Spurious, total.InFlight)
	return b.String()
}

// Durability is the accept → durable window of the run: from a receiver
// accepting a message to the output's journal holding it.
type Durability struct {
	Samples       int
	P50, P99, Max time.Duration
	Unrecorded    int // messages with no record before their next copy (killed first)
}

// AcceptToDurable pairs every message a receiver accepted with the
// output's record of it (the first one accepted after it, before the
// receiver's next copy of the same alert line) and summarizes the window.
func AcceptToDurable(got []Delivery, records []Record) Durability {
	type line struct{ dest, id, level string }
	byLine := map[line][]time.Duration{}
	for _, g := range got {
		k := line{g.Dest, g.Identity, g.Level}
		byLine[k] = append(byLine[k], g.At)
	}
	recs := map[line][]Record{}
	for _, r := range records {
		k := line{r.Dest, r.Identity, r.Level}
		recs[k] = append(recs[k], r)
	}
	// One sample per message: its lines share a destination and a time.
	window := map[[2]any]time.Duration{}
	unrecorded := map[[2]any]bool{}
	for k, ats := range byLine {
		slices.Sort(ats)
		for i, at := range ats {
			next := time.Duration(1<<63 - 1)
			if i+1 < len(ats) {
				next = ats[i+1]
			}
			msg := [2]any{k.dest, at}
			j := slices.IndexFunc(recs[k], func(r Record) bool { return r.Accepted >= at && r.Accepted < next })
			if j < 0 {
				unrecorded[msg] = true
				continue
			}
			window[msg] = max(window[msg], recs[k][j].Recorded-at)
		}
	}
	var all []time.Duration
	for msg, w := range window {
		if !unrecorded[msg] {
			all = append(all, w)
		}
	}
	slices.Sort(all)
	out := Durability{Samples: len(all), Unrecorded: len(unrecorded)}
	if len(all) > 0 {
		out.P50 = all[len(all)/2]
		out.P99 = all[min(len(all)-1, len(all)*99/100)]
		out.Max = all[len(all)-1]
	}
	return out
}

func (d Durability) String() string {
	return fmt.Sprintf("accept → durable over %d messages: p50 %.1f ms, p99 %.1f ms, max %.1f ms; %d not recorded (killed first, or the state directory refused the write)",
		d.Samples, ms(d.P50), ms(d.P99), ms(d.Max), d.Unrecorded)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
