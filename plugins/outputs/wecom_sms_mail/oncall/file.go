package oncall

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/atomicfile"
)

const fileVersion = 1

// keep is how long an ended override stays in the file (for `list`).
const keep = 7 * 24 * time.Hour

type file struct {
	Version   int        `json:"version"`
	Overrides []Override `json:"overrides"`
}

// LoadOverrides reads the override file. A missing file holds none; a
// corrupt one is moved aside and counts as empty, as the silence file.
func LoadOverrides(path string, now time.Time) ([]Override, error) {
	f, err := atomicfile.ReadVersioned(path, "override", fileVersion, now, func(f *file) int { return f.Version })
	if f == nil {
		return nil, err
	}
	return f.Overrides, nil
}

// SaveOverrides replaces the file atomically.
func SaveOverrides(path string, list []Override) error {
	data, err := json.MarshalIndent(file{Version: fileVersion, Overrides: list}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'))
}

// AddOverride adds o to the file and returns its ID; overrides that ended
// more than a week ago are dropped on the way.
func AddOverride(path string, o Override, now time.Time) (string, error) {
	list, err := LoadOverrides(path, now)
	if err != nil && !errors.Is(err, atomicfile.ErrMovedAside) {
		return "", err
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	o.ID = hex.EncodeToString(id[:])
	if o.Created.IsZero() {
		o.Created = now
	}
	if o.Start.IsZero() {
		o.Start = now
	}
	kept := slices.DeleteFunc(list, func(old Override) bool { return now.Sub(old.end()) > keep })
	kept = append(kept, o)
	return o.ID, SaveOverrides(path, kept)
}

// ExpireOverride ends an override now.
func ExpireOverride(path, id string, now time.Time) error {
	list, err := LoadOverrides(path, now)
	if err != nil {
		return err
	}
	for i := range list {
		if list[i].ID == id {
			if list[i].Expired.IsZero() || list[i].Expired.After(now) {
				list[i].Expired = now
			}
			return SaveOverrides(path, list)
		}
	}
	return fmt.Errorf("no override with ID %q in %s", id, path)
}

func (o Override) end() time.Time {
	if !o.Expired.IsZero() && o.Expired.Before(o.Until) {
		return o.Expired
	}
	return o.Until
}

// Merge reconciles overrides from two places (the local file and the HA
// pair's log): the union by ID, an expiry wins.
func Merge(a, b []Override) []Override {
	byID := map[string]Override{}
	var order []string
	for _, o := range append(slices.Clone(a), b...) {
		old, seen := byID[o.ID]
		if !seen {
			order = append(order, o.ID)
			byID[o.ID] = o
			continue
		}
		if !o.Expired.IsZero() && (old.Expired.IsZero() || o.Expired.Before(old.Expired)) {
			old.Expired = o.Expired
		}
		byID[o.ID] = old
	}
	out := make([]Override, 0, len(order))
	for _, id := range order {
		out = append(out, byID[id])
	}
	return out
}

// Store is the running output's view of the override file, re-read when
// it changes (the CLI writes it), so that an override or its expiry
// applies within a tick.
type Store struct {
	path string
	log  interface{ Errorf(string, ...any) }

	mu        sync.Mutex
	stamp     atomicfile.Stamp
	overrides []Override
}

// NewStore returns the store of the file at path, read at the first
// Refresh.
func NewStore(path string, log interface{ Errorf(string, ...any) }) *Store {
	return &Store{path: path, log: log}
}

// Refresh re-reads the file if it changed. A nil store does nothing.
func (s *Store) Refresh(now time.Time) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	changed, gone := s.stamp.Check(s.path)
	if gone {
		s.overrides = nil
	}
	if !changed {
		return
	}
	list, err := LoadOverrides(s.path, now)
	if err != nil {
		s.log.Errorf("Roster overrides: %v", err)
	}
	s.overrides = list
}

// List is the overrides as last read.
func (s *Store) List() []Override {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.overrides)
}
