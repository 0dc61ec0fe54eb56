// Package chaos is the fault-injection run behind `make chaos`: the real
// Telegraf runs the drop-in sample.conf against the simulator's fakes while
// a seeded plan moves the lag of many alerts and injects faults at random
// times; a ledger then compares what every destination must have received
// with what the fakes did receive.
//
// The plan is pure (seed and duration in, events out) so that a seed
// replays the same run; the ledger is pure too, and table-tested.
package chaos

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Episode is one alert's life in the plan: it starts firing at Start (at
// StartLevel), may escalate to critical at Escalate, and recovers at
// Resolve. Times are offsets from the start of the run.
type Episode struct {
	Group, Topic string
	StartLevel   string // "warning" or "critical"
	Start        time.Duration
	Escalate     time.Duration // 0: never
	Resolve      time.Duration
}

// Identity names the alert as messages do.
func (e Episode) Identity() string { return e.Group + "/" + e.Topic }

// LevelAt is the level the plan gives the alert at t.
func (e Episode) LevelAt(t time.Duration) string {
	switch {
	case t < e.Start || t >= e.Resolve:
		return "ok"
	case e.Escalate > 0 && t >= e.Escalate:
		return "critical"
	}
	return e.StartLevel
}

// FaultKind names one misbehaviour the driver injects.
type FaultKind string

const (
	KillOutput    FaultKind = "kill wecom_sms_mail"
	KillCollector FaultKind = "kill ckafka_lag"
	RobotDown     FaultKind = "wecom robot HTTP 503"
	RobotHang     FaultKind = "wecom robot hangs past the timeout"
	RobotStorm    FaultKind = "wecom robot 45009 storm"
	SMTP451       FaultKind = "smtp 451"
	SMTPDrop      FaultKind = "smtp connection dropped"
	SMSNumberFail FaultKind = "sms per-number failure"
	SMSThrottle   FaultKind = "sms API throttled"
	StateReadOnly FaultKind = "state directory unwritable"
	StateFull     FaultKind = "state directory full"
	APIThrottle   FaultKind = "ckafka API throttled"
	API5xx        FaultKind = "ckafka API 502"
	APISlow       FaultKind = "ckafka API slow"
	// With two hosts (CHAOS_HOSTS=2): the active host dies (Telegraf and
	// its children, SIGKILL; restarted after For), or its output is paused
	// (SIGSTOP for For, then SIGCONT).
	HostKill  FaultKind = "kill the active host"
	HostPause FaultKind = "pause the active output"
)

// Fault is one injection. Kills are instants (For = 0); the others last For.
type Fault struct {
	Kind FaultKind
	At   time.Duration
	For  time.Duration
	// Phone is the number an SMSNumberFail applies to.
	Phone string
}

// End is when the fault is lifted.
func (f Fault) End() time.Duration { return f.At + f.For }

// Settings are the pipeline's timings the plan and the ledger rely on.
type Settings struct {
	Interval       time.Duration // Telegraf's collection interval
	GroupWait      time.Duration
	RepeatInterval time.Duration
	RestartDelay   time.Duration
	Timeout        time.Duration // per delivery attempt (wecom_sms_mail.conf)
	MaxBackoff     time.Duration // the longest wait between two attempts
	ForIntervals   int           // the script's for_intervals
	Phones         []string
	// Hosts is 1, or 2 for the HA pair; Session its session_timeout.
	Hosts   int
	Session time.Duration
}

// Plan is one seeded run.
type Plan struct {
	Seed     uint64
	Duration time.Duration // everything happens within it; then the faults are lifted
	Episodes []Episode
	Faults   []Fault
}

// slot spaces the lag changes, so that alerts changing together are told
// together and the robot's 20 messages a minute suffice.
const slot = 6 * time.Second

// NewPlan draws a run of the given length from seed: at least 50 alert
// identities (one more per 2.4 s beyond two minutes), each firing once,
// some escalating, some firing long enough to be repeated, all resolved
// before the end; and faults of every kind at random times.
func NewPlan(seed uint64, d time.Duration, st Settings) Plan {
	rng := rand.New(rand.NewPCG(seed, 0x6368616f73))
	p := Plan{Seed: seed, Duration: d}
	slots := int(d / slot)
	n := max(50, int(d/(2400*time.Millisecond)))
	topics := 5
	for i := range n {
		e := Episode{Group: fmt.Sprintf("g%02d", i/topics), Topic: fmt.Sprintf("t%d", i%topics), StartLevel: "warning"}
		minFiring := minFiring(st)
		long := int(3*st.RepeatInterval/2/slot) + 1 + rng.IntN(3) // repeated once or more
		var firing int
		switch r := rng.IntN(100); {
		case r < 20 && slots > 2+long:
			firing = long
			if rng.IntN(2) == 0 {
				e.StartLevel = "critical"
			}
		case r < 50: // warning, then critical
			firing = 2*minFiring + rng.IntN(minFiring+1)
			e.Escalate = time.Duration(minFiring+rng.IntN(minFiring/2+1)) * slot
		case r < 65:
			e.StartLevel = "critical"
			firing = minFiring + rng.IntN(2*minFiring)
		default:
			firing = minFiring + rng.IntN(2*minFiring)
		}
		firing = min(firing, slots-2)
		start := 1 + rng.IntN(max(1, slots-1-firing))
		e.Start = time.Duration(start) * slot
		e.Resolve = time.Duration(start+firing) * slot
		if e.Escalate > 0 {
			e.Escalate += e.Start
			if e.Escalate > e.Resolve-time.Duration(minFiring)*slot {
				e.Escalate = 0 // no room left to escalate
			}
		}
		p.Episodes = append(p.Episodes, e)
	}
	p.Faults = drawFaults(rng, d, st)
	if st.Hosts == 2 {
		p.Episodes = append(p.Episodes, resolvedAtHostKills(p.Faults, st)...)
	}
	return p
}

// minFiring is the fewest slots an alert fires: long enough to be noticed
// after for_intervals collections and told, short enough to end before
// the run does.
func minFiring(st Settings) int {
	return 2 + int((time.Duration(st.ForIntervals+2)*st.Interval+st.GroupWait)/slot)
}

// resolvedAtHostKills adds, for each host kill, a critical alert that was
// told well before the kill and recovers at the first slot after it: its
// resolution is due from the new active host, which only the replicated
// log tells that the robot heard of the alert (issue: a resolution lost in
// a takeover).
func resolvedAtHostKills(faults []Fault, st Settings) []Episode {
	var out []Episode
	for _, f := range faults {
		if f.Kind != HostKill {
			continue
		}
		resolve := (f.At/slot + 1) * slot
		start := resolve - time.Duration(minFiring(st)+1)*slot
		if start < slot {
			continue
		}
		out = append(out, Episode{Group: fmt.Sprintf("hk%02d", len(out)), Topic: "t0", StartLevel: "critical", Start: start, Resolve: resolve})
	}
	return out
}

// drawFaults places the faults. Windows of one kind family never overlap
// (the fakes have one switch each). Kills stay out of the windows in which
// the state directory refuses writes: a process killed then loses what it
// could not save, on any design; what those windows test is that delivery
// goes on and the state catches up.
func drawFaults(rng *rand.Rand, d time.Duration, st Settings) []Fault {
	begin, end := 4*time.Second, d-2*time.Second
	var out []Fault
	windows := func(count int, minFor, maxFor time.Duration, kinds ...FaultKind) []Fault {
		var placed []Fault
		for tries := 0; len(placed) < count && tries < 1000; tries++ {
			f := Fault{Kind: kinds[rng.IntN(len(kinds))]}
			f.For = minFor + time.Duration(rng.Int64N(int64(maxFor-minFor)+1))
			f.At = begin + time.Duration(rng.Int64N(int64(end-begin-f.For)))
			if !slices.ContainsFunc(placed, func(o Fault) bool { return f.At < o.End()+time.Second && o.At < f.End()+time.Second }) {
				placed = append(placed, f)
			}
		}
		return placed
	}
	scale := max(1, int(d/(2*time.Minute)))
	state := windows(3*scale, 4*time.Second, 9*time.Second, StateReadOnly, StateReadOnly, StateFull)
	out = append(out, state...)
	out = append(out, windows(5*scale, 3*time.Second, 10*time.Second, RobotDown, RobotHang, RobotStorm)...)
	out = append(out, windows(4*scale, 3*time.Second, 10*time.Second, SMTP451, SMTPDrop)...)
	out = append(out, windows(2*scale, 3*time.Second, 10*time.Second, SMSThrottle)...)
	for i, f := range windows(3*scale, 3*time.Second, 10*time.Second, SMSNumberFail) {
		f.Phone = st.Phones[i%len(st.Phones)]
		out = append(out, f)
	}
	out = append(out, windows(4*scale, 3*time.Second, 8*time.Second, APIThrottle, API5xx, APISlow)...)

	// Kills: at least 20 of the output, spread over the run, at least the
	// restart delay and a second apart, outside the state windows.
	gap := st.RestartDelay + time.Second
	kills := func(count int, kind FaultKind, taken []time.Duration) []time.Duration {
		var at []time.Duration
		for tries := 0; len(at) < count && tries < 10000; tries++ {
			t := begin + time.Duration(rng.Int64N(int64(end-begin)))
			blocked := slices.ContainsFunc(state, func(w Fault) bool { return t > w.At-gap && t < w.End()+gap })
			near := slices.ContainsFunc(append(at, taken...), func(o time.Duration) bool { return (t - o).Abs() < gap })
			if !blocked && !near {
				at = append(at, t)
			}
		}
		for _, t := range at {
			out = append(out, Fault{Kind: kind, At: t})
		}
		return at
	}
	outputKills := kills(max(20, int(d/(5*time.Second))), KillOutput, nil)
	kills(max(4, int(d/(25*time.Second))), KillCollector, outputKills)
	if st.Hosts == 2 {
		// Host faults apart from each other by the time a takeover and a
		// restart take, so the pair is whole again before the next.
		// Not before an alert can have been told: each kill is followed
		// by a resolution of one (resolvedAtHostKills).
		hostBegin := max(begin, time.Duration(minFiring(st)+2)*slot)
		var hostAt []Fault
		for tries := 0; len(hostAt) < 4*scale && tries < 10000; tries++ {
			f := Fault{Kind: HostKill, For: 3 * st.Session}
			if len(hostAt)%2 == 1 {
				f.Kind = HostPause
			}
			f.At = hostBegin + time.Duration(rng.Int64N(int64(end-hostBegin-f.For)))
			if !slices.ContainsFunc(hostAt, func(o Fault) bool { return (f.At - o.At).Abs() < 6*st.Session+10*time.Second }) {
				hostAt = append(hostAt, f)
			}
		}
		out = append(out, hostAt...)
	}
	slices.SortStableFunc(out, func(a, b Fault) int { return int(a.At - b.At) })
	return out
}

// Count returns how many faults of kind the plan holds.
func (p Plan) Count(kind FaultKind) int {
	n := 0
	for _, f := range p.Faults {
		if f.Kind == kind {
			n++
		}
	}
	return n
}

// Digest fingerprints the plan, so that a replay can be checked to be the
// same run.
func (p Plan) Digest() string {
	h := sha256.New()
	fmt.Fprintf(h, "%d %s\n", p.Seed, p.Duration)
	for _, e := range p.Episodes {
		fmt.Fprintf(h, "%+v\n", e)
	}
	for _, f := range p.Faults {
		fmt.Fprintf(h, "%+v\n", f)
	}
	return fmt.Sprintf("%x", h.Sum(nil))[:16]
}
