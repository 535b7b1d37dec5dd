//go:build unix

package store

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/replsm/replsm/internal/asnobody"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Permission checks run as user nobody even when the tests run as root
// (internal/asnobody), since chmod does not stop root.
func TestBoltUnwritableDirAndFile(t *testing.T) {
	if asnobody.Dir() != "" {
		t.Skip("running as the permission-check child")
	}
	base, err := os.MkdirTemp("", "replsm-perm-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	require.NoError(t, os.Chmod(base, 0o755))
	preparePermFixtures(t, base)
	asnobody.Check(t, base, "TestBoltPermChild", checkPerms)
}

func TestBoltPermChild(t *testing.T) { asnobody.Child(t, checkPerms) }

func preparePermFixtures(t *testing.T, base string) {
	ro := filepath.Join(base, "readonly-dir")
	require.NoError(t, os.Mkdir(ro, 0o755))
	require.NoError(t, os.Chmod(ro, 0o555))

	rw := filepath.Join(base, "rw-dir")
	require.NoError(t, os.Mkdir(rw, 0o755))
	require.NoError(t, os.Chmod(rw, 0o777))
	st, err := OpenBolt(filepath.Join(rw, "readonly.db"), BoltOptions{})
	require.NoError(t, err)
	require.NoError(t, st.Close())
	require.NoError(t, os.Chmod(filepath.Join(rw, "readonly.db"), 0o444))
}

func checkPerms(t *testing.T, base string) {
	newInRO := filepath.Join(base, "readonly-dir", "state.db")
	_, err := OpenBolt(newInRO, BoltOptions{})
	require.ErrorIs(t, err, ErrStoreUnavailable)
	assert.Contains(t, err.Error(), newInRO)
	assert.NoFileExists(t, newInRO)
	t.Log(err)

	roFile := filepath.Join(base, "rw-dir", "readonly.db")
	before := snapshot(t, roFile)
	_, err = OpenBolt(roFile, BoltOptions{})
	require.ErrorIs(t, err, ErrStoreUnavailable)
	assert.NotErrorIs(t, err, ErrCorruptStore)
	assert.Contains(t, err.Error(), roFile)
	assert.Equal(t, before, snapshot(t, roFile))
	t.Log(err)
}
