package chaos

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// stateDir is the state files' directory and the way the run makes it
// refuse writes. Permissions alone do not stop root (CI runs as root), so
// it is, in order of preference: a small tmpfs remounted read-only (and
// filled up for StateFull), the immutable attribute (chattr +i), or a file
// put in the directory's place so that nothing can be created under it.
type stateDir struct {
	path    string
	mode    blockMode
	ballast string
}

type blockMode int

const (
	readOnlyTmpfs blockMode = iota // a tmpfs of our own: can be remounted and filled
	immutable
	fileInPlace
)

// How says how Block works, for the report.
func (s *stateDir) How() string {
	return [...]string{"tmpfs remounted read-only", "immutable attribute (chattr +i)", "a file in the directory's place"}[s.mode]
}

// newStateDir picks the first way that works here, or the one named by
// force ("tmpfs", "immutable", "file"), to try the fallbacks.
func newStateDir(parent, force string) (*stateDir, error) {
	s := &stateDir{path: filepath.Join(parent, "state")}
	if err := os.Mkdir(s.path, 0o700); err != nil {
		return nil, err
	}
	if force != "" && force != "tmpfs" && force != "immutable" && force != "file" {
		return nil, fmt.Errorf("CHAOS_STATE_BLOCK=%q: want tmpfs, immutable or file", force)
	}
	if (force == "" || force == "tmpfs") && run("mount", "-t", "tmpfs", "-o", "size=32m,mode=0700", "tmpfs", s.path) == nil {
		s.mode = readOnlyTmpfs
		return s, nil
	}
	if (force == "" || force == "immutable") && run("chattr", "+i", s.path) == nil && run("chattr", "-i", s.path) == nil {
		s.mode = immutable
		return s, nil
	}
	s.mode = fileInPlace
	return s, nil
}

// CanFill reports whether Fill is possible here.
func (s *stateDir) CanFill() bool { return s.mode == readOnlyTmpfs }

// Block makes writes under the directory fail until Unblock.
func (s *stateDir) Block() error {
	switch s.mode {
	case readOnlyTmpfs:
		return retryBusy(func() error { return run("mount", "-o", "remount,ro", s.path) })
	case immutable:
		return run("chattr", "+i", s.path)
	}
	if err := os.Rename(s.path, s.path+".away"); err != nil {
		return err
	}
	return os.WriteFile(s.path, []byte("not a directory\n"), 0o600)
}

// Unblock undoes Block.
func (s *stateDir) Unblock() error {
	switch s.mode {
	case readOnlyTmpfs:
		return run("mount", "-o", "remount,rw", s.path)
	case immutable:
		return run("chattr", "-i", s.path)
	}
	if err := os.Remove(s.path); err != nil {
		return err
	}
	return os.Rename(s.path+".away", s.path)
}

// Fill takes every free byte of the tmpfs, until Drain.
func (s *stateDir) Fill() error {
	s.ballast = filepath.Join(s.path, "ballast")
	f, err := os.OpenFile(s.ballast, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return nil
			}
			return err
		}
	}
}

// Drain frees what Fill took.
func (s *stateDir) Drain() error { return os.Remove(s.ballast) }

// Close undoes the setup: the tmpfs is unmounted, the attribute cleared.
func (s *stateDir) Close() {
	switch s.mode {
	case readOnlyTmpfs:
		_ = run("umount", "-l", s.path)
	case immutable:
		_ = run("chattr", "-i", s.path)
	}
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %w: %s", name, args, err, out)
	}
	return nil
}

// retryBusy retries a remount that a file open for writing holds up.
func retryBusy(f func() error) error {
	var err error
	for range 50 {
		if err = f(); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}
