package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/milestonetest"
	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/milestone"
	"github.com/replsm/replsm/redis/replica"
)

// TestReplicaStateDirErrors: a state dir the replica cannot use, or a store
// file it cannot trust, is an operational error (exit 1) whose message says
// what is wrong and, for a corrupt file, what to do; the file is unchanged.
func TestReplicaStateDirErrors(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "a-file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	corruptDir := filepath.Join(base, "corrupt")
	require.NoError(t, os.Mkdir(corruptDir, 0o755))
	corrupt := filepath.Join(corruptDir, replica.StateFileName)
	garbage := bytes.Repeat([]byte("garbage "), 1000)
	require.NoError(t, os.WriteFile(corrupt, garbage, 0o600))

	for name, tc := range map[string]struct {
		dir  string
		want []string
	}{
		"missing":      {filepath.Join(base, "nope"), []string{"unusable state directory", "does not exist"}},
		"under a file": {filepath.Join(file, "state"), []string{"unusable state directory", "not a directory"}},
		"corrupt store": {corruptDir, []string{"corrupt state file", corrupt, "The file was not modified",
			"move the file aside"}},
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"replica", "--shard", "0=127.0.0.1:1", "--listen", "127.0.0.1:0", "--state-dir", tc.dir}, &stdout, &stderr)
			assert.Equal(t, 1, code, stderr.String())
			for _, w := range tc.want {
				assert.Contains(t, stderr.String(), w)
			}
			assert.NotContains(t, stderr.String(), "replica serving reads", "the process does not start")
			t.Log(strings.TrimSpace(stderr.String()))
		})
	}
	after, err := os.ReadFile(corrupt)
	require.NoError(t, err)
	assert.Equal(t, garbage, after, "the corrupt file is unchanged")
}

// runReplicaCmd runs "replsm replica" with args until cancel is called and
// returns its address once it serves, and a function that stops it and
// returns its exit code.
func runReplicaCmd(t *testing.T, args ...string) (addr string, logs *redistest.SyncBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout bytes.Buffer
	logs = &redistest.SyncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"replica"}, args...), &stdout, logs) }()
	addrRE := regexp.MustCompile(`msg="replica serving reads" addr=(\S+)`)
	redistest.RequireEventually(t, 30*time.Second, "serving", func(context.Context) error {
		select {
		case code := <-done:
			done <- code
			return fmt.Errorf("exited with %d:\n%s", code, logs.String())
		default:
		}
		m := addrRE.FindStringSubmatch(logs.String())
		if m == nil {
			return fmt.Errorf("stderr so far:\n%s", logs.String())
		}
		addr = m[1]
		return nil
	})
	stopped := false
	var code int
	stop = func() int {
		if stopped {
			return code
		}
		stopped = true
		cancel()
		select {
		case code = <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("replica did not stop after its context ended")
		}
		return code
	}
	t.Cleanup(func() { stop() })
	return addr, logs, stop
}

// TestReplicaRestartWithStateDir: "replsm replica --state-dir --notify-url"
// against a real redis-server: milestones reach the receiver; stopped and
// started again on the same directory, the replica restores its snapshot
// and resumes with +CONTINUE (the primary counts one full sync in all).
func TestReplicaRestartWithStateDir(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := redistest.Start(t, redistest.Options{Name: "primary", Args: []string{"--repl-ping-replica-period", "1"}})
	pc := p.Client()
	require.NoError(t, redistest.FillAllTypes(ctx, pc, "pre", 100))
	recv := milestonetest.New(t)
	dir := t.TempDir()
	args := []string{"--shard", "0=" + p.Addr(), "--listen", "127.0.0.1:0", "--state-dir", dir, "--notify-url", recv.URL(), "--snapshot-interval", "200ms"}

	addr, _, stop := runReplicaCmd(t, args...)
	rc := redistest.NewClient(addr, 0)
	defer rc.Close()
	require.NoError(t, redistest.WaitCaughtUp(ctx, pc, rc))
	redistest.RequireEventually(t, 30*time.Second, "milestones", func(context.Context) error {
		if n := len(recv.Unique()); n != 2 {
			return fmt.Errorf("%d delivered", n)
		}
		return nil
	})
	require.NoError(t, redistest.FillAllTypes(ctx, pc, "mid", 100))
	require.NoError(t, redistest.WaitCaughtUp(ctx, pc, rc))
	require.Equal(t, 0, stop())

	require.NoError(t, redistest.FillAllTypes(ctx, pc, "gap", 100))
	addr, logs, stop := runReplicaCmd(t, args...)
	assert.Contains(t, logs.String(), "shard restored from its snapshot")
	rc2 := redistest.NewClient(addr, 0)
	defer rc2.Close()
	require.NoError(t, redistest.WaitCaughtUp(ctx, pc, rc2))
	dbs := redistest.FillDBs()
	equal, want, got, err := redistest.Compare(ctx, pc, rc2, dbs)
	require.NoError(t, err)
	require.True(t, equal, "%v", want.Diff(got, 10))
	redistest.RequireEventually(t, 30*time.Second, "milestone of the second run", func(context.Context) error {
		if n := len(recv.Unique()); n != 3 {
			return fmt.Errorf("%d delivered", n)
		}
		return nil
	})
	third := recv.Unique()[2]
	assert.Equal(t, milestone.KindShardConnected, third.Kind, "no second full sync")
	assert.True(t, strings.HasPrefix(third.Key, "inc/2/"), third.Key)
	stats, err := pc.Info(ctx, "stats").Result()
	require.NoError(t, err)
	assert.Contains(t, stats, "sync_full:1\r\n")
	assert.Contains(t, stats, "sync_partial_ok:1\r\n")
	info, err := rc2.Info(ctx, "replsm").Result()
	require.NoError(t, err)
	assert.Contains(t, info, "outbox_pending:0")
	assert.Contains(t, info, "state_dir:"+dir)
	require.Equal(t, 0, stop())
}
