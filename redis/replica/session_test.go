package replica

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/redis/rdb"
	"github.com/replsm/replsm/slot"
)

// Session tests against a scripted primary: the protocol facts a real
// primary does not produce on demand.

var replID1 = strings.Repeat("1", 40)
var replID2 = strings.Repeat("2", 40)

// fakeConfig: no periodic ACKs or read timeout getting in the way of the
// script unless a test asks for them.
func fakeConfig(t testing.TB, ep string, log *recordLog) Config {
	cfg := testConfig(t, map[slot.ID]string{0: ep})
	cfg.AckPeriod = time.Hour
	cfg.StreamStartAckPeriod = time.Hour
	cfg.ReadTimeout = time.Hour
	cfg.SlotConfig.KeepaliveTimeout = time.Minute
	cfg.SlotConfig.TransferIdleTimeout = time.Minute
	cfg.SlotConfig.ReplyTimeout = 10 * time.Second
	if log != nil {
		cfg.Observers = append(cfg.Observers, log.observe)
	}
	return cfg
}

// waitFail waits for shard 0's n-th failure record and returns it.
func waitFail(t testing.TB, log *recordLog, n int) slot.Record {
	t.Helper()
	var rec slot.Record
	redistest.RequireEventually(t, 15*time.Second, "slot failure", func(context.Context) error {
		recs := log.find(0, slot.EvFail)
		if len(recs) < n {
			return fmt.Errorf("%d failures so far", len(recs))
		}
		rec = recs[n-1]
		return nil
	})
	return rec
}

func TestSessionFullSyncStreamGetAckAndContinue(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	f := newFakePrimary(t)
	r := startReplica(t, fakeConfig(t, f.addr(), nil))

	fc := f.next()
	assert.Equal(t, []string{"PSYNC", "?", "-1"}, fc.handshake())
	// Keepalives before the reply and before the payload are skipped.
	fc.send("\n\n+FULLRESYNC " + replID1 + " 1000\r\n\n\n" + payload(emptyRDB))
	fc.expect("REPLCONF", "ACK", "1000") // at once: a diskless primary waits for it

	sel, set, getack := cmd("SELECT", "2"), cmd("SET", "k", "v"), cmd("REPLCONF", "GETACK", "*")
	fc.send(sel + set + getack)
	fc.expect("REPLCONF", "ACK", itoa(int64(1000+len(sel)+len(set))))
	waitState(t, r, 0, slot.Connected, 5*time.Second)

	u := unionClient(t, r)
	c2 := redistest.NewClient(r.Addr(), 2)
	t.Cleanup(func() { _ = c2.Close() })
	assert.Equal(t, "v", c2.Get(ctx, "k").Val())
	cur, err := r.Cursor(0)
	require.NoError(t, err)
	end := int64(1000 + len(sel+set+getack))
	assert.Equal(t, Cursor{ReplID: replID1, Offset: end, DB: 2}, cur)

	// The link drops; the replica asks for offset+1 under its id, the
	// primary continues under a new id, and the stream goes on in db 2
	// without a new SELECT.
	fc.close()
	fc = f.next()
	assert.Equal(t, []string{"PSYNC", replID1, itoa(end + 1)}, fc.handshake())
	fc.send("+CONTINUE " + replID2 + "\r\n" + cmd("SET", "k2", "v2") + cmd("REPLCONF", "GETACK", "*"))
	fc.expect("REPLCONF", "ACK", itoa(end+int64(len(cmd("SET", "k2", "v2")))))
	assert.Equal(t, "v2", c2.Get(ctx, "k2").Val())
	cur, _ = r.Cursor(0)
	assert.Equal(t, replID2, cur.ReplID)
	st, _ := r.Stats(0)
	assert.Equal(t, uint64(1), st.FullSyncs)
	assert.Equal(t, uint64(1), st.PartialSyncs)
	assert.Equal(t, uint64(2), st.Applied)
	_ = u
}

func TestSessionPeriodicAck(t *testing.T) {
	f := newFakePrimary(t)
	cfg := fakeConfig(t, f.addr(), nil)
	cfg.AckPeriod = 50 * time.Millisecond
	startReplica(t, cfg)
	fc := f.next()
	fc.handshake()
	fc.send("+FULLRESYNC " + replID1 + " 7\r\n" + payload(emptyRDB))
	for i := 0; i < 3; i++ { // the first is the post-load ACK, then the ticker's
		fc.expect("REPLCONF", "ACK", "7")
	}
}

func TestSessionFailureReasons(t *testing.T) {
	tests := []struct {
		name  string
		ping  string // PING reply; "" for +PONG
		psync string // PSYNC reply
		want  string // in the failure reason
	}{
		{"noauth", "-NOAUTH Authentication required.\r\n", "", "PING: -NOAUTH Authentication required."},
		{"err", "", "-ERR something\r\n", "PSYNC: -ERR something"},
		{"short id", "", "+FULLRESYNC abc 0\r\n", "replication id has 3 chars, want 40"},
		{"long id", "", "+FULLRESYNC " + replID1 + "0 0\r\n", "replication id has 41 chars"},
		{"bad offset", "", "+FULLRESYNC " + replID1 + " x1\r\n", `offset "x1" is not a non-negative integer`},
		{"negative offset", "", "+FULLRESYNC " + replID1 + " -5\r\n", "not a non-negative integer"},
		{"missing offset", "", "+FULLRESYNC " + replID1 + "\r\n", "want +FULLRESYNC <replid> <offset>"},
		{"bad continue", "", "+CONTINUE short\r\n", "want +CONTINUE [<40-char replid>]"},
		{"unexpected", "", "+WHATEVER\r\n", `unexpected PSYNC reply "+WHATEVER"`},
		{"not a line", "", ":1\r\n", "PSYNC answered with a integer"},
		{"eof", "", "", "PSYNC: read reply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakePrimary(t)
			log := &recordLog{}
			cfg := fakeConfig(t, f.addr(), log)
			cfg.SlotConfig.RecoveryCap = 1
			startReplica(t, cfg)
			fc := f.next()
			fc.expect("PING")
			if tt.ping != "" {
				fc.send(tt.ping)
			} else {
				fc.send("+PONG\r\n")
				fc.read()
				fc.send("+OK\r\n")
				fc.read()
				fc.send("-ERR unknown capa\r\n") // tolerated, as Redis does
				fc.read()
				if tt.psync == "" {
					fc.close()
				} else {
					fc.send(tt.psync)
				}
			}
			rec := waitFail(t, log, 1)
			assert.Contains(t, rec.Reason, tt.want)
			assert.True(t, fc.eof(), "the failed session's connection is closed")
		})
	}
}

func TestSessionCorruptSnapshotKeepsOldData(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	f := newFakePrimary(t)
	log := &recordLog{}
	r := startReplica(t, fakeConfig(t, f.addr(), log))
	fc := f.next()
	fc.handshake()
	fc.send("+FULLRESYNC " + replID1 + " 0\r\n" + payload(rdbOf(t, "old", "1")))
	fc.expect("REPLCONF", "ACK", "0") // at the end mark: the load may still run
	waitState(t, r, 0, slot.Connected, 5*time.Second)
	u := unionClient(t, r)
	assert.Equal(t, "1", u.Get(ctx, "old").Val())

	fc.close()
	fc = f.next()
	fc.handshake()
	good := rdbOf(t, "new", "2")
	bad := good[:len(good)-1] + string(good[len(good)-1]^0xff) // checksum mismatch
	fc.send("+FULLRESYNC " + replID2 + " 50\r\n" + payload(bad))
	rec := waitFail(t, log, 2)
	assert.Contains(t, rec.Reason, "load snapshot")
	st, _ := r.Stats(0)
	assert.ErrorIs(t, st.LastFailure, rdb.ErrCorrupt)
	assert.Equal(t, "1", u.Get(ctx, "old").Val(), "a failed load leaves the old data")
	assert.Zero(t, u.Exists(ctx, "new").Val())
	cur, _ := r.Cursor(0)
	assert.Equal(t, Cursor{ReplID: replID1, Offset: 0}, cur)

	// A transfer cut half way is no different.
	fc = f.next()
	fc.handshake()
	fc.send("+FULLRESYNC " + replID2 + " 50\r\n" + payload(good)[:20])
	fc.close()
	rec = waitFail(t, log, 3)
	assert.Contains(t, rec.Reason, "receive snapshot")
	assert.Zero(t, u.Exists(ctx, "new").Val())
}

// TestSessionUnknownCommandIsSkippedNotResynced: a command this replica
// cannot apply is skipped and reported (counter, INFO); the shard keeps
// streaming on the same session instead of looping through full syncs.
func TestSessionUnknownCommandIsSkippedNotResynced(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	f := newFakePrimary(t)
	log := &recordLog{}
	r := startReplica(t, fakeConfig(t, f.addr(), log))
	fc := f.next()
	fc.handshake()
	fc.send("+FULLRESYNC " + replID1 + " 0\r\n" + payload(emptyRDB))
	fc.expect("REPLCONF", "ACK", "0")
	fc.send(cmd("SET", "a", "1") + cmd("FROBNICATE", "s", "*", "f", "v") + cmd("SET", "b", "2") + cmd("FROBNICATE", "again"))
	u := unionClient(t, r)
	redistest.RequireEventually(t, 5*time.Second, "SET b applied", func(ctx context.Context) error {
		if u.Get(ctx, "b").Val() != "2" {
			return errors.New("b not set yet")
		}
		return nil
	})
	st, err := r.Stats(0)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), st.Unapplied)
	assert.Contains(t, st.LastUnapplied, `"FROBNICATE" at offset`)
	assert.Contains(t, st.LastUnapplied, "not a write command this replica can apply")
	assert.Equal(t, slot.Connected, st.State)
	assert.Equal(t, uint64(1), st.Sessions)
	info, err := u.Info(ctx, "replication").Result()
	require.NoError(t, err)
	assert.Contains(t, info, "replsm_unapplied_commands:2\r\n")
	assert.Contains(t, info, "replsm_last_unapplied:")
	assert.Equal(t, "1", u.Get(ctx, "a").Val())
}

func TestSessionCutInsideTransactionResendsIt(t *testing.T) {
	f := newFakePrimary(t)
	r := startReplica(t, fakeConfig(t, f.addr(), nil))
	fc := f.next()
	fc.handshake()
	fc.send("+FULLRESYNC " + replID1 + " 0\r\n" + payload(emptyRDB))
	fc.expect("REPLCONF", "ACK", "0")
	set := cmd("SET", "a", "1")
	fc.send(set + cmd("MULTI") + cmd("SET", "b", "2"))
	redistest.RequireEventually(t, 5*time.Second, "SET applied", func(context.Context) error {
		if cur, _ := r.Cursor(0); cur.Offset != int64(len(set)) {
			return fmt.Errorf("offset %d", cur.Offset)
		}
		return nil
	})
	fc.close()
	fc = f.next()
	assert.Equal(t, []string{"PSYNC", replID1, itoa(int64(len(set)) + 1)}, fc.handshake(),
		"the open transaction is asked for again, from its MULTI")
}

func TestSessionReadTimeout(t *testing.T) {
	f := newFakePrimary(t)
	log := &recordLog{}
	cfg := fakeConfig(t, f.addr(), log)
	cfg.AckPeriod = 50 * time.Millisecond
	cfg.ReadTimeout = 300 * time.Millisecond
	r := startReplica(t, cfg)
	fc := f.next()
	fc.handshake()
	fc.send("+CONTINUE\r\n") // no cursor yet, but a primary may say so: the replica streams
	rec := waitFail(t, log, 1)
	assert.Contains(t, rec.Reason, "read timeout: nothing from "+f.addr())
	st, _ := r.Stats(0)
	assert.ErrorIs(t, st.LastFailure, ErrReadTimeout)
}

func TestSessionStopsWhenSlotLeavesIt(t *testing.T) {
	f := newFakePrimary(t)
	log := &recordLog{}
	cfg := fakeConfig(t, f.addr(), log)
	cfg.SlotConfig.ReplyTimeout = 200 * time.Millisecond
	startReplica(t, cfg)
	fc := f.next()
	fc.handshake() // and never answer the PSYNC
	redistest.RequireEventually(t, 5*time.Second, "reply timeout", func(context.Context) error {
		if len(log.find(0, slot.EvReplyTimeout)) == 0 {
			return errors.New("not yet")
		}
		return nil
	})
	assert.True(t, fc.eof(), "the abandoned session's connection is closed")
	// A late reply on the old connection cannot reach the slot; the next
	// session is a new connection.
	fc2 := f.next()
	fc2.handshake()
}

func TestCloseEndsSessionsInEveryPhase(t *testing.T) {
	f := newFakePrimary(t)
	r, err := New(fakeConfig(t, f.addr(), nil), clock.New())
	require.NoError(t, err)
	require.NoError(t, r.Start())
	fc := f.next()
	fc.handshake() // the session now waits for the PSYNC reply
	done := make(chan error, 1)
	go func() { done <- r.Close() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	assert.True(t, fc.eof())
	require.NoError(t, r.Close(), "Close is idempotent")
	require.ErrorIs(t, r.Start(), ErrClosed)
}

// TestSessionAcksFastUntilTheStreamStarts: after a full sync the ACK is
// repeated every StreamStartAckPeriod (a diskless Redis 7.0 primary ignores
// one that comes before it reaped its fork child) until the stream's first
// value, then only every AckPeriod. On the mock clock, so every ACK is one
// the test caused.
func TestSessionAcksFastUntilTheStreamStarts(t *testing.T) {
	f := newFakePrimary(t)
	cfg := fakeConfig(t, f.addr(), nil)
	cfg.AckPeriod = time.Second
	cfg.StreamStartAckPeriod = 100 * time.Millisecond
	mock := clock.NewMock()
	r, err := New(cfg, mock)
	require.NoError(t, err)
	require.NoError(t, r.Start())
	t.Cleanup(func() { require.NoError(t, r.Close()) })

	fc := f.next()
	fc.handshake()
	fc.send("+FULLRESYNC " + replID1 + " 7\r\n" + payload(emptyRDB))
	fc.expect("REPLCONF", "ACK", "7") // at the end mark
	waitState(t, r, 0, slot.Connected, 5*time.Second)
	for i := 0; i < 3; i++ { // the primary stays silent: ACK again and again
		mock.Add(100 * time.Millisecond)
		fc.expect("REPLCONF", "ACK", "7")
	}

	set, getack := cmd("SET", "k", "v"), cmd("REPLCONF", "GETACK", "*")
	fc.send(set + getack)
	off := int64(7 + len(set))
	fc.expect("REPLCONF", "ACK", itoa(off))
	off += int64(len(getack))
	// The stream has started: the fast ticks send nothing, so the next ACK
	// is the one the next GETACK asks for (a fast ACK would carry off).
	for i := 0; i < 5; i++ {
		mock.Add(100 * time.Millisecond)
	}
	set2 := cmd("SET", "k2", "v2")
	fc.send(set2 + getack)
	fc.expect("REPLCONF", "ACK", itoa(off+int64(len(set2))))
	mock.Add(500 * time.Millisecond) // one AckPeriod since the start: the ticker's ACK
	fc.expect("REPLCONF", "ACK", itoa(off+int64(len(set2)+len(getack))))
}

// TestSessionTimersRunOnTheInjectedClock: ACKs and the read timeout follow
// the Replica's clock, not the wall clock.
func TestSessionTimersRunOnTheInjectedClock(t *testing.T) {
	f := newFakePrimary(t)
	log := &recordLog{}
	cfg := fakeConfig(t, f.addr(), log)
	cfg.AckPeriod = time.Second
	cfg.ReadTimeout = 10 * time.Second
	mock := clock.NewMock()
	r, err := New(cfg, mock)
	require.NoError(t, err)
	require.NoError(t, r.Start())
	t.Cleanup(func() { require.NoError(t, r.Close()) })

	fc := f.next()
	fc.handshake()
	fc.send("+FULLRESYNC " + replID1 + " 5\r\n" + payload(emptyRDB))
	fc.expect("REPLCONF", "ACK", "5")
	waitState(t, r, 0, slot.Connected, 5*time.Second)
	mock.Add(time.Second)
	fc.expect("REPLCONF", "ACK", "5") // the ticker's, one mock second later
	assert.Empty(t, log.find(0, slot.EvFail))

	for i := 0; i < 10; i++ { // nothing from the primary for 10 mock seconds
		mock.Add(time.Second)
	}
	rec := waitFail(t, log, 1)
	assert.Contains(t, rec.Reason, "read timeout")
}
