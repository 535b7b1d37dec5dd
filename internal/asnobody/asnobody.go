//go:build unix

// Package asnobody runs a permission check as an unprivileged user. chmod
// does not stop root, and tests here usually run as root, so a check that a
// read-only file or directory is refused must run as someone else: Check
// runs it directly when the test is not root, and otherwise re-runs one test
// of a copy of the test binary as user nobody (uid/gid 65534).
package asnobody

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// envVar carries the fixture directory to the child.
const envVar = "REPLSM_ASNOBODY_DIR"

// Dir returns the fixture directory when this process is the child started
// by Check, and "" otherwise; a test that is only the child's half skips
// itself when it is "".
func Dir() string { return os.Getenv(envVar) }

// Check runs check(dir) as a non-root user. dir must be traversable by
// nobody. childTest is the name of a test in the same package that calls
// check(Dir()) when Dir() is set. As root it copies the test binary into
// dir, runs childTest there as nobody and fails t unless that test passed.
// It skips only when the OS refuses to start a process as another user.
func Check(t *testing.T, dir, childTest string, check func(t *testing.T, dir string)) {
	t.Helper()
	if os.Geteuid() != 0 {
		check(t, dir)
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	child := filepath.Join(dir, filepath.Base(exe))
	if err := copyFile(exe, child); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(child, "-test.run=^"+childTest+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), envVar+"="+dir)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	var perr *os.PathError
	if errors.As(err, &perr) || errors.Is(err, syscall.EPERM) {
		t.Skipf("cannot start a child as nobody (%v); this check needs a non-root user", err)
	}
	if err != nil {
		t.Fatalf("child %s failed: %v\n%s", childTest, err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+childTest) {
		t.Fatalf("child did not run %s:\n%s", childTest, out)
	}
	t.Logf("checked as uid 65534:\n%s", out)
}

// Child is the body of the child test: it runs check on Dir(), or skips
// when this process is not the child.
func Child(t *testing.T, check func(t *testing.T, dir string)) {
	t.Helper()
	dir := Dir()
	if dir == "" {
		t.Skip("runs only as the child of asnobody.Check")
	}
	if os.Geteuid() == 0 {
		t.Fatal("the child must not run as root")
	}
	check(t, dir)
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
