package replica

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/redis/rdb"
	"github.com/replsm/replsm/slot"
	"github.com/replsm/replsm/store"
)

// Durable state (Config.StateDir) against real redis-server primaries:
// restart with +CONTINUE, restart after the primary lost its data,
// unusable snapshots, corrupt store files and unusable directories.

// logBuffer collects a replica's log for assertions while the test's own
// output still gets it.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
	w  io.Writer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	return l.w.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// durableConfig is testConfig with a state dir, snapshots every 200 ms of
// streaming, and the log also kept in the returned buffer.
func durableConfig(t testing.TB, shards map[slot.ID]string, dir string) (Config, *logBuffer) {
	cfg := testConfig(t, shards)
	cfg.StateDir = dir
	cfg.SnapshotInterval = 200 * time.Millisecond
	cfg.SnapshotBytes = 0
	logs := &logBuffer{w: t.Output()}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return cfg, logs
}

// newReplica is New with the test failing on error; the caller starts and
// closes it (a restart test closes one replica before it opens the next).
func newReplica(t testing.TB, cfg Config) *Replica {
	t.Helper()
	r, err := New(cfg, clock.New())
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// primaryStats reads sync_full and sync_partial_ok from the primary.
func primaryStats(t testing.TB, ctx context.Context, c *redis.Client) (full, partial int) {
	t.Helper()
	text, err := c.Info(ctx, "stats").Result()
	require.NoError(t, err)
	info, err := redistest.ParseInfo(text)
	require.NoError(t, err)
	full, err = strconv.Atoi(info["sync_full"])
	require.NoError(t, err)
	partial, err = strconv.Atoi(info["sync_partial_ok"])
	require.NoError(t, err)
	return full, partial
}

// syncedAndSaved starts r, waits until shard 0 has synced and its durable
// snapshot has caught up with its cursor, and returns that cursor.
func syncedAndSaved(t testing.TB, ctx context.Context, r *Replica, primary *redis.Client) Cursor {
	t.Helper()
	require.NoError(t, r.Instance().WaitSynced(ctx))
	requireSameDigest(t, ctx, primary, shardClient(t, r, 0))
	var cur Cursor
	redistest.RequireEventually(t, 20*time.Second, "snapshot caught up", func(context.Context) error {
		st, err := r.Stats(0)
		if err != nil {
			return err
		}
		// Pings move the cursor without a write; a snapshot at or after the
		// last write is what counts, and the next one comes with new writes.
		if st.Durable.ReplID != st.Cursor.ReplID || st.Snapshots == 0 {
			return fmt.Errorf("durable %+v, cursor %+v, snapshots %d, err %v", st.Durable, st.Cursor, st.Snapshots, st.SnapshotError)
		}
		cur = st.Durable
		return nil
	})
	return cur
}

// TestRestartResumesWithContinue: a replica closed cleanly and started again
// on the same state dir loads its snapshot and cursor and resumes with
// +CONTINUE from the primary's backlog: the primary counts no new full
// sync, the shard none either, and the data, including writes made while it
// was down into the database the stream had selected (which the backlog
// does not SELECT again), equals the primary's.
func TestRestartResumesWithContinue(t *testing.T) {
	ctx := testCtx(t, 90*time.Second)
	p := startPrimary(t, "primary")
	pc := p.Client()
	db3 := p.ClientDB(redistest.FillSecondDB)
	require.NoError(t, redistest.FillAllTypes(ctx, pc, "pre", 200))
	dir := t.TempDir()

	cfg, _ := durableConfig(t, map[slot.ID]string{0: p.Addr()}, dir)
	r1 := newReplica(t, cfg)
	require.NoError(t, r1.Start())
	syncedAndSaved(t, ctx, r1, pc)
	require.NoError(t, redistest.FillAllTypes(ctx, pc, "mid", 200))
	// The last write before the stop goes to database 3.
	require.NoError(t, db3.Set(ctx, "last-before-stop", "x", 0).Err())
	requireSameDigest(t, ctx, pc, shardClient(t, r1, 0))
	require.NoError(t, r1.Close())
	// Read after Close: a ping from the primary may still have moved the
	// cursor just before it.
	atClose, err := r1.Stats(0)
	require.NoError(t, err)
	require.Equal(t, redistest.FillSecondDB, atClose.Cursor.DB)
	require.Equal(t, atClose.Cursor, atClose.Durable, "Close saved a snapshot at the last applied byte")
	fullBefore, partialBefore := primaryStats(t, ctx, pc)

	// While the replica is down: more writes, first in database 3 with no
	// SELECT in the backlog, then everything else.
	require.NoError(t, db3.Set(ctx, "written-while-down", "y", 0).Err())
	require.NoError(t, redistest.FillAllTypes(ctx, pc, "gap", 200))

	cfg2, logs := durableConfig(t, map[slot.ID]string{0: p.Addr()}, dir)
	r2 := newReplica(t, cfg2)
	st, err := r2.Stats(0)
	require.NoError(t, err)
	assert.True(t, st.Restored)
	assert.Equal(t, atClose.Cursor, st.Cursor, "the final snapshot at Close is at the last applied byte")
	assert.Equal(t, atClose.Cursor, st.Durable)
	assert.Equal(t, atClose.Keys, st.Keys, "the snapshot holds what the replica had")
	assert.Contains(t, logs.String(), "shard restored from its snapshot")

	require.NoError(t, r2.Start())
	require.NoError(t, r2.Instance().WaitSynced(ctx))
	requireSameDigest(t, ctx, pc, shardClient(t, r2, 0))
	st = waitSyncCounts(t, r2, 0, 0, 1)
	fullAfter, partialAfter := primaryStats(t, ctx, pc)
	assert.Equal(t, fullBefore, fullAfter, "no full sync on the primary")
	assert.Equal(t, partialBefore+1, partialAfter, "one partial resync on the primary")
	t.Logf("primary sync_full %d -> %d, sync_partial_ok %d -> %d", fullBefore, fullAfter, partialBefore, partialAfter)

	text, err := shardClient(t, r2, 0).Info(ctx, "replsm").Result()
	require.NoError(t, err)
	assert.Contains(t, text, "state_dir:"+dir)
	assert.Contains(t, text, "shard0_snapshot:replid="+st.Cursor.ReplID)
	assert.Contains(t, text, "restored=1")
}

// TestRestartAfterPrimaryRestartedEmpty: the replica restarts with its
// snapshot, but the primary meanwhile restarted without persistence (new
// replication id, new data): PSYNC gets +FULLRESYNC and the replica ends
// with exactly the new data.
func TestRestartAfterPrimaryRestartedEmpty(t *testing.T) {
	ctx := testCtx(t, 90*time.Second)
	p := startPrimary(t, "primary")
	pc := p.Client()
	require.NoError(t, redistest.FillAllTypes(ctx, pc, "old", 200))
	dir := t.TempDir()
	cfg, _ := durableConfig(t, map[slot.ID]string{0: p.Addr()}, dir)
	r1 := newReplica(t, cfg)
	require.NoError(t, r1.Start())
	saved := syncedAndSaved(t, ctx, r1, pc)
	require.NoError(t, r1.Close())

	p.Restart()
	require.NoError(t, redistest.FillAllTypes(ctx, pc, "new", 150))
	cfg2, _ := durableConfig(t, map[slot.ID]string{0: p.Addr()}, dir)
	r2 := newReplica(t, cfg2)
	st, err := r2.Stats(0)
	require.NoError(t, err)
	require.True(t, st.Restored)
	require.Equal(t, saved.ReplID, st.Cursor.ReplID)
	require.NoError(t, r2.Start())
	redistest.RequireEventually(t, 30*time.Second, "full sync from the restarted primary", func(context.Context) error {
		if st, _ := r2.Stats(0); st.FullSyncs != 1 || st.State != slot.Connected {
			return fmt.Errorf("full syncs %d, state %s", st.FullSyncs, st.State)
		}
		return nil
	})
	rc := shardClient(t, r2, 0)
	requireSameDigest(t, ctx, pc, rc)
	n, err := rc.Exists(ctx, "old:s:0").Result()
	require.NoError(t, err)
	assert.Zero(t, n, "the old primary's data is gone")
	st, err = r2.Stats(0)
	require.NoError(t, err)
	assert.NotEqual(t, saved.ReplID, st.Cursor.ReplID)
	// The snapshot after the full sync replaces the old one on disk.
	redistest.RequireEventually(t, 10*time.Second, "new snapshot", func(context.Context) error {
		if st, _ := r2.Stats(0); st.Durable.ReplID != st.Cursor.ReplID {
			return fmt.Errorf("durable %+v", st.Durable)
		}
		return nil
	})
	require.NoError(t, r2.Close())
	assert.Len(t, snapshotFiles(t, dir), 1, "the old snapshot file was removed")
}

// waitSyncCounts waits until shard id counts exactly full full syncs and
// partial partial ones (a counter moves just after the slot's transition)
// and returns its stats.
func waitSyncCounts(t testing.TB, r *Replica, id slot.ID, full, partial uint64) ShardStats {
	t.Helper()
	var st ShardStats
	redistest.RequireEventually(t, 5*time.Second, "sync counters", func(context.Context) error {
		var err error
		if st, err = r.Stats(id); err != nil {
			return err
		}
		if st.FullSyncs != full || st.PartialSyncs != partial {
			return fmt.Errorf("shard %d: %d full and %d partial syncs, want %d and %d", id, st.FullSyncs, st.PartialSyncs, full, partial)
		}
		return nil
	})
	return st
}

// snapshotFiles lists the shard snapshot files in dir.
func snapshotFiles(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if snapshotName.MatchString(e.Name()) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// TestRestartWithUnusableSnapshot: a snapshot that is missing, corrupt,
// truncated or does not match its cursor is not loaded: the shard starts
// empty, the log says why, and a full sync brings it back in line.
func TestRestartWithUnusableSnapshot(t *testing.T) {
	ctx := testCtx(t, 120*time.Second)
	p := startPrimary(t, "primary")
	pc := p.Client()
	require.NoError(t, redistest.FillAllTypes(ctx, pc, "pre", 150))

	cases := []struct {
		name   string
		damage func(t *testing.T, dir string, c store.Cursor)
		why    string
	}{
		{"missing file", func(t *testing.T, dir string, c store.Cursor) {
			require.NoError(t, os.Remove(filepath.Join(dir, c.File)))
		}, "no such file"},
		{"flipped byte", func(t *testing.T, dir string, c store.Cursor) {
			path := filepath.Join(dir, c.File)
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			b[len(b)/2] ^= 0x55
			require.NoError(t, os.WriteFile(path, b, 0o600))
		}, "load snapshot"},
		{"truncated file", func(t *testing.T, dir string, c store.Cursor) {
			path := filepath.Join(dir, c.File)
			fi, err := os.Stat(path)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(path, fi.Size()/3))
		}, "load snapshot"},
		{"cursor past the snapshot", func(t *testing.T, dir string, c store.Cursor) {
			st, err := store.OpenBolt(filepath.Join(dir, StateFileName), store.BoltOptions{})
			require.NoError(t, err)
			c.Offset += 100
			require.NoError(t, st.SaveCursors(map[string]store.Cursor{cursorKey(0): c}))
			require.NoError(t, st.Close())
		}, "the saved cursor at replid"},
		{"cursor names a foreign file", func(t *testing.T, dir string, c store.Cursor) {
			st, err := store.OpenBolt(filepath.Join(dir, StateFileName), store.BoltOptions{})
			require.NoError(t, err)
			c.File = "../etc/passwd"
			require.NoError(t, st.SaveCursors(map[string]store.Cursor{cursorKey(0): c}))
			require.NoError(t, st.Close())
		}, "not a snapshot file of this package"},
		{"cursor names another shard's file", func(t *testing.T, dir string, c store.Cursor) {
			st, err := store.OpenBolt(filepath.Join(dir, StateFileName), store.BoltOptions{})
			require.NoError(t, err)
			c.File = "shard-1.1.rdb"
			require.NoError(t, st.SaveCursors(map[string]store.Cursor{cursorKey(0): c}))
			require.NoError(t, st.Close())
		}, "a snapshot of another shard"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg, _ := durableConfig(t, map[slot.ID]string{0: p.Addr()}, dir)
			r1 := newReplica(t, cfg)
			require.NoError(t, r1.Start())
			syncedAndSaved(t, ctx, r1, pc)
			require.NoError(t, r1.Close())
			c := readCursor(t, dir, 0)
			tc.damage(t, dir, c)

			full, _ := primaryStats(t, ctx, pc)
			cfg2, logs := durableConfig(t, map[slot.ID]string{0: p.Addr()}, dir)
			r2 := newReplica(t, cfg2)
			st, err := r2.Stats(0)
			require.NoError(t, err)
			assert.False(t, st.Restored)
			assert.False(t, st.Cursor.Valid())
			assert.Zero(t, st.Keys)
			out := logs.String()
			assert.Contains(t, out, "shard snapshot not usable; the shard starts empty and does a full sync")
			assert.Contains(t, out, tc.why)
			require.NoError(t, r2.Start())
			require.NoError(t, r2.Instance().WaitSynced(ctx))
			requireSameDigest(t, ctx, pc, shardClient(t, r2, 0))
			st, err = r2.Stats(0)
			require.NoError(t, err)
			assert.Equal(t, uint64(1), st.FullSyncs)
			full2, _ := primaryStats(t, ctx, pc)
			assert.Equal(t, full+1, full2)
		})
	}
}

func readCursor(t testing.TB, dir string, id int) store.Cursor {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(dir, StateFileName), store.BoltOptions{})
	require.NoError(t, err)
	defer st.Close()
	c, ok, err := st.LoadCursor(cursorKey(id))
	require.NoError(t, err)
	require.True(t, ok)
	return c
}

// TestRestartRefusesCorruptStore: a state file that is garbage or truncated
// stops New with the store's error, which names the file and says what to
// do; the file and the snapshots beside it are left exactly as they were.
func TestRestartRefusesCorruptStore(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	p := startPrimary(t, "primary")
	require.NoError(t, redistest.FillAllTypes(ctx, p.Client(), "pre", 50))
	dir := t.TempDir()
	cfg, _ := durableConfig(t, map[slot.ID]string{0: p.Addr()}, dir)
	r := newReplica(t, cfg)
	require.NoError(t, r.Start())
	syncedAndSaved(t, ctx, r, p.Client())
	require.NoError(t, r.Close())
	path := filepath.Join(dir, StateFileName)
	good, err := os.ReadFile(path)
	require.NoError(t, err)

	for name, bad := range map[string][]byte{
		"garbage":   bytes.Repeat([]byte("not a bbolt file "), 500),
		"truncated": good[:len(good)/2],
		"empty":     {},
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(path, bad, 0o600))
			before := dirDigest(t, dir)
			cfg, _ := durableConfig(t, map[slot.ID]string{0: p.Addr()}, dir)
			_, err := New(cfg, clock.New())
			require.ErrorIs(t, err, store.ErrCorruptStore)
			assert.Contains(t, err.Error(), path)
			assert.Contains(t, err.Error(), "move the file aside")
			assert.Equal(t, before, dirDigest(t, dir), "nothing in the state dir changed")
			t.Log(err)
		})
	}
}

// dirDigest hashes the names and contents of every file in dir.
func dirDigest(t testing.TB, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	h := sha256.New()
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		fmt.Fprintf(h, "%s %d\n", e.Name(), len(b))
		h.Write(b)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestRestartUnusableStateDir: a missing directory, a regular file, a path
// under a regular file, and a state file locked by a running replica are
// refused by New with a message naming the path. (A read-only directory is
// checked as a non-root user in TestRestartReadOnlyStateDir.)
func TestRestartUnusableStateDir(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "a-file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	for name, tc := range map[string]struct {
		dir  string
		want string
	}{
		"missing":         {filepath.Join(base, "nope"), "does not exist"},
		"regular file":    {file, "is not a directory"},
		"under a file":    {filepath.Join(file, "state"), "not a directory"},
		"empty component": {filepath.Join(base, "nope", "deeper"), "does not exist"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t, map[slot.ID]string{0: "127.0.0.1:1"})
			cfg.StateDir = tc.dir
			_, err := New(cfg, clock.New())
			require.ErrorIs(t, err, ErrStateDir)
			assert.Contains(t, err.Error(), tc.dir)
			assert.Contains(t, err.Error(), tc.want)
			t.Log(err)
		})
	}
	t.Run("locked by another replica", func(t *testing.T) {
		dir := t.TempDir()
		cfg := testConfig(t, map[slot.ID]string{0: "127.0.0.1:1"})
		cfg.StateDir = dir
		a := newReplica(t, cfg)
		_, err := New(cfg, clock.New())
		require.ErrorIs(t, err, store.ErrStoreLocked)
		assert.Contains(t, err.Error(), filepath.Join(dir, StateFileName))
		assert.Contains(t, err.Error(), "another server")
		require.NoError(t, a.Close())
	})
}

// TestRestartNoStrayFiles: temporary and unreferenced snapshot files (left
// by a crash between writing a snapshot and recording its cursor) are
// removed at start; the referenced one and unrelated files stay.
func TestRestartNoStrayFiles(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	p := startPrimary(t, "primary")
	require.NoError(t, redistest.FillAllTypes(ctx, p.Client(), "pre", 50))
	dir := t.TempDir()
	cfg, _ := durableConfig(t, map[slot.ID]string{0: p.Addr()}, dir)
	r := newReplica(t, cfg)
	require.NoError(t, r.Start())
	syncedAndSaved(t, ctx, r, p.Client())
	require.NoError(t, r.Close())
	c := readCursor(t, dir, 0)
	for _, name := range []string{"shard-0.999.rdb", "shard-0.1000.rdb.tmp", "shard-7.1.rdb", "notes.txt", ".replsm-probe-123"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600))
	}
	cfg2, logs := durableConfig(t, map[slot.ID]string{0: p.Addr()}, dir)
	r2 := newReplica(t, cfg2)
	st, err := r2.Stats(0)
	require.NoError(t, err)
	assert.True(t, st.Restored)
	assert.Equal(t, []string{c.File, "shard-7.1.rdb"}, snapshotFiles(t, dir), "shard 7 is not configured: its file stays")
	assert.FileExists(t, filepath.Join(dir, "notes.txt"))
	assert.NoFileExists(t, filepath.Join(dir, ".replsm-probe-123"))
	assert.Contains(t, logs.String(), "removed a snapshot file the store does not name")
	require.NoError(t, r2.Close())
}

// TestRestartSnapshotRDBIsRedisReadable: the snapshot file is a plain RDB
// whose aux fields carry the cursor.
func TestRestartSnapshotRDBIsRedisReadable(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	p := startPrimary(t, "primary")
	require.NoError(t, redistest.FillAllTypes(ctx, p.Client(), "pre", 100))
	dir := t.TempDir()
	cfg, _ := durableConfig(t, map[slot.ID]string{0: p.Addr()}, dir)
	r := newReplica(t, cfg)
	require.NoError(t, r.Start())
	syncedAndSaved(t, ctx, r, p.Client())
	st, err := r.Stats(0)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	c := readCursor(t, dir, 0)
	b, err := os.ReadFile(filepath.Join(dir, c.File))
	require.NoError(t, err)
	_, info, err := rdb.LoadBytes(b, clock.New())
	require.NoError(t, err)
	assert.Equal(t, c.ID, info.ReplID)
	assert.Equal(t, c.Offset, info.ReplOffset)
	assert.Equal(t, st.Keys, info.Keys)
	assert.True(t, strings.HasPrefix(c.File, "shard-0."))
}

// TestRestartTwoShardsOneDamaged: shards are restored independently: with
// one shard's snapshot gone, that shard does a full sync while the other
// resumes with +CONTINUE.
func TestRestartTwoShardsOneDamaged(t *testing.T) {
	ctx := testCtx(t, 90*time.Second)
	p0, p1 := startPrimary(t, "primary0"), startPrimary(t, "primary1")
	require.NoError(t, redistest.FillAllTypes(ctx, p0.Client(), "a", 100))
	require.NoError(t, redistest.FillAllTypes(ctx, p1.Client(), "b", 100))
	shards := map[slot.ID]string{0: p0.Addr(), 1: p1.Addr()}
	dir := t.TempDir()
	cfg, _ := durableConfig(t, shards, dir)
	r1 := newReplica(t, cfg)
	require.NoError(t, r1.Start())
	require.NoError(t, r1.Instance().WaitSynced(ctx))
	requireSameDigest(t, ctx, p0.Client(), shardClient(t, r1, 0))
	requireSameDigest(t, ctx, p1.Client(), shardClient(t, r1, 1))
	require.NoError(t, r1.Close())
	require.NoError(t, os.Remove(filepath.Join(dir, readCursor(t, dir, 1).File)))

	require.NoError(t, redistest.FillAllTypes(ctx, p0.Client(), "a2", 50))
	require.NoError(t, redistest.FillAllTypes(ctx, p1.Client(), "b2", 50))
	cfg2, _ := durableConfig(t, shards, dir)
	r2 := newReplica(t, cfg2)
	require.NoError(t, r2.Start())
	require.NoError(t, r2.Instance().WaitSynced(ctx))
	requireSameDigest(t, ctx, p0.Client(), shardClient(t, r2, 0))
	requireSameDigest(t, ctx, p1.Client(), shardClient(t, r2, 1))
	assert.True(t, waitSyncCounts(t, r2, 0, 0, 1).Restored)
	assert.False(t, waitSyncCounts(t, r2, 1, 1, 0).Restored)
	require.NoError(t, r2.Close())
}
