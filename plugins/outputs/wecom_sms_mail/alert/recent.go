package alert

import (
	"math"
	"time"
)

// RecentPoints is how many points a series keeps while it is not firing,
// so that the first message of an alert already charts the rise before
// the breach (and a batch of backfilled collections keeps its points). A
// firing alert keeps up to History.Max instead.
const RecentPoints = 16

// recentPoint is a Point packed for the series that are not firing: there
// may be 100,000 of them. 12 bytes; float32 is exact to 16.7 million
// messages and within 1e-7 beyond, plenty for a chart.
type recentPoint struct {
	ms         int32 // the metric's time, milliseconds after the ring's base
	lag        float32
	lagSeconds float32 // -1: unknown
}

// recent is a series' last RecentPoints points, oldest first: 16 × 12 + 13
// bytes, 208 allocated, plus its key in the map.
type recent struct {
	base      int64 // Unix milliseconds the points count from
	threshold float32
	n         uint8
	pts       [RecentPoints]recentPoint
}

// add keeps the newest RecentPoints points in time order; a point at the
// same millisecond as one kept replaces it, an older one is put in place.
// It runs for every metric of a series that is not firing: no allocation.
func (r *recent) add(p Point) {
	ms := p.At.UnixMilli()
	if r.n == 0 {
		r.base = ms
	}
	off := ms - r.base
	if off > math.MaxInt32 || off < math.MinInt32 {
		// Weeks away from what is kept: start over from this point.
		r.n, r.base, off = 0, ms, 0
	}
	r.threshold = float32(p.Threshold)
	rp := recentPoint{ms: int32(off), lag: float32(p.Lag), lagSeconds: float32(p.LagSeconds)}
	n := int(r.n)
	i := n // where rp goes
	for i > 0 && r.pts[i-1].ms > rp.ms {
		i--
	}
	switch {
	case i > 0 && r.pts[i-1].ms == rp.ms:
		r.pts[i-1] = rp
	case n < RecentPoints:
		copy(r.pts[i+1:n+1], r.pts[i:n])
		r.pts[i] = rp
		r.n++
	case i == 0:
		// older than everything a full ring keeps
	default:
		// full: the oldest goes
		copy(r.pts[:i-1], r.pts[1:i])
		r.pts[i-1] = rp
	}
}

// last is the time of the newest point, zero for none.
func (r *recent) last() time.Time {
	if r.n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(r.base + int64(r.pts[r.n-1].ms))
}

// history unpacks the points for a firing alert's history.
func (r *recent) history() []Point {
	out := make([]Point, r.n, int(r.n)+1)
	for i, p := range r.pts[:r.n] {
		at := time.UnixMilli(r.base + int64(p.ms))
		out[i] = Point{At: at, Unix: at.Unix(), Lag: float64(p.lag), Threshold: float64(r.threshold), LagSeconds: float64(p.lagSeconds)}
	}
	return out
}

// seed keeps the tail of a resolved alert's history.
func (r *recent) seed(h []Point) {
	r.n = 0
	for _, p := range h[max(0, len(h)-RecentPoints):] {
		r.add(p)
	}
}
