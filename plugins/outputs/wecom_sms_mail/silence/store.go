package silence

import (
	"sync"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/atomicfile"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
)

// Store is the running output's view of the silence file, re-read when the
// file changes: the CLI on this host, a link, or the HA pair may write it.
type Store struct {
	path string
	log  interface{ Errorf(string, ...any) }

	mu       sync.Mutex
	stamp    atomicfile.Stamp
	silences Silences
}

// NewStore returns the store of the file at path, read at the first
// Refresh.
func NewStore(path string, log interface{ Errorf(string, ...any) }) *Store {
	return &Store{path: path, log: log}
}

// Path is the silence file.
func (s *Store) Path() string { return s.path }

// Refresh re-reads the file if it changed since the last read. A nil
// store (silences off) does nothing.
func (s *Store) Refresh(now time.Time) {
	if s == nil || s.path == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	changed, gone := s.stamp.Check(s.path)
	if gone {
		s.silences = nil
	}
	if !changed {
		return
	}
	ss, err := Load(s.path, now)
	if err != nil {
		s.log.Errorf("Silences: %v", err)
	}
	s.silences = ss
}

// List is the silences as last read (Refresh first for the file's
// latest); callers must not modify them.
func (s *Store) List() Silences {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.silences
}

// Silenced reports whether the alert with key is muted at now; nothing is
// in a nil store.
func (s *Store) Silenced(key string, now time.Time) bool {
	if s == nil {
		return false
	}
	ss := s.List()
	return len(ss) > 0 && ss.Silenced(alert.KeyTags(key), now)
}

// Add writes a new silence into the file and reads it back.
func (s *Store) Add(sl Silence, now time.Time) (string, error) {
	id, err := Add(s.path, sl, now)
	if err == nil {
		s.Refresh(now)
	}
	return id, err
}

// Expire ends a silence in the file and reads it back.
func (s *Store) Expire(id string, now time.Time) error {
	err := Expire(s.path, id, now)
	if err == nil {
		s.Refresh(now)
	}
	return err
}

// Replace writes ss as the whole file (the HA pair's merge) and reads it
// back.
func (s *Store) Replace(ss Silences, now time.Time) error {
	if err := Save(s.path, ss); err != nil {
		return err
	}
	s.Refresh(now)
	return nil
}
