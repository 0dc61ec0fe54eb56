// Package window judges a consumer by a window of samples, following
// Burrow's consumer lag evaluation rules (its wiki page "Consumer Lag
// Evaluation Rules" and core/internal/evaluator): STOP, REWIND, the
// "lag was zero in the window" exception, STALL, then WARN, in that order.
// It is pure: samples and the time in, a status out.
//
// Burrow sees every commit with its time; we sample the committed offset
// at each collection. Two consequences, both deliberate:
//   - a repeated commit of one offset (Burrow's STALL) and no commit at all
//     (Burrow's STOP) look the same in samples: an unchanged offset. A group
//     with members online is taken to be committing (STALL); without
//     members it stopped (STOP).
//   - "the last commit's time" is when a sample first showed the last
//     offset, so a consumer that commits less often than we collect looks
//     stopped only when it stays so for as long as the window already is
//     (Burrow's rule), not at the first unchanged sample.
package window

import "time"

// Status is a partition's, topic's or group's status, ordered like
// Burrow's: a larger one is worse.
type Status int

const (
	OK Status = iota + 1
	Warn
	Stop Status = iota + 2 // Burrow's ERR (3) is a group's summary, not a partition status
	Stall
	Rewind
)

var names = map[Status]string{OK: "ok", Warn: "warn", Stop: "stop", Stall: "stall", Rewind: "rewind"}

func (s Status) String() string { return names[s] }

// Sample is one collection's view of a partition.
type Sample struct {
	At time.Time
	// Offset is the committed offset; Lag = LogEnd − Offset.
	Offset, Lag, LogEnd int64
}

// Judge holds the evaluation's settings.
type Judge struct {
	// Need is how many samples make a complete window; fewer is OK
	// (Burrow's minimum-complete).
	Need int
	// AllowedLag is the lag that counts as caught up (Burrow's
	// allowed-lag, 0).
	AllowedLag int64
}

// Partition judges one partition's window (oldest first) at now.
// hasMembers says whether the group has members online.
func (j Judge) Partition(w []Sample, now time.Time, hasMembers bool) Status {
	if len(w) == 0 || len(w) < j.Need {
		return OK
	}
	last := w[len(w)-1]
	if last.Lag <= j.AllowedLag {
		return OK
	}
	if !hasMembers && stopped(w, now) && !recentlyCaughtUp(w) {
		return Stop
	}
	if i := rewindAt(w); i > 0 && !recovered(w, i) {
		return Rewind
	}
	for _, s := range w {
		if s.Lag <= j.AllowedLag {
			return OK
		}
	}
	if stalled(w) {
		if !hasMembers {
			return Stop
		}
		return Stall
	}
	if lagNeverDecreases(w) {
		return Warn
	}
	return OK
}

// stopped: the time since the last offset change is longer than the
// window before it (Burrow's rule 3).
func stopped(w []Sample, now time.Time) bool {
	first := w[0].At
	lastCommit := w[len(w)-1].At
	for i := len(w) - 1; i > 0 && w[i-1].Offset == w[i].Offset; i-- {
		lastCommit = w[i-1].At
	}
	return now.Sub(lastCommit) > lastCommit.Sub(first)
}

// recentlyCaughtUp: a log end in the window was at or below the last
// committed offset — the consumer was caught up a moment ago, so it is not
// called stopped yet.
func recentlyCaughtUp(w []Sample) bool {
	last := w[len(w)-1].Offset
	for _, s := range w {
		if s.LogEnd <= last {
			return true
		}
	}
	return false
}

// rewindAt is the index of the first offset lower than the one before it,
// or -1.
func rewindAt(w []Sample) int {
	for i := 1; i < len(w); i++ {
		if w[i].Offset < w[i-1].Offset {
			return i
		}
	}
	return -1
}

// recovered: after the rewind at i, the consumer got back to where it was.
func recovered(w []Sample, i int) bool {
	for _, s := range w[i:] {
		if s.Offset >= w[i-1].Offset {
			return true
		}
	}
	return false
}

func stalled(w []Sample) bool {
	for i := 1; i < len(w); i++ {
		if w[i].Offset != w[i-1].Offset {
			return false
		}
	}
	return true
}

func lagNeverDecreases(w []Sample) bool {
	for i := 1; i < len(w); i++ {
		if w[i].Lag < w[i-1].Lag {
			return false
		}
	}
	return true
}

// Worst is a topic's (or group's) status: its worst partition's.
func Worst(ss ...Status) Status {
	out := OK
	for _, s := range ss {
		out = max(out, s)
	}
	return out
}

// Growth is the least-squares slope of lag in seconds over the window, in
// seconds of lag gained per second (negative while catching up); false
// with fewer than two points or no time between them.
func Growth(at []time.Time, lagSeconds []float64) (float64, bool) {
	n := len(at)
	if n < 2 || n != len(lagSeconds) {
		return 0, false
	}
	t0 := at[0]
	var sx, sy, sxx, sxy float64
	for i := range at {
		x := at[i].Sub(t0).Seconds()
		sx += x
		sy += lagSeconds[i]
		sxx += x * x
		sxy += x * lagSeconds[i]
	}
	fn := float64(n)
	den := fn*sxx - sx*sx
	if den == 0 {
		return 0, false
	}
	return (fn*sxy - sx*sy) / den, true
}
