//go:build unix

package replica

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/slot"
)

// A read-only state directory. chmod does not stop root, and tests usually
// run as root here, so as root the check runs in a copy of this test binary
// started as user nobody (uid 65534), as the store's permission tests do.
const permChildEnv = "REPLSM_REPLICA_PERM_DIR"

// TestRestartReadOnlyStateDir: New refuses a read-only state dir (empty, or
// holding a writable state file from an earlier run) with ErrStateDir
// naming it, and changes nothing in it.
func TestRestartReadOnlyStateDir(t *testing.T) {
	if os.Getenv(permChildEnv) != "" {
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

	if os.Geteuid() != 0 {
		checkReadOnlyStateDirs(t, base)
		return
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	child := filepath.Join(base, "replica.test")
	copyExecutable(t, exe, child)
	cmd := exec.Command(child, "-test.run=^TestRestartReadOnlyStateDirChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), permChildEnv+"="+base)
	cmd.Dir = base
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	var perr *os.PathError
	if errors.As(err, &perr) || errors.Is(err, syscall.EPERM) {
		t.Skipf("cannot start a child as nobody (%v); the read-only check needs a non-root user", err)
	}
	require.NoError(t, err, "child output:\n%s", out)
	require.Contains(t, string(out), "--- PASS: TestRestartReadOnlyStateDirChild", "child output:\n%s", out)
	t.Logf("checked as uid 65534:\n%s", out)
}

func TestRestartReadOnlyStateDirChild(t *testing.T) {
	base := os.Getenv(permChildEnv)
	if base == "" {
		t.Skip("helper for TestRestartReadOnlyStateDir")
	}
	require.NotZero(t, os.Geteuid(), "child must not run as root")
	checkReadOnlyStateDirs(t, base)
}

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

func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}
