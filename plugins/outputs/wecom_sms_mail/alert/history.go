package alert

import (
	"slices"
	"time"
)

// Point is one observation kept for an alert's chart: 56 bytes.
type Point struct {
	At         time.Time `json:"-"`
	Unix       int64     `json:"t"` // At, in seconds, for the state file
	Lag        float64   `json:"v"`
	Threshold  float64   `json:"th,omitempty"`
	LagSeconds float64   `json:"s,omitempty"` // -1: unknown
}

// History bounds: points older than Window go, and beyond Max points every
// other point of the older half goes, so the recent past stays dense.
type History struct {
	Window time.Duration
	Max    int
}

// add appends a point and bounds the history.
func (h History) add(points []Point, p Point) []Point {
	if h.Max <= 0 {
		return nil
	}
	// In time order: a batch of backfilled collections keeps every point;
	// the same instant twice keeps the newer value.
	i := len(points)
	for i > 0 && points[i-1].At.After(p.At) {
		i--
	}
	if i > 0 && points[i-1].At.Equal(p.At) {
		points[i-1] = p
	} else {
		points = slices.Insert(points, i, p)
	}
	newest := points[len(points)-1].At
	cut := 0
	for cut < len(points)-1 && newest.Sub(points[cut].At) > h.Window {
		cut++
	}
	points = points[cut:]
	for len(points) > h.Max {
		half := len(points) / 2
		kept := points[:0]
		for i, q := range points {
			if i >= half || i%2 == 0 {
				kept = append(kept, q)
			}
		}
		points = kept
	}
	return points
}

// Restore fills At from Unix after reading a state file.
func Restore(points []Point) {
	for i := range points {
		points[i].At = time.Unix(points[i].Unix, 0)
	}
}
