package replica

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/internal/failpoint"
	"github.com/replsm/replsm/redis/keyspace"
	"github.com/replsm/replsm/redis/rdb"
	"github.com/replsm/replsm/store"
)

// Durable replica state (Config.StateDir), Redis style: a shard's cursor is
// only worth something together with the data it stands on, and the data
// lives in memory. So the two are made durable together:
//
//  1. On the shard's session goroutine, between two stream values (where
//     the keyspace holds exactly what the cursor says), a copy-on-write
//     keyspace.Snapshot is taken with the cursor. That is O(keys) and does
//     no I/O.
//  2. The snapshot writer goroutine writes it as an RDB (aux repl-id and
//     repl-offset = the cursor) to shard-<id>.<gen>.rdb.tmp, fsyncs it,
//     renames it to shard-<id>.<gen>.rdb and fsyncs the directory.
//  3. Only then is the cursor {replication id, offset, database, file}
//     saved in the store (one fsync'ed bbolt transaction), and the
//     previous snapshot file removed.
//
// One writer goroutine serves every shard, one snapshot at a time, and a
// shard never has more than one snapshot waiting or being written: the
// disk cost is bounded by one snapshot in flight per replica, and the
// stream pays only the O(keys) capture.
//
// A crash anywhere leaves the store naming a complete file whose data is
// exactly the data at the stored offset: the cursor never points past data
// that is durable. Files the store does not name (a snapshot renamed but
// not yet recorded, a temporary file) are removed at the next start.
//
// On start each shard loads the file its cursor names and checks it (the
// RDB loads, its repl-id and repl-offset equal the cursor). A shard whose
// snapshot is missing or does not match starts empty with no cursor, so
// its first sync is a full one, and the log says why. A store file that is
// corrupt or unreadable stops New with the store's error: nothing is
// guessed and nothing is overwritten.

// StateFileName is the store file inside Config.StateDir.
const StateFileName = "replsm.db"

// snapshotName matches the files this package writes into the state dir.
var snapshotName = regexp.MustCompile(`^shard-(\d+)\.(\d+)\.rdb(\.tmp)?$`)

// probePattern names the file New writes to check the state dir.
const probePattern = ".replsm-probe-*"

// probeSize is written and synced by the probe: enough to need a block, so a
// full file system fails the probe rather than the first snapshot.
const probeSize = 4096

// cursorKey is the store slot holding shard id's cursor.
func cursorKey(id int) string { return "redis/shard/" + strconv.Itoa(id) }

// persist is a shard's snapshot bookkeeping. The trigger fields are
// atomics: the session goroutine and its ticker read them on every value
// and tick. The rest is guarded by mu.
type persist struct {
	due         atomic.Bool  // the time trigger fired; the session takes a snapshot at the next value
	since       atomic.Int64 // stream bytes applied since the last snapshot was taken
	lastTaken   atomic.Int64 // UnixNano (replica clock) when the last snapshot was taken
	appliedMark atomic.Uint64

	mu        sync.Mutex
	pending   *snapJob // taken, waiting for the writer; a newer one replaces it
	writing   bool     // the writer is writing one
	saved     Cursor   // what the store's cursor says, once it was checked or written; zero: nothing usable
	file      string   // the file the store's cursor names ("" when none)
	gen       uint64   // the last generation used in a file name
	snapshots uint64
	lastErr   error
	restored  bool
}

// snapJob is a snapshot taken and the cursor its data stands at.
type snapJob struct {
	snap *keyspace.Snapshot
	cur  Cursor
}

// durable is the replica's state dir: the store, the snapshot writer and
// the restore at start.
type durable struct {
	dir      string
	st       *store.Bolt
	clk      clock.Clock
	log      *slog.Logger
	interval time.Duration
	bytes    int64
	shards   []*shard

	wake chan struct{} // capacity 1: "a snapshot is pending"
	stop chan struct{}
	wg   sync.WaitGroup

	runMu   sync.Mutex
	running bool
}

// openDurable checks dir, opens the store in it and returns the durable
// state. It restores nothing yet (restore does, once the shards exist).
func openDurable(cfg Config, clk clock.Clock, log *slog.Logger) (*durable, error) {
	dir := cfg.StateDir
	if err := probeDir(dir); err != nil {
		return nil, err
	}
	st, err := store.OpenBolt(filepath.Join(dir, StateFileName), store.BoltOptions{})
	if err != nil {
		// The store's message names the file and says what to do.
		return nil, fmt.Errorf("redis replica: open state: %w", err)
	}
	return &durable{
		dir: dir, st: st, clk: clk, log: log,
		interval: cfg.SnapshotInterval, bytes: cfg.SnapshotBytes,
		wake: make(chan struct{}, 1), stop: make(chan struct{}),
	}, nil
}

// probeDir checks that dir exists, is a directory and takes a synced write.
func probeDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %s does not exist (create it, or point StateDir elsewhere)", ErrStateDir, dir)
	case err != nil:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is in our message already
		}
		return fmt.Errorf("%w: %s: %v", ErrStateDir, dir, err)
	case !fi.IsDir():
		return fmt.Errorf("%w: %s is not a directory", ErrStateDir, dir)
	}
	f, err := os.CreateTemp(dir, probePattern)
	if err != nil {
		return fmt.Errorf("%w: %s is not writable by this process: %v", ErrStateDir, dir, err)
	}
	name := f.Name()
	_, werr := f.Write(make([]byte, probeSize))
	serr := f.Sync()
	cerr := f.Close()
	rerr := os.Remove(name)
	if err := errors.Join(werr, serr, cerr, rerr); err != nil {
		return fmt.Errorf("%w: %s: a %d-byte probe write failed (full or read-only file system?): %v", ErrStateDir, dir, probeSize, err)
	}
	return nil
}

// restore loads every shard's snapshot and cursor, then removes snapshot
// files the store does not name. Only store errors are returned: a shard
// whose snapshot is unusable starts empty.
func (d *durable) restore(shards []*shard) error {
	d.shards = shards
	now := d.clk.Now().UnixNano()
	referenced := map[string]bool{}
	for _, sh := range shards {
		sh.persist.lastTaken.Store(now)
		c, ok, err := d.st.LoadCursor(cursorKey(int(sh.id)))
		if err != nil {
			return fmt.Errorf("redis replica: read the cursor of shard %d: %w", sh.id, err)
		}
		if !ok {
			d.log.Info("no saved state for shard; its first sync is a full one", slog.String("id", sh.id.String()))
			continue
		}
		if c.File != "" {
			referenced[c.File] = true
			sh.persist.file = c.File
		}
		keys, err := d.load(sh, c)
		if err != nil {
			d.log.Warn("shard snapshot not usable; the shard starts empty and does a full sync",
				slog.String("id", sh.id.String()), slog.String("dir", d.dir), slog.String("why", err.Error()))
			continue
		}
		d.log.Info("shard restored from its snapshot; it resumes with PSYNC from the cursor",
			slog.String("id", sh.id.String()), slog.String("file", c.File), slog.Int("keys", keys),
			slog.String("replid", c.ID), slog.Int64("offset", c.Offset), slog.Int("db", c.DB))
	}
	d.removeStray(shards, referenced)
	return nil
}

// load checks and loads the snapshot c names into sh.
func (d *durable) load(sh *shard, c store.Cursor) (keys int, err error) {
	switch {
	case c.File == "":
		return 0, fmt.Errorf("the saved cursor (replid %q, offset %d) names no snapshot file", c.ID, c.Offset)
	case filepath.Base(c.File) != c.File || !snapshotName.MatchString(c.File) || snapshotName.FindStringSubmatch(c.File)[3] != "":
		return 0, fmt.Errorf("the saved cursor names %q, which is not a snapshot file of this package", c.File)
	case snapshotName.FindStringSubmatch(c.File)[1] != strconv.Itoa(int(sh.id)):
		return 0, fmt.Errorf("the saved cursor names %q, a snapshot of another shard", c.File)
	case len(c.ID) != replIDLen:
		return 0, fmt.Errorf("the saved cursor's replication id %q is not %d characters", c.ID, replIDLen)
	case c.Offset < 0:
		return 0, fmt.Errorf("the saved cursor's offset %d is negative", c.Offset)
	case c.DB < 0 || c.DB >= keyspace.NumDBs:
		return 0, fmt.Errorf("the saved cursor's database %d is out of range", c.DB)
	}
	path := filepath.Join(d.dir, c.File)
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read snapshot: %w", err)
	}
	// Streamed: the file is never held in memory beside the keyspace.
	loaded, info, err := rdb.Load(f, d.clk)
	f.Close()
	if err != nil {
		return 0, fmt.Errorf("load snapshot %s: %w", path, err)
	}
	if info.ReplID != c.ID || info.ReplOffset != c.Offset {
		return 0, fmt.Errorf("snapshot %s is at replid %q offset %d, the saved cursor at replid %q offset %d",
			path, info.ReplID, info.ReplOffset, c.ID, c.Offset)
	}
	sh.ks.ReplaceWith(loaded)
	cur := Cursor{ReplID: c.ID, Offset: c.Offset, DB: c.DB}
	sh.mu.Lock()
	sh.cur = cur
	sh.mu.Unlock()
	sh.persist.mu.Lock()
	sh.persist.saved = cur
	sh.persist.restored = true
	sh.persist.mu.Unlock()
	return info.Keys, nil
}

// removeStray deletes snapshot and probe files the store does not name, and
// notes the highest generation seen per shard so new names never reuse
// one. Files of shards not configured now are left alone: their cursors are
// still in the store.
func (d *durable) removeStray(shards []*shard, referenced map[string]bool) {
	byID := map[int]*shard{}
	for _, sh := range shards {
		byID[int(sh.id)] = sh
	}
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		d.log.Warn("cannot list the state dir; stray files stay", slog.String("dir", d.dir), slog.String("err", err.Error()))
		return
	}
	for _, e := range entries {
		name := e.Name()
		if ok, _ := filepath.Match(probePattern, name); ok {
			_ = os.Remove(filepath.Join(d.dir, name))
			continue
		}
		m := snapshotName.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		id, err1 := strconv.Atoi(m[1])
		gen, err2 := strconv.ParseUint(m[2], 10, 64)
		sh := byID[id]
		if err1 != nil || err2 != nil || sh == nil {
			continue
		}
		sh.persist.gen = max(sh.persist.gen, gen)
		if referenced[name] {
			continue
		}
		if err := os.Remove(filepath.Join(d.dir, name)); err != nil {
			d.log.Warn("cannot remove a stray snapshot file", slog.String("file", name), slog.String("err", err.Error()))
			continue
		}
		d.log.Info("removed a snapshot file the store does not name (left by a crash)", slog.String("file", name))
	}
}

// start launches the snapshot writer.
func (d *durable) start() {
	d.runMu.Lock()
	defer d.runMu.Unlock()
	if d.running {
		return
	}
	d.running = true
	d.wg.Add(1)
	go d.run()
}

// stopWriter stops the writer after the snapshot it is writing, if any.
// Snapshots still waiting are dropped: Close takes fresh ones.
func (d *durable) stopWriter() {
	d.runMu.Lock()
	defer d.runMu.Unlock()
	if !d.running {
		return
	}
	d.running = false
	close(d.stop)
	d.wg.Wait()
}

func (d *durable) run() {
	defer d.wg.Done()
	for {
		select {
		case <-d.stop:
			return
		case <-d.wake:
		}
		for _, sh := range d.shards {
			select {
			case <-d.stop:
				return
			default:
			}
			p := &sh.persist
			p.mu.Lock()
			job := p.pending
			p.pending = nil
			p.writing = job != nil
			p.mu.Unlock()
			if job != nil {
				_ = d.write(sh, job) // logged and kept in the shard's stats
				p.mu.Lock()
				p.writing = false
				p.mu.Unlock()
			}
		}
	}
}

// streamed is called by the session after every stream value it applied
// (n bytes). It takes a snapshot when one is due and none is in the works.
// The keyspace holds exactly what the shard's cursor says at this point.
func (d *durable) streamed(sh *shard, n int64) {
	p := &sh.persist
	since := p.since.Add(n)
	if !p.due.Load() && (d.bytes <= 0 || since < d.bytes) {
		return
	}
	d.take(sh, false)
}

// tick runs on the session's ticker: it marks a snapshot due once the
// interval has passed since the last one and write commands were applied.
func (d *durable) tick(sh *shard, now time.Time) {
	p := &sh.persist
	if p.due.Load() || sh.applied.Load() == p.appliedMark.Load() {
		return
	}
	if now.Sub(timeOf(p.lastTaken.Load())) >= d.interval {
		p.due.Store(true)
	}
}

// take snapshots sh's keyspace with its cursor and queues it for the
// writer. Unless force is set (after a full sync: the old snapshot is of
// other data), nothing is taken while the shard already has one waiting or
// being written: then the trigger stays set and the next value tries again.
func (d *durable) take(sh *shard, force bool) {
	p := &sh.persist
	p.mu.Lock()
	defer p.mu.Unlock()
	if !force && (p.pending != nil || p.writing) {
		return
	}
	cur := sh.cursor()
	if !cur.Valid() {
		return
	}
	p.pending = &snapJob{snap: sh.ks.Snapshot(), cur: cur}
	p.due.Store(false)
	p.since.Store(0)
	p.lastTaken.Store(d.clk.Now().UnixNano())
	p.appliedMark.Store(sh.applied.Load())
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// final takes and writes, in the caller's goroutine, a snapshot of every
// shard whose data moved past its saved cursor. It runs in Close, after
// the sessions and the writer have stopped, so nothing writes the
// keyspaces meanwhile.
func (d *durable) final() error {
	var errs []error
	for _, sh := range d.shards {
		p := &sh.persist
		cur := sh.cursor()
		p.mu.Lock()
		p.pending = nil
		saved := p.saved
		p.mu.Unlock()
		if !cur.Valid() || cur == saved {
			continue
		}
		if err := d.write(sh, &snapJob{snap: sh.ks.Snapshot(), cur: cur}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// write makes job durable: RDB to a temporary file, fsync, rename, fsync
// the directory, then the cursor naming it in the store, then the previous
// file goes. On any error the previous snapshot and cursor stay in effect.
func (d *durable) write(sh *shard, job *snapJob) (err error) {
	p := &sh.persist
	p.mu.Lock()
	p.gen++
	gen, prev := p.gen, p.file
	p.mu.Unlock()
	start := d.clk.Now()
	name := "shard-" + strconv.Itoa(int(sh.id)) + "." + strconv.FormatUint(gen, 10) + ".rdb"
	path := filepath.Join(d.dir, name)
	defer func() {
		p.mu.Lock()
		p.lastErr = err
		if err == nil {
			p.snapshots++
			p.saved, p.file = job.cur, name
		}
		p.mu.Unlock()
		if err != nil {
			d.log.Error("shard snapshot failed; the previous snapshot and cursor stay in effect",
				slog.String("id", sh.id.String()), slog.String("file", path), slog.String("err", err.Error()))
		}
	}()
	size, err := writeFileSynced(path+".tmp", func(f *os.File) error {
		return rdb.Write(f, job.snap, job.cur.ReplID, job.cur.Offset)
	})
	if err != nil {
		_ = os.Remove(path + ".tmp")
		return fmt.Errorf("write snapshot: %w", err)
	}
	failpoint.Hit(failpoint.SnapshotBeforeRename)
	if err := os.Rename(path+".tmp", path); err != nil {
		_ = os.Remove(path + ".tmp")
		return fmt.Errorf("rename snapshot: %w", err)
	}
	if err := syncDir(d.dir); err != nil {
		// The rename may not be durable: the store must not name the file.
		_ = os.Remove(path)
		return fmt.Errorf("sync state dir after renaming the snapshot: %w", err)
	}
	failpoint.Hit(failpoint.SnapshotBeforeCursor)
	c := store.Cursor{ID: job.cur.ReplID, Offset: job.cur.Offset, DB: job.cur.DB, File: name}
	if err := d.st.SaveCursors(map[string]store.Cursor{cursorKey(int(sh.id)): c}); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("save cursor: %w", err)
	}
	if prev != "" && prev != name {
		// Not synced: a crash that resurrects it leaves a stray file, which
		// the next start removes.
		if err := os.Remove(filepath.Join(d.dir, prev)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			d.log.Warn("cannot remove the previous snapshot", slog.String("file", prev), slog.String("err", err.Error()))
		}
	}
	d.log.Info("shard snapshot saved", slog.String("id", sh.id.String()), slog.String("file", name),
		slog.Int("keys", job.snap.Len()), slog.Int64("bytes", size), slog.Int64("offset", job.cur.Offset),
		slog.Duration("took", d.clk.Since(start)))
	return nil
}

// writeFileSynced creates path (which must not exist), fills it with fill,
// fsyncs and closes it, and returns its size.
func writeFileSynced(path string, fill func(*os.File) error) (int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	err = fill(f)
	if err == nil {
		err = f.Sync()
	}
	var size int64
	if err == nil {
		var fi os.FileInfo
		if fi, err = f.Stat(); err == nil {
			size = fi.Size()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return size, err
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// persistStats fills the snapshot fields of a shard's stats.
func (p *persist) stats(out *ShardStats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out.Durable, out.Snapshots, out.SnapshotError, out.Restored = p.saved, p.snapshots, p.lastErr, p.restored
}
