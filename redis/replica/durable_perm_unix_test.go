//go:build unix

package replica

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/asnobody"
	"github.com/replsm/replsm/slot"
)

// A read-only state directory: the check runs as user nobody even when the
// tests run as root (internal/asnobody), since chmod does not stop root.

// TestRestartReadOnlyStateDir: New refuses a read-only state dir (empty, or
// holding a writable state file from an earlier run) with ErrStateDir
// naming it, and changes nothing in it.
func TestRestartReadOnlyStateDir(t *testing.T) {
	if asnobody.Dir() != "" {
		t.Skip("running as the permission-check child")
	}
	base, err := os.MkdirTemp("", "replsm-replica-perm-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	require.NoError(t, os.Chmod(base, 0o755))

	empty := filepath.Join(base, "ro-empty")
	require.NoError(t, os.Mkdir(empty, 0o555))
	require.NoError(t, os.Chmod(empty, 0o555))
	withState := filepath.Join(base, "ro-with-state")
	require.NoError(t, os.Mkdir(withState, 0o755))
	cfg := testConfig(t, map[slot.ID]string{0: "127.0.0.1:1"})
	cfg.StateDir = withState
	r, err := New(cfg, clock.New())
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.NoError(t, os.Chmod(filepath.Join(withState, StateFileName), 0o666))
	require.NoError(t, os.Chmod(withState, 0o555))

	asnobody.Check(t, base, "TestRestartReadOnlyStateDirChild", checkReadOnlyStateDirs)
}

func TestRestartReadOnlyStateDirChild(t *testing.T) { asnobody.Child(t, checkReadOnlyStateDirs) }

func checkReadOnlyStateDirs(t *testing.T, base string) {
	for _, name := range []string{"ro-empty", "ro-with-state"} {
		dir := filepath.Join(base, name)
		before := dirDigest(t, dir)
		cfg := testConfig(t, map[slot.ID]string{0: "127.0.0.1:1"})
		cfg.StateDir = dir
		_, err := New(cfg, clock.New())
		require.ErrorIs(t, err, ErrStateDir, name)
		assert.Contains(t, err.Error(), dir)
		assert.Contains(t, err.Error(), "not writable")
		assert.Equal(t, before, dirDigest(t, dir))
		t.Log(err)
	}
}
