package atomicfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// ErrMovedAside is what a corrupt file's error is (errors.Is): the file
// was moved aside and the caller goes on as if it were empty.
var ErrMovedAside = errors.New("corrupt file moved aside")

type movedAside struct{ msg string }

func (e movedAside) Error() string        { return e.msg }
func (e movedAside) Is(target error) bool { return target == ErrMovedAside }

// ReadVersioned reads the private JSON file at path, whose version (as
// version reads it) must be want. A missing file is (nil, nil). A corrupt
// one — unreadable JSON or another version — is moved aside as
// path.corrupt-TIMESTAMP and reported by an ErrMovedAside error naming
// what the file holds ("silence": "no silence applies"): a bad file never
// stops alerting.
func ReadVersioned[T any](path, what string, want int, now time.Time, version func(*T) int) (*T, error) {
	data, found, err := ReadPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("%s file: %w", what, err)
	}
	if !found {
		return nil, nil
	}
	v := new(T)
	decodeErr := json.Unmarshal(data, v)
	if got := version(v); decodeErr == nil && got != want {
		decodeErr = fmt.Errorf("version %d, want %d", got, want)
	}
	if decodeErr == nil {
		return v, nil
	}
	aside := fmt.Sprintf("%s.corrupt-%s", path, now.UTC().Format("20060102T150405"))
	if err := os.Rename(path, aside); err != nil {
		return nil, fmt.Errorf("%s file %s is corrupt (%v) and could not be moved aside: %w", what, path, decodeErr, err)
	}
	return nil, movedAside{fmt.Sprintf("%s file %s is corrupt (%v); moved it to %s, no %s applies", what, path, decodeErr, aside, what)}
}

// Stamp remembers a file's modification time and size, so that a cache
// of the file is re-read only when it changed.
type Stamp struct {
	modified time.Time
	size     int64
}

// Check stats path: changed when it differs from the last Check (and
// remembers it), gone when the file does not exist (and forgets it). A
// failed stat is neither.
func (s *Stamp) Check(path string) (changed, gone bool) {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		*s = Stamp{}
		return false, true
	}
	if err != nil || (st.ModTime().Equal(s.modified) && st.Size() == s.size) {
		return false, false
	}
	s.modified, s.size = st.ModTime(), st.Size()
	return true, false
}
