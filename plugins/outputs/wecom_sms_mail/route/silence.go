package route

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/atomicfile"
)

// Silence mutes the alerts its matchers match between StartsAt and EndsAt.
type Silence struct {
	ID        string    `json:"id"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	CreatedBy string    `json:"created_by,omitempty"`
	Comment   string    `json:"comment,omitempty"`
}

// MarshalJSON and UnmarshalJSON keep matchers as {"tag","glob"}.
func (m Matcher) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Tag  string `json:"tag"`
		Glob string `json:"glob"`
	}{m.Tag, m.Glob})
}

func (m *Matcher) UnmarshalJSON(b []byte) error {
	var raw struct {
		Tag  string `json:"tag"`
		Glob string `json:"glob"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	parsed, err := NewMatcher(raw.Tag, raw.Glob)
	if err != nil {
		return err
	}
	*m = parsed
	return nil
}

// Active reports whether the silence mutes at now.
func (s Silence) Active(now time.Time) bool {
	return !now.Before(s.StartsAt) && now.Before(s.EndsAt)
}

// Silences are the silence file's content.
type Silences []Silence

// Silenced reports whether an active silence matches the tags at now.
func (ss Silences) Silenced(tags map[string]string, now time.Time) bool {
	for _, s := range ss {
		if s.Active(now) && Matches(s.Matchers, tags) {
			return true
		}
	}
	return false
}

// ParseMatcherArgs reads -match tag=glob arguments.
func ParseMatcherArgs(args []string) ([]Matcher, error) {
	if len(args) == 0 {
		return nil, errors.New("at least one -match tag=glob is required")
	}
	out := make([]Matcher, 0, len(args))
	for _, a := range args {
		tag, glob, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("-match %q is not tag=glob", a)
		}
		m, err := NewMatcher(strings.TrimSpace(tag), glob)
		if err != nil {
			return nil, fmt.Errorf("-match %q: %w", a, err)
		}
		out = append(out, m)
	}
	return out, nil
}

const silenceFileVersion = 1

type silenceFile struct {
	Version  int      `json:"version"`
	Silences Silences `json:"silences"`
}

// LoadSilences reads the silence file. A missing file is no silence. A
// corrupt one is moved aside (the returned error says where) and counts
// as empty: a bad file never stops alerting.
func LoadSilences(path string, now time.Time) (Silences, error) {
	data, found, err := atomicfile.ReadPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("silence file: %w", err)
	}
	if !found {
		return nil, nil
	}
	var f silenceFile
	decodeErr := json.Unmarshal(data, &f)
	if decodeErr == nil && f.Version != silenceFileVersion {
		decodeErr = fmt.Errorf("version %d, want %d", f.Version, silenceFileVersion)
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

// SaveSilences replaces the file atomically: a crash leaves the old file
// or the new one.
func SaveSilences(path string, ss Silences) error {
	data, err := json.MarshalIndent(silenceFile{Version: silenceFileVersion, Silences: ss}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'))
}

// AddSilence adds a silence to the file and returns its ID. Expired
// silences older than a week are dropped on the way.
func AddSilence(path string, s Silence, now time.Time) (string, error) {
	ss, err := LoadSilences(path, now)
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
		if now.Sub(old.EndsAt) < 7*24*time.Hour {
			kept = append(kept, old)
		}
	}
	kept = append(kept, s)
	sort.SliceStable(kept, func(i, j int) bool { return kept[i].StartsAt.Before(kept[j].StartsAt) })
	return s.ID, SaveSilences(path, kept)
}

// ExpireSilence ends a silence now.
func ExpireSilence(path, id string, now time.Time) error {
	ss, err := LoadSilences(path, now)
	if err != nil {
		return err
	}
	for i := range ss {
		if ss[i].ID == id {
			if ss[i].EndsAt.After(now) {
				ss[i].EndsAt = now
			}
			return SaveSilences(path, ss)
		}
	}
	return fmt.Errorf("no silence with ID %q in %s", id, path)
}

// Literal is a glob that matches s and nothing else. Telegraf compares a
// pattern without * ? [ literally; one with them is a glob, whose special
// characters are escaped.
func Literal(s string) string {
	if !strings.ContainsAny(s, "*?[") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]{}\,-!`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
