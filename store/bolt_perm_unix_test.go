//go:build unix

package store

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Permission checks: chmod does not stop root, and tests usually run as
// root here. As root the checks are re-run in a copy of this test binary
// started as user nobody (uid 65534); elsewhere they run directly.
const permChildEnv = "REPLSM_STORE_PERM_DIR"

func TestBoltUnwritableDirAndFile(t *testing.T) {
	if os.Getenv(permChildEnv) != "" {
		t.Skip("running as the permission-check child")
	}
	base, err := os.MkdirTemp("", "replsm-perm-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	require.NoError(t, os.Chmod(base, 0o755))
	preparePermFixtures(t, base)

	if os.Geteuid() != 0 {
		checkPerms(t, base)
		return
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	child := filepath.Join(base, "store.test")
	copyFile(t, exe, child, 0o755)
	cmd := exec.Command(child, "-test.run=^TestBoltPermChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), permChildEnv+"="+base)
	cmd.Dir = base
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	var perr *os.PathError
	if errors.As(err, &perr) || errors.Is(err, syscall.EPERM) {
		t.Skipf("cannot start a child as nobody (%v); permission checks need a non-root user", err)
	}
	require.NoError(t, err, "child output:\n%s", out)
	require.Contains(t, string(out), "--- PASS: TestBoltPermChild", "child output:\n%s", out)
	t.Logf("checked as uid 65534:\n%s", out)
}

func TestBoltPermChild(t *testing.T) {
	base := os.Getenv(permChildEnv)
	if base == "" {
		t.Skip("helper for TestBoltUnwritableDirAndFile")
	}
	require.NotZero(t, os.Geteuid(), "child must not run as root")
	checkPerms(t, base)
}

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

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}
