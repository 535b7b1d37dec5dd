package crashtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/failpoint"
	"github.com/replsm/replsm/internal/milestonetest"
	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/milestone"
	"github.com/replsm/replsm/redis/keyspace"
	"github.com/replsm/replsm/redis/rdb"
	"github.com/replsm/replsm/redis/replica"
	"github.com/replsm/replsm/store"
)

// primaryArgs: a ping every second, a backlog that covers every gap here.
// waitLimit bounds every wait for something that should happen (a child
// ready, killed at its failpoint, stopped; milestones delivered): generous,
// so a busy machine makes the test slower, never red.
const waitLimit = 60 * time.Second

var primaryArgs = []string{"--repl-timeout", "5", "--repl-ping-replica-period", "1", "--repl-backlog-size", "64mb"}

// child is one run of the replica in a child process.
type child struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stderr *redistest.SyncBuffer
	lines  chan string   // stdout, line by line; closed at EOF
	done   chan struct{} // closed when the process has been waited for
	err    error         // cmd.Wait's result, after done
}

// startChild re-executes this test binary as the replica child with the
// given failpoints (REPLSM_FAILPOINTS syntax; "" for none).
func startChild(t *testing.T, name string, opts childOpts, failpoints string) *child {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	spec, err := json.Marshal(opts)
	require.NoError(t, err)
	cmd := exec.Command(exe, "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec), failpoint.EnvVar+"="+failpoints)
	c := &child{t: t, name: name, cmd: cmd, stderr: &redistest.SyncBuffer{}, lines: make(chan string, 64), done: make(chan struct{})}
	cmd.Stderr = c.stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case c.lines <- sc.Text():
			default: // nobody reads past READY; stderr has the story
			}
		}
		close(c.lines)
		// Wait only after EOF on stdout: Wait closes the pipe.
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = cmd.Process.Kill() // our own child, by its pid
			<-c.done
		}
		// CRASH_DEBUG=1 shows the child's log even when the test passes.
		if t.Failed() || os.Getenv("CRASH_DEBUG") != "" {
			t.Logf("%s stderr tail:\n%s", name, tail(c.stderr.String(), 60))
		}
	})
	return c
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ready waits for the child's READY line.
func (c *child) ready(within time.Duration) readyLine {
	c.t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				<-c.done
				c.t.Fatalf("%s exited before it was ready (%v); stderr:\n%s", c.name, c.err, tail(c.stderr.String(), 40))
			}
			if rest, ok := strings.CutPrefix(line, errorPrefix); ok {
				c.t.Fatalf("%s failed to start: %s", c.name, rest)
			}
			if rest, ok := strings.CutPrefix(line, readyPrefix); ok {
				var r readyLine
				require.NoError(c.t, json.Unmarshal([]byte(rest), &r))
				return r
			}
		case <-timer.C:
			c.t.Fatalf("%s not ready within %v; stderr:\n%s", c.name, within, tail(c.stderr.String(), 40))
		}
	}
}

// waitKilled waits for the child to die of the failpoint's SIGKILL.
func (c *child) waitKilled(point string, within time.Duration) {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(within):
		c.t.Fatalf("%s still running %v after it was armed at %s", c.name, within, point)
	}
	var ee *exec.ExitError
	require.ErrorAs(c.t, c.err, &ee, "%s: %v", c.name, c.err)
	ws, ok := ee.Sys().(syscall.WaitStatus)
	require.True(c.t, ok)
	require.True(c.t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "%s ended with %v, not SIGKILL", c.name, c.err)
	require.Contains(c.t, c.stderr.String(), "failpoint: "+point+" hit", "killed by the armed failpoint")
}

// stop sends SIGTERM and waits for a clean exit.
func (c *child) stop(within time.Duration) {
	c.t.Helper()
	require.NoError(c.t, c.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-c.done:
	case <-time.After(within):
		c.t.Fatalf("%s did not exit within %v of SIGTERM", c.name, within)
	}
	require.NoError(c.t, c.err, "%s stderr:\n%s", c.name, tail(c.stderr.String(), 40))
}

func newClient(t *testing.T, addr string) *redis.Client {
	c := redistest.NewClient(addr, 0)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// requireSameData waits until the replica has caught up with the primary
// and compares their digests (database 0 holds all the test's data).
func requireSameData(t *testing.T, ctx context.Context, primary, rep *redis.Client) *redistest.DigestReport {
	t.Helper()
	require.NoError(t, redistest.WaitCaughtUp(ctx, primary, rep))
	equal, want, got, err := redistest.Compare(ctx, primary, rep, []int{0})
	require.NoError(t, err)
	require.True(t, equal, "digests differ:\nprimary %v\nreplica %v\n%v", want, got, want.Diff(got, 20))
	return want
}

// replInfo reads one INFO section of c into a map.
func replInfo(t *testing.T, ctx context.Context, c *redis.Client, section string) map[string]string {
	t.Helper()
	text, err := c.Info(ctx, section).Result()
	require.NoError(t, err)
	m, err := redistest.ParseInfo(text)
	require.NoError(t, err)
	return m
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err, "%q", s)
	return n
}

// savedState is what the state dir says after a crash, read by the parent
// with the child dead: the cursor, and the snapshot it names, loaded.
type savedState struct {
	cursor  store.Cursor
	ok      bool
	ks      *keyspace.Keyspace
	info    rdb.Info
	pending []store.Milestone
	files   []string
}

func readState(t *testing.T, dir string) savedState {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(dir, replica.StateFileName), store.BoltOptions{})
	require.NoError(t, err, "the state file is healthy after a SIGKILL")
	defer st.Close()
	var s savedState
	s.cursor, s.ok, err = st.LoadCursor("redis/shard/0")
	require.NoError(t, err)
	s.pending, err = st.PendingMilestones(0, 1000)
	require.NoError(t, err)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		s.files = append(s.files, e.Name())
	}
	if !s.ok {
		return s
	}
	b, err := os.ReadFile(filepath.Join(dir, s.cursor.File))
	require.NoError(t, err, "the cursor names a file that exists")
	s.ks, s.info, err = rdb.LoadBytes(b, clock.New())
	require.NoError(t, err, "the file the cursor names loads")
	require.Equal(t, s.cursor.ID, s.info.ReplID, "snapshot and cursor agree on the replication id")
	require.Equal(t, s.cursor.Offset, s.info.ReplOffset, "snapshot and cursor agree on the offset")
	return s
}

// TestCrashBeforeDelivery: the child is killed after its first milestones
// are durable in the outbox but before the sink is called. Restarted on
// the same state dir, it replays them: the receiver gets every milestone of
// both runs exactly once, in order, and the data equals the primary's.
func TestCrashBeforeDelivery(t *testing.T) {
	testCrashAroundDelivery(t, failpoint.OutboxBeforeDeliver, 1)
}

// TestCrashAfterDeliveryBeforeAck: the child is killed after the sink
// accepted the first milestone but before the ack was recorded. Restarted,
// it delivers that milestone again (at least once); the idempotent
// receiver keeps it once.
func TestCrashAfterDeliveryBeforeAck(t *testing.T) {
	testCrashAroundDelivery(t, failpoint.OutboxAfterDeliver, 2)
}

func testCrashAroundDelivery(t *testing.T, point string, firstDeliveries int) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*waitLimit)
	defer cancel()
	p := redistest.Start(t, redistest.Options{Name: "primary", Args: primaryArgs})
	pc := p.Client()
	require.NoError(t, redistest.FillAllTypes(ctx, pc, "pre", 100))
	recv := milestonetest.New(t)
	dir := t.TempDir()
	opts := childOpts{Primary: p.Addr(), StateDir: dir, NotifyURL: recv.URL()}

	c1 := startChild(t, "child 1", opts, point)
	c1.waitKilled(point, waitLimit)
	before := readState(t, dir)
	require.NotEmpty(t, before.pending, "the milestones are in the store")
	t.Logf("after the crash: %d milestones pending, cursor saved %t %+v, files %v", len(before.pending), before.ok, before.cursor, before.files)
	switch point {
	case failpoint.OutboxBeforeDeliver:
		assert.Empty(t, recv.Attempts(), "killed before the first delivery")
	case failpoint.OutboxAfterDeliver:
		require.Len(t, recv.Unique(), 1, "the sink got the first milestone")
		assert.Equal(t, before.pending[0].Key, recv.Unique()[0].Key, "it is still pending: the ack was not recorded")
	}

	c2 := startChild(t, "child 2", opts, "")
	ready := c2.ready(waitLimit)
	assert.Equal(t, before.ok, ready.Restored)
	rc := newClient(t, ready.Addr)
	requireSameData(t, ctx, pc, rc)
	redistest.RequireEventually(t, waitLimit, "everything delivered", func(ctx context.Context) error {
		info := replInfo(t, ctx, rc, "replsm")
		if info["outbox_pending"] != "0" || len(recv.Unique()) < len(before.pending)+1 {
			return fmt.Errorf("pending %s, %d delivered", info["outbox_pending"], len(recv.Unique()))
		}
		return nil
	})
	c2.stop(waitLimit)

	got := recv.Unique()
	keys := map[string]bool{}
	for i, m := range got {
		keys[m.Key] = true
		if i > 0 {
			assert.Less(t, got[i-1].Seq, got[i].Seq, "in creation order")
		}
	}
	for i, m := range before.pending {
		assert.True(t, keys[m.Key], "milestone %s of the crashed run reached the sink", m.Key)
		want := 1
		if i == 0 {
			want = firstDeliveries
		}
		assert.Equal(t, want, recv.Deliveries(m.Key), "deliveries of %s", m.Key)
		assert.True(t, strings.HasPrefix(m.Key, "inc/1/"), m.Key)
	}
	assert.Equal(t, milestone.KindFullSyncCompleted, got[0].Kind)
	var second []string
	for _, m := range got[len(before.pending):] {
		assert.True(t, strings.HasPrefix(m.Key, "inc/2/"), m.Key)
		assert.Equal(t, 1, recv.Deliveries(m.Key))
		second = append(second, m.Kind)
	}
	if before.ok {
		assert.Equal(t, []string{milestone.KindShardConnected}, second, "restored: +CONTINUE, no second full sync")
	} else {
		assert.Equal(t, []string{milestone.KindFullSyncCompleted, milestone.KindShardConnected}, second)
	}
	assert.Equal(t, len(got)+firstDeliveries-1, recv.Accepted())
	t.Logf("receiver: %d unique milestones, %d accepted deliveries, %d attempts", len(got), recv.Accepted(), len(recv.Attempts()))
}

// load writes one step after another to the primary, each step one
// MULTI/EXEC of RPUSH log <i> and SET k:<i> <i>, so any consistent state
// is "log = 1..j and exactly k:1..k:j" for some j.
type load struct {
	c    *redis.Client
	next int
}

func (l *load) step(ctx context.Context) error {
	i := strconv.Itoa(l.next + 1)
	_, err := l.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, "log", i)
		p.Set(ctx, "k:"+i, i, 0)
		return nil
	})
	if err == nil {
		l.next++
	}
	return err
}

// checkPrefix asserts that ks holds the state after exactly j steps for
// some j and returns j.
func checkPrefix(t *testing.T, ks *keyspace.Keyspace, pre int) int {
	t.Helper()
	db := 0
	res, err := ks.Exec(&db, [][]byte{[]byte("LRANGE"), []byte("log"), []byte("0"), []byte("-1")})
	require.NoError(t, err)
	j := len(res.Reply.Array)
	for i, v := range res.Reply.Array {
		require.Equal(t, strconv.Itoa(i+1), string(v.Str), "log is 1..%d without a gap", j)
	}
	keys := 0
	require.NoError(t, ks.Each(func(db int, key string, v keyspace.Value, _ int64) error {
		switch {
		case strings.HasPrefix(key, "k:"):
			n, err := strconv.Atoi(key[2:])
			require.NoError(t, err)
			require.True(t, n >= 1 && n <= j, "k:%d outside 1..%d: a half-applied step", n, j)
			keys++
		case strings.HasPrefix(key, "pre:"):
		case key == "log":
		default:
			t.Fatalf("unexpected key %q", key)
		}
		return nil
	}))
	require.Equal(t, j, keys, "exactly k:1..k:%d", j)
	require.Equal(t, pre+j+min(j, 1), ks.Len(), "pre keys, k keys and the log")
	return j
}

// TestCrashMidStream: the child is killed while the primary streams to it
// (after a command was applied but before the cursor moved past it), and
// while a snapshot is between its temporary and final name, and between
// its rename and the cursor that names it. Every time, the state dir holds
// a cursor and a snapshot that agree, with data that is a prefix of the
// writes with nothing half-applied; the restarted child loads it, resumes
// with +CONTINUE (the primary counts no new full sync), removes the stray
// file, and ends with the primary's data.
func TestCrashMidStream(t *testing.T) {
	for _, point := range []string{failpoint.StreamApply + "=3000", failpoint.SnapshotBeforeRename + "=4", failpoint.SnapshotBeforeCursor + "=4"} {
		t.Run(point, func(t *testing.T) {
			name, _, _ := strings.Cut(point, "=")
			ctx, cancel := context.WithTimeout(context.Background(), 4*waitLimit)
			defer cancel()
			p := redistest.Start(t, redistest.Options{Name: "primary", Args: primaryArgs})
			pc := p.Client()
			const pre = 100
			for i := 0; i < pre; i++ {
				require.NoError(t, pc.Set(ctx, fmt.Sprintf("pre:%d", i), i, 0).Err())
			}
			recv := milestonetest.New(t)
			dir := t.TempDir()
			// A snapshot every ~4 KiB of stream: about every 50 steps.
			opts := childOpts{Primary: p.Addr(), StateDir: dir, NotifyURL: recv.URL(), SnapshotBytes: 4 << 10}

			c1 := startChild(t, "child 1", opts, point)
			r1 := c1.ready(waitLimit)
			rc1 := newClient(t, r1.Addr)
			requireSameData(t, ctx, pc, rc1)

			// Write until the failpoint fires (bounded).
			l := &load{c: pc}
			const maxSteps = 20000
			for l.next < maxSteps {
				require.NoError(t, l.step(ctx))
				select {
				case <-c1.done:
				default:
					continue
				}
				break
			}
			c1.waitKilled(name, waitLimit)
			fullBefore := atoi(t, replInfo(t, ctx, pc, "stats")["sync_full"])
			partialBefore := atoi(t, replInfo(t, ctx, pc, "stats")["sync_partial_ok"])
			require.Equal(t, 1, fullBefore)

			// What a restart will find: consistent, with nothing half-applied.
			saved := readState(t, dir)
			require.True(t, saved.ok, "the full sync's snapshot was saved before the crash")
			j := checkPrefix(t, saved.ks, pre)
			assert.LessOrEqual(t, j, l.next)
			primaryOff := atoi(t, replInfo(t, ctx, pc, "replication")["master_repl_offset"])
			assert.LessOrEqual(t, saved.cursor.Offset, int64(primaryOff))
			t.Logf("killed after %d steps; saved snapshot %s at offset %d holds %d steps (primary at %d); files %v",
				l.next, saved.cursor.File, saved.cursor.Offset, j, primaryOff, saved.files)
			stray := ""
			for _, f := range saved.files {
				if f != saved.cursor.File && regexp.MustCompile(`^shard-0\.\d+\.rdb(\.tmp)?$`).MatchString(f) {
					stray = f
				}
			}
			if name != failpoint.StreamApply {
				require.NotEmpty(t, stray, "the crash left a snapshot file the store does not name")
			}

			// A few more writes while it is down, then restart.
			for range 50 {
				require.NoError(t, l.step(ctx))
			}
			c2 := startChild(t, "child 2", opts, "")
			r2 := c2.ready(waitLimit)
			assert.True(t, r2.Restored)
			assert.Equal(t, saved.cursor.ID, r2.ReplID)
			assert.Equal(t, saved.cursor.Offset, r2.Offset)
			assert.Equal(t, saved.cursor.DB, r2.DB)
			assert.Equal(t, saved.ks.Len(), r2.Keys, "the child loaded what the state dir holds")
			if stray != "" {
				assert.NoFileExists(t, filepath.Join(dir, stray), "the stray file was removed at start")
			}
			rc2 := newClient(t, r2.Addr)
			requireSameData(t, ctx, pc, rc2)
			for range 50 {
				require.NoError(t, l.step(ctx))
			}
			requireSameData(t, ctx, pc, rc2)
			info := replInfo(t, ctx, rc2, "replication")
			assert.Equal(t, "0", info["replsm_full_syncs"])
			assert.Equal(t, "1", info["replsm_partial_syncs"])
			stats := replInfo(t, ctx, pc, "stats")
			assert.Equal(t, fullBefore, atoi(t, stats["sync_full"]), "no full sync after the crash")
			assert.Equal(t, partialBefore+1, atoi(t, stats["sync_partial_ok"]), "one partial resync")
			c2.stop(waitLimit)

			after := readState(t, dir)
			require.True(t, after.ok)
			assert.Equal(t, l.next, checkPrefix(t, after.ks, pre), "the snapshot at Close holds every step")
		})
	}
}
