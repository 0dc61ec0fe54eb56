package silence

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
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
	data, found, err := atomicfile.ReadPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("silence file: %w", err)
	}
	if !found {
		return nil, nil
	}
	var f file
	decodeErr := json.Unmarshal(data, &f)
	if decodeErr == nil && f.Version != fileVersion {
		decodeErr = fmt.Errorf("version %d, want %d", f.Version, fileVersion)
	}
	if decodeErr == nil {
		return f.Silences, nil
	}
	aside := fmt.Sprintf("%s.corrupt-%s", path, now.UTC().Format("20060102T150405"))
	if err := os.Rename(path, aside); err != nil {
		return nil, fmt.Errorf("silence file %s is corrupt (%v) and could not be moved aside: %w", path, decodeErr, err)
	}
	return nil, fmt.Errorf("silence file %s is corrupt (%v); moved it to %s, no silence applies", path, decodeErr, aside)
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
	if err != nil && ss == nil && !strings.Contains(err.Error(), "moved it to") {
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
