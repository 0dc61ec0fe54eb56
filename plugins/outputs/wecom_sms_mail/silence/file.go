package silence

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/atomicfile"
)

const fileVersion = 1

type file struct {
	Version  int      `json:"version"`
	Silences Silences `json:"silences"`
}

// Load reads the silence file. A missing file is no silence. A corrupt one
// is moved aside (the returned error says where) and counts as empty: a
// bad file never stops alerting.
func Load(path string, now time.Time) (Silences, error) {
	f, err := atomicfile.ReadVersioned(path, "silence", fileVersion, now, func(f *file) int { return f.Version })
	if f == nil {
		return nil, err
	}
	return f.Silences, nil
}

// Save replaces the file atomically: a crash leaves the old file or the
// new one.
func Save(path string, ss Silences) error {
	data, err := json.MarshalIndent(file{Version: fileVersion, Silences: ss}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'))
}

// Add adds a silence to the file and returns its ID. Silences that ended
// more than Keep ago are dropped on the way.
func Add(path string, s Silence, now time.Time) (string, error) {
	ss, err := Load(path, now)
	if err != nil && !errors.Is(err, atomicfile.ErrMovedAside) {
		return "", err
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	s.ID = hex.EncodeToString(id[:])
	kept := ss[:0]
	for _, old := range ss {
		if now.Sub(old.EndsAt) < Keep {
			kept = append(kept, old)
		}
	}
	kept = append(kept, s)
	sort.SliceStable(kept, func(i, j int) bool { return kept[i].StartsAt.Before(kept[j].StartsAt) })
	return s.ID, Save(path, kept)
}

// Expire ends a silence now.
func Expire(path, id string, now time.Time) error {
	ss, err := Load(path, now)
	if err != nil {
		return err
	}
	for i := range ss {
		if ss[i].ID == id {
			if ss[i].EndsAt.After(now) {
				ss[i].EndsAt = now
			}
			return Save(path, ss)
		}
	}
	return fmt.Errorf("no silence with ID %q in %s", id, path)
}
