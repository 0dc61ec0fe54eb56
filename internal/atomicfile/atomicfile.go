// Package atomicfile replaces files atomically: a crash leaves the old file
// or the new one, never half of one.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write writes data to a temporary file beside path, syncs it, and renames
// it over path.
func Write(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	return nil
}

// ReadPrivate reads path if it is private (see CheckPrivate). A missing
// file is not an error: found is false.
func ReadPrivate(path string) (data []byte, found bool, err error) {
	info, err := os.Stat(path)
	if os.IsNotExist(err) {
		return nil, false, nil
	}
	if err == nil {
		err = CheckPrivate(path, info)
	}
	if err != nil {
		return nil, true, err
	}
	data, err = os.ReadFile(path)
	if err != nil {
		return nil, true, fmt.Errorf("reading %s: %w", path, err)
	}
	return data, true, nil
}

// CheckPrivate refuses a file others could have written: one that is
// world-writable or belongs to another user. Alert state and silences
// decide who gets woken up; a file anyone can edit must not.
func CheckPrivate(path string, info os.FileInfo) error {
	if info.Mode().Perm()&0o002 != 0 {
		return fmt.Errorf("%s is world-writable (%v): refusing it; chmod 600 %s", path, info.Mode().Perm(), path)
	}
	if uid, ok := owner(info); ok && uid != os.Getuid() {
		return fmt.Errorf("%s belongs to uid %d, not to this process (uid %d): refusing it; chown it or point the key elsewhere", path, uid, os.Getuid())
	}
	return nil
}
