package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWriteIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	require.NoError(t, Write(path, []byte("{}")))
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	require.NoError(t, CheckPrivate(path, info))

	require.NoError(t, os.Chmod(path, 0o666))
	info, err = os.Stat(path)
	require.NoError(t, err)
	require.ErrorContains(t, CheckPrivate(path, info), "is world-writable")
}

func TestOtherOwnerIsRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("changing a file's owner needs root (CI runs as root)")
	}
	path := filepath.Join(t.TempDir(), "state")
	require.NoError(t, Write(path, []byte("{}")))
	require.NoError(t, os.Chown(path, 12345, 12345))
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.ErrorContains(t, CheckPrivate(path, info), "belongs to uid 12345")
}

func TestReadPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	data, found, err := ReadPrivate(path)
	require.NoError(t, err, "a missing file is not an error")
	require.False(t, found)
	require.Nil(t, data)

	require.NoError(t, Write(path, []byte("{}")))
	data, found, err = ReadPrivate(path)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, "{}", string(data))

	require.NoError(t, os.Chmod(path, 0o666))
	_, found, err = ReadPrivate(path)
	require.True(t, found)
	require.ErrorContains(t, err, "is world-writable")
}

func TestReadVersioned(t *testing.T) {
	type doc struct {
		Version int    `json:"version"`
		Name    string `json:"name"`
	}
	version := func(d *doc) int { return d.Version }
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "f.json")
	d, err := ReadVersioned(path, "test", 1, now, version)
	require.NoError(t, err)
	require.Nil(t, d, "a missing file is no document")

	require.NoError(t, Write(path, []byte(`{"version":1,"name":"a"}`)))
	d, err = ReadVersioned(path, "test", 1, now, version)
	require.NoError(t, err)
	require.Equal(t, "a", d.Name)

	require.NoError(t, Write(path, []byte(`{"version":2}`)))
	d, err = ReadVersioned(path, "test", 1, now, version)
	require.Nil(t, d)
	require.ErrorIs(t, err, ErrMovedAside)
	require.EqualError(t, err, "test file "+path+" is corrupt (version 2, want 1); moved it to "+path+".corrupt-20261207T090000, no test applies")
	require.NoFileExists(t, path)

	var s Stamp
	changed, gone := s.Check(path)
	require.False(t, changed)
	require.True(t, gone)
	require.NoError(t, Write(path, []byte(`{}`)))
	changed, _ = s.Check(path)
	require.True(t, changed)
	changed, _ = s.Check(path)
	require.False(t, changed, "unchanged since the last check")
}
