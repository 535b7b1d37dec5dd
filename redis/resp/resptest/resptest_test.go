package resptest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/replsm/replsm/internal/redisproc"
	"github.com/replsm/replsm/redis/resp"
)

func TestStartDialDo(t *testing.T) {
	dir := t.TempDir()
	srv := Start(t, Options{Dir: dir, DBFilename: "x.rdb", Args: []string{"--repl-timeout", "7"}})
	if srv.Addr != "127.0.0.1:"+strconv.Itoa(srv.Port) || srv.Dir != dir || filepath.Dir(srv.LogFile) != dir {
		t.Fatalf("server %+v", srv)
	}
	c := srv.Dial(t)
	if v := c.MustDo(t, "SET", "k", "v"); v.Text() != "OK" {
		t.Errorf("SET: %q", v.Text())
	}
	v, err := c.DoBytes([]byte("GET"), []byte("k"))
	if err != nil || v.Text() != "v" {
		t.Errorf("GET: %q, %v", v.Text(), err)
	}
	v, err = c.Do("NOSUCHCOMMAND")
	if err != nil || v.Kind != resp.KindError {
		t.Errorf("an error reply is a value: %+v, %v", v, err)
	}
	for param, want := range map[string]string{"dbfilename": "x.rdb", "repl-timeout": "7", "save": "", "bind": "127.0.0.1"} {
		got := c.MustDo(t, "CONFIG", "GET", param).Array
		if len(got) != 2 || got[1].Text() != want {
			t.Errorf("CONFIG GET %s = %+v, want %q", param, got, want)
		}
	}
	if got := Start(t, Options{}).Dial(t).MustDo(t, "CONFIG", "GET", "dbfilename").Array; len(got) != 2 || got[1].Text() != "dump.rdb" {
		t.Errorf("default dump file %+v, want dump.rdb", got)
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("closing again: %v", err)
	}
}

// missingEnv, when set, makes TestBinaryMissingFails the child run that
// asks for a missing tool.
const missingEnv = "RESPTEST_ASK_FOR_MISSING_BINARY"

// TestBinaryMissingFails runs this test binary again to ask Binary for a
// tool that does not exist, and checks that the child test failed (not
// skipped) saying how to install it.
func TestBinaryMissingFails(t *testing.T) {
	if os.Getenv(missingEnv) != "" {
		Binary(t, "redis-tool-that-does-not-exist")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBinaryMissingFails$", "-test.v")
	cmd.Env = append(os.Environ(), missingEnv+"=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("the child test did not fail: %v\n%s", err, out)
	}
	for _, want := range []string{"--- FAIL: TestBinaryMissingFails", redisproc.InstallHint, "redis-tool-that-does-not-exist"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("child output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "--- SKIP") {
		t.Errorf("the child test skipped:\n%s", out)
	}
}
