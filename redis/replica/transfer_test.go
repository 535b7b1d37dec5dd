package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/redis/keyspace"
	"github.com/replsm/replsm/redis/rdb"
	"github.com/replsm/replsm/slot"
)

// Transfer tests: the payload and the stream that follows it are read at
// the speed they arrive while the snapshot loads (transfer.go). The load
// is held by a gate, not slowed by sleeps.

// loadGate replaces loadRDB for one test: every load reads its whole
// input, reports it on loaded, and waits for release (or for its spool to
// be closed, which is how a session that gave up stops it).
type loadGate struct {
	loaded  chan struct{}
	release chan struct{}
	once    sync.Once
}

func holdLoads(t *testing.T) *loadGate {
	g := &loadGate{loaded: make(chan struct{}, 16), release: make(chan struct{})}
	loadRDB = func(r io.Reader, opts rdb.LoadOptions) (*keyspace.Keyspace, rdb.Info, error) {
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, rdb.Info{}, err
		}
		g.loaded <- struct{}{}
		select {
		case <-g.release:
		case <-r.(*spool).closedCh():
			return nil, rdb.Info{}, errSpoolClosed
		}
		return rdb.LoadWith(bytes.NewReader(b), opts)
	}
	t.Cleanup(func() {
		g.open()
		loadRDB = rdb.LoadWith
	})
	return g
}

func (g *loadGate) waitLoaded(t *testing.T) {
	t.Helper()
	select {
	case <-g.loaded:
	case <-time.After(30 * time.Second):
		t.Fatal("no load reached the gate in 30s")
	}
}

func (g *loadGate) open() { g.once.Do(func() { close(g.release) }) }

// spools records the spools of every transfer.
type spools struct {
	mu   sync.Mutex
	list [][2]*spool
}

func watchSpools(t *testing.T) *spools {
	w := &spools{}
	testHookSpools = func(snap, stream *spool) {
		w.mu.Lock()
		w.list = append(w.list, [2]*spool{snap, stream})
		w.mu.Unlock()
	}
	t.Cleanup(func() { testHookSpools = nil })
	return w
}

// last returns the newest transfer's snapshot and stream spools.
func (w *spools) last(t *testing.T) (snap, stream *spool) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	require.NotEmpty(t, w.list, "no transfer started")
	l := w.list[len(w.list)-1]
	return l[0], l[1]
}

// spoolConfig is fakeConfig with tiny spools in their own directory.
func spoolConfig(t *testing.T, ep string, log *recordLog) (Config, string) {
	cfg := fakeConfig(t, ep, log)
	cfg.SpoolDir = t.TempDir()
	cfg.SpoolMemory = 1 << 10
	return cfg, cfg.SpoolDir
}

func requireNoSpoolFiles(t *testing.T, dir string) {
	t.Helper()
	redistest.RequireEventually(t, 30*time.Second, "spool files removed", func(context.Context) error {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		if len(ents) > 0 {
			return fmt.Errorf("%d files left, first %s", len(ents), ents[0].Name())
		}
		return nil
	})
}

// TestTransferStreamReadWhileLoadIsHeld: the stream after the end mark is
// read (into a spool that spills to a file) while the load is held; the
// old data and cursor stay as they were, GETACK waits; once the load is in,
// the spooled stream applies in order with exact offsets, GETACK included,
// and live streaming carries on.
func TestTransferStreamReadWhileLoadIsHeld(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	gate := holdLoads(t)
	w := watchSpools(t)
	f := newFakePrimary(t)
	cfg, dir := spoolConfig(t, f.addr(), nil)
	r := startReplica(t, cfg)

	fc := f.next()
	fc.handshake()
	big := strings.Repeat("v", 10<<10) // the payload spills past SpoolMemory too
	fc.send("+FULLRESYNC " + replID1 + " 1000\r\n" + payload(rdbOf(t, "base", big)))
	fc.expect("REPLCONF", "ACK", "1000") // at the end mark, before the load
	gate.waitLoaded(t)

	var stream strings.Builder
	for i := 0; i < 200; i++ {
		stream.WriteString(cmd("SET", fmt.Sprintf("k%d", i), fmt.Sprint(i)))
	}
	stream.WriteString(cmd("SELECT", "1") + cmd("SET", "k", "db1"))
	beforeAck := int64(stream.Len())
	getack := cmd("REPLCONF", "GETACK", "*")
	stream.WriteString(getack)
	tailCmd := cmd("SET", "k", "db1-again")
	stream.WriteString(tailCmd)
	fc.send(stream.String())

	_, sp := w.last(t)
	redistest.RequireEventually(t, 30*time.Second, "stream spooled while the load is held", func(context.Context) error {
		if n := sp.Len(); n != int64(stream.Len()) {
			return fmt.Errorf("%d of %d bytes spooled", n, stream.Len())
		}
		return nil
	})
	assert.NotEmpty(t, sp.filePath(), "past SpoolMemory the stream is in a file")
	assert.FileExists(t, sp.filePath())
	assert.LessOrEqual(t, sp.peak(), cfg.SpoolMemory)
	cur, err := r.Cursor(0)
	require.NoError(t, err)
	assert.Equal(t, Cursor{}, cur, "nothing of a snapshot still loading is visible")
	st, _ := r.Stats(0)
	assert.Equal(t, slot.WaitDBSync, st.State)
	u := unionClient(t, r)
	assert.Zero(t, u.Exists(ctx, "base").Val())

	gate.open()
	fc.expect("REPLCONF", "ACK", itoa(1000+beforeAck)) // the spooled GETACK, in order
	end := 1000 + int64(stream.Len())
	redistest.RequireEventually(t, 30*time.Second, "spooled stream applied", func(context.Context) error {
		if cur, _ := r.Cursor(0); cur.Offset != end {
			return fmt.Errorf("offset %d, want %d", cur.Offset, end)
		}
		return nil
	})
	cur, _ = r.Cursor(0)
	assert.Equal(t, Cursor{ReplID: replID1, Offset: end, DB: 1}, cur)
	assert.Equal(t, big, u.Get(ctx, "base").Val())
	assert.Equal(t, "199", u.Get(ctx, "k199").Val())
	c1 := redistest.NewClient(r.Addr(), 1)
	t.Cleanup(func() { _ = c1.Close() })
	assert.Equal(t, "db1-again", c1.Get(ctx, "k").Val())
	requireNoSpoolFiles(t, dir)

	// Live streaming goes on behind the spool.
	live := cmd("SET", "live", "1")
	fc.send(live + getack)
	fc.expect("REPLCONF", "ACK", itoa(end+int64(len(live))))
	st, _ = r.Stats(0)
	assert.Equal(t, uint64(1), st.FullSyncs)
	assert.Equal(t, slot.Connected, st.State)
}

// TestTransferAcksSnapshotOffsetWhileLoading: from the end mark until the
// stream's first bytes the ACK repeats every StreamStartAckPeriod with
// the offset of the snapshot being loaded, not the old cursor's; a Redis
// 7.0 primary starts streaming only on such an ACK. (Real clock: every
// ACK the test may see says 7, so their timing does not matter.)
func TestTransferAcksSnapshotOffsetWhileLoading(t *testing.T) {
	gate := holdLoads(t)
	gate.open() // the first sync loads at once
	f := newFakePrimary(t)
	cfg := fakeConfig(t, f.addr(), nil)
	cfg.AckPeriod = time.Hour
	cfg.StreamStartAckPeriod = 20 * time.Millisecond
	r := startReplica(t, cfg)

	fc := f.next()
	fc.handshake()
	fc.send("+FULLRESYNC " + replID1 + " 500\r\n" + payload(emptyRDB))
	fc.expect("REPLCONF", "ACK", "500")
	waitState(t, r, 0, slot.Connected, 10*time.Second)
	fc.send(cmd("PING"))
	redistest.RequireEventually(t, 10*time.Second, "ping applied", func(context.Context) error {
		if cur, _ := r.Cursor(0); cur.Offset == 500 {
			return errors.New("not yet")
		}
		return nil
	})

	// A new full sync whose load is held.
	gate2 := holdLoads(t)
	fc.close()
	fc = f.next()
	fc.handshake()
	fc.send("+FULLRESYNC " + replID2 + " 7\r\n" + payload(emptyRDB))
	fc.expect("REPLCONF", "ACK", "7")
	gate2.waitLoaded(t)
	for i := 0; i < 3; i++ { // the fast ticker's, whenever they come
		fc.expect("REPLCONF", "ACK", "7")
	}
	cur, _ := r.Cursor(0)
	assert.Equal(t, replID1, cur.ReplID, "the old cursor stands while loading")
	gate2.open()
	waitState(t, r, 0, slot.Connected, 10*time.Second)
	getack := cmd("REPLCONF", "GETACK", "*")
	fc.send(getack)
	fc.expect("REPLCONF", "ACK", "7")
}

// TestTransferStreamSpoolCeiling: a stream that passes MaxStreamSpool while
// the snapshot loads fails the sync with ErrSpoolFull, the reason on the
// slot's failure; the load is stopped, the old data stays, the files go.
func TestTransferStreamSpoolCeiling(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	gate := holdLoads(t)
	gate.open()
	f := newFakePrimary(t)
	log := &recordLog{}
	cfg, dir := spoolConfig(t, f.addr(), log)
	cfg.MaxStreamSpool = 8 << 10
	r := startReplica(t, cfg)
	fc := f.next()
	fc.handshake()
	fc.send("+FULLRESYNC " + replID1 + " 0\r\n" + payload(rdbOf(t, "old", "1")))
	fc.expect("REPLCONF", "ACK", "0")
	waitState(t, r, 0, slot.Connected, 10*time.Second)

	gate2 := holdLoads(t)
	fc.close()
	fc = f.next()
	fc.handshake()
	fc.send("+FULLRESYNC " + replID2 + " 0\r\n" + payload(rdbOf(t, "new", "2")))
	fc.expect("REPLCONF", "ACK", "0")
	gate2.waitLoaded(t)
	fc.send(strings.Repeat(cmd("SET", "x", strings.Repeat("y", 1000)), 10))

	rec := waitFail(t, log, 2)
	assert.Contains(t, rec.Reason, "spool limit exceeded")
	assert.Contains(t, rec.Reason, "the stream would pass 8192 bytes")
	st, _ := r.Stats(0)
	assert.ErrorIs(t, st.LastFailure, ErrSpoolFull)
	requireNoSpoolFiles(t, dir)
	u := unionClient(t, r)
	assert.Equal(t, "1", u.Get(ctx, "old").Val(), "the old data stays")
	assert.Zero(t, u.Exists(ctx, "new").Val())
	cur, _ := r.Cursor(0)
	assert.Equal(t, replID1, cur.ReplID)
}

// TestTransferHostilePayload: a forged snapshot cannot make the replica
// hold more than SpoolMemory of it: a preamble announcing 10^12 bytes over
// MaxPayload fails at once; an EOF-marked payload (a value declared as
// 10^9 bytes, then filler) fails when it passes MaxPayload, having held
// at most SpoolMemory in memory; without a ceiling the filler goes to the
// spool file, which is removed when the transfer fails.
func TestTransferHostilePayload(t *testing.T) {
	mark := strings.Repeat("m", rdb.EOFMarkLen)
	// RDB header, a string key "k" whose value claims 10^9 bytes
	// (0x80 + 32-bit length), then filler.
	forged := "REDIS0010" + "\x00" + "\x01k" + "\x80\x3b\x9a\xca\x00"
	filler := strings.Repeat("f", 64<<10)
	tests := []struct {
		name       string
		maxPayload int64
		maxValue   int64
		send       func(fc *fakeConn)
		want       []string
		wantErr    error
	}{
		{"announced over the ceiling", 1 << 30, 0, func(fc *fakeConn) { fc.send("$1000000000000\r\n") },
			[]string{"1000000000000 bytes announced, limit 1073741824"}, rdb.ErrTooLarge},
		{"eof-marked over the ceiling", 1 << 20, 0, func(fc *fakeConn) {
			fc.send("$EOF:" + mark + "\r\n" + forged)
			for i := 0; i < 32; i++ { // 2 MiB: past the ceiling
				if _, err := fc.c.Write([]byte(filler)); err != nil {
					return // the replica gave up, as it should
				}
			}
		}, []string{"spool limit exceeded", "the snapshot would pass 1048576 bytes"}, ErrSpoolFull},
		// The whole forged payload arrives; the loader refuses the value
		// (over Redis's 512 MB, the default) before allocating it.
		{"value over the default MaxValue", 0, 0, func(fc *fakeConn) {
			fc.send("$EOF:" + mark + "\r\n" + forged + filler + mark)
		}, []string{"load snapshot"}, rdb.ErrValueTooLarge},
		{"value over a configured MaxValue", 0, 1000, func(fc *fakeConn) {
			fc.send("$EOF:" + mark + "\r\n" + "REDIS0010" + "\x00" + "\x01k" + "\x44\x00" + strings.Repeat("v", 256) + mark)
		}, []string{"load snapshot"}, rdb.ErrValueTooLarge},
		{"no ceiling: cut short", 0, 0, func(fc *fakeConn) {
			fc.send("$EOF:" + mark + "\r\n" + forged)
			for i := 0; i < 32; i++ {
				fc.send(filler)
			}
			fc.close()
		}, []string{"receive snapshot", "without its EOF mark"}, rdb.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := watchSpools(t)
			f := newFakePrimary(t)
			log := &recordLog{}
			cfg, dir := spoolConfig(t, f.addr(), log)
			cfg.SpoolMemory = 64 << 10
			cfg.MaxPayload, cfg.MaxValue = tt.maxPayload, tt.maxValue
			cfg.SlotConfig.RecoveryCap = 1
			r := startReplica(t, cfg)
			fc := f.next()
			fc.handshake()
			fc.send("+FULLRESYNC " + replID1 + " 0\r\n")
			tt.send(fc)
			rec := waitFail(t, log, 1)
			for _, s := range tt.want {
				assert.Contains(t, rec.Reason, s)
			}
			st, _ := r.Stats(0)
			assert.ErrorIs(t, st.LastFailure, tt.wantErr)
			snap, _ := w.last(t)
			assert.LessOrEqual(t, snap.peak(), cfg.SpoolMemory, "memory held of the payload")
			requireNoSpoolFiles(t, dir)
			assert.Equal(t, Cursor{}, st.Cursor)
		})
	}
}

// TestTransferCloseDuringLoadRemovesSpools: Close while a snapshot loads
// (its stream spooled to a file) stops the loader and removes the files.
func TestTransferCloseDuringLoadRemovesSpools(t *testing.T) {
	gate := holdLoads(t)
	w := watchSpools(t)
	f := newFakePrimary(t)
	cfg, dir := spoolConfig(t, f.addr(), nil)
	r, err := New(cfg, clock.New())
	require.NoError(t, err)
	require.NoError(t, r.Start())
	fc := f.next()
	fc.handshake()
	fc.send("+FULLRESYNC " + replID1 + " 0\r\n" + payload(rdbOf(t, "k", strings.Repeat("v", 4<<10))))
	fc.expect("REPLCONF", "ACK", "0")
	gate.waitLoaded(t)
	stream := strings.Repeat(cmd("SET", "a", "b"), 200)
	fc.send(stream)
	_, sp := w.last(t)
	redistest.RequireEventually(t, 30*time.Second, "stream spooled", func(context.Context) error {
		if sp.Len() != int64(len(stream)) {
			return fmt.Errorf("%d bytes", sp.Len())
		}
		return nil
	})
	require.NotEmpty(t, sp.filePath())

	done := make(chan error, 1)
	go func() { done <- r.Close() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return while a load was held")
	}
	requireNoSpoolFiles(t, dir)
	assert.True(t, fc.eof())
}
