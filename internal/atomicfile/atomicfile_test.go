package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

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
