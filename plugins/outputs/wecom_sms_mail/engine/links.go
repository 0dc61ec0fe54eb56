package engine

import "time"

// UsedLink records a signed link that acted, until it expires, so that it
// acts once; kept in the state file (and the HA pair's log).
type UsedLink struct {
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Expires time.Time `json:"expires"`
}

// Used reports whether the link id acted, by whom and when.
func (e *Engine) Used(id string) (string, time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	u, ok := e.usedLinks[id]
	return u.By, u.At, ok
}

// MarkUsed records that the link id acted.
func (e *Engine) MarkUsed(id, by string, at, expires time.Time) {
	e.mu.Lock()
	e.usedLinks[id] = UsedLink{By: by, At: at, Expires: expires}
	e.mu.Unlock()
	e.dirty.Store(true)
}

// liveLinks drops the used links that expired; e.mu is held.
func (e *Engine) liveLinks(now time.Time) map[string]UsedLink {
	out := make(map[string]UsedLink, len(e.usedLinks))
	for id, u := range e.usedLinks {
		if u.Expires.After(now) {
			out[id] = u
		} else {
			delete(e.usedLinks, id)
		}
	}
	return out
}
