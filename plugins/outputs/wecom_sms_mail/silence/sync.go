package silence

import "time"

// Reconcile makes a host's silence file and the HA pair's replicated log
// agree. Either side may hold silences or expiries the other lacks (the
// CLI or a link on any host writes the local file). It returns the local
// silences the log lacks or holds an older version of (to append), and,
// when the log knows something the file lacks, the file's new content
// (merged is nil when the file is up to date). Both sides merge with
// Merge, so they converge; silences that ended more than Keep ago are
// not brought back.
func Reconcile(local Silences, logged map[string]Silence, now time.Time) (toAppend []Silence, merged Silences) {
	byID := make(map[string]Silence, len(local))
	for _, l := range local {
		byID[l.ID] = l
		if have, ok := logged[l.ID]; ok && Merge(have, l).EndsAt.Equal(have.EndsAt) {
			continue
		}
		toAppend = append(toAppend, l)
	}
	changed := false
	for id, r := range logged {
		l, ok := byID[id]
		if now.Sub(r.EndsAt) >= Keep || (ok && Merge(l, r).EndsAt.Equal(l.EndsAt)) {
			continue
		}
		byID[id] = r
		changed = true
	}
	if !changed {
		return toAppend, nil
	}
	merged = make(Silences, 0, len(byID))
	for _, l := range local {
		merged = append(merged, byID[l.ID])
		delete(byID, l.ID)
	}
	for _, r := range byID {
		merged = append(merged, r)
	}
	return toAppend, merged
}
