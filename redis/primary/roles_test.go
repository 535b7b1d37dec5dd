package primary

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/redis/keyspace"
)

const oldReplID = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

// TestPlanPSYNC2 is Redis's masterTryPartialResynchronization with a
// second id: the old history continues only up to second_repl_offset.
func TestPlanPSYNC2(t *testing.T) {
	bl := NewBacklog(64, 100)
	bl.Write([]byte("0123456789")) // stream 100..110, promoted at 105 (offset2 106)
	h := history{id: testReplID, id2: oldReplID, offset2: 106}
	for _, tt := range []struct {
		name   string
		id     string
		off    int64
		resume bool
		reason string
	}{
		{"old id at the promotion point", oldReplID, 106, true, "previous history"},
		{"old id behind it", oldReplID, 103, true, "previous history"},
		{"old id ahead of what we had", oldReplID, 107, false, "ahead of this primary"},
		{"new id anywhere in the backlog", testReplID, 111, true, "partial resync"},
		{"unknown id", strings.Repeat("b", 40), 106, false, "id mismatch"},
		{"old id before the backlog", oldReplID, 100, false, "not in backlog"},
		{"explicit full", "?", -1, false, "full resync requested"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			plan := planPSYNC2(h, bl, tt.id, tt.off)
			assert.Equal(t, tt.resume, plan.resume, plan.reason)
			assert.Contains(t, plan.reason, tt.reason)
		})
	}
	// Without a second id, planPSYNC is Redis's single-id check.
	assert.False(t, planPSYNC(testReplID, bl, oldReplID, 106).resume)
}

// TestPromoteDemote: Promote moves the history's id to replid2 at
// offset+1, draws a new id from cfg.Rand, keeps the backlog, and forces a
// SELECT before the first write; Demote hands the whole history back.
func TestPromoteDemote(t *testing.T) {
	clk := testClock()
	ks := keyspace.New(clk)
	ks.SetReplica(true)
	bl := NewBacklog(1<<10, 500)
	bl.Write([]byte("*1\r\n$4\r\nping\r\n"))
	cfg := DefaultConfig()
	cfg.Rand = bytes.NewReader(bytes.Repeat([]byte{0xab}, 20))
	p, err := Promote(cfg, clk, nil, History{Keyspace: ks, Backlog: bl, ReplID: oldReplID})
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("ab", 20), p.ReplID(), "drawn from the injected source")
	id2, off2 := p.History2()
	assert.Equal(t, oldReplID, id2)
	assert.Equal(t, int64(515), off2)
	assert.Equal(t, int64(514), p.Offset())
	db := 0
	run(t, p, &db, "SET", "k", "v")
	p.mu.Lock()
	tail, err := p.bl.readAt(nil, 514, 1<<10)
	p.mu.Unlock()
	require.NoError(t, err)
	assert.Equal(t, cmds([]string{"SELECT", "0"}, []string{"SET", "k", "v"}), string(tail))
	assert.Contains(t, p.infoReplication(), "master_replid2:"+oldReplID+"\r\n")
	assert.Contains(t, p.infoReplication(), "second_repl_offset:515\r\n")

	h, err := p.Demote("test")
	require.NoError(t, err)
	assert.Equal(t, p.ReplID(), h.ReplID)
	assert.Equal(t, int64(514+len(tail)), h.Backlog.End())
	assert.Equal(t, 0, h.SelectedDB)
	assert.Same(t, ks, h.Keyspace)
	assert.Equal(t, "READONLY You can't write against a read only replica.", run(t, p, &db, "SET", "k", "w").Text())
	_, err = p.Demote("again")
	assert.ErrorIs(t, err, ErrClosed)

	_, err = Promote(cfg, clk, nil, History{Keyspace: ks, Backlog: bl, ReplID: "short"})
	assert.ErrorIs(t, err, ErrInvalidConfig)
}

// TestSYNCIsAFullSyncWithoutPreamble: the old SYNC gets the snapshot with
// no +FULLRESYNC line, then the stream.
func TestSYNCIsAFullSyncWithoutPreamble(t *testing.T) {
	p, _ := newTestPrimary(t, nil)
	db := 0
	run(t, p, &db, "SET", "a", "1")
	c := dialPeer(t, p.Addr())
	c.send("SYNC")
	// Keepalive newlines may precede the payload while it is built.
	for {
		b, err := c.br.Peek(1)
		require.NoError(t, err)
		if b[0] != '\n' {
			break
		}
		_, _ = c.br.ReadByte()
	}
	rdb := c.rdb()
	assert.True(t, bytes.HasPrefix(rdb, []byte("REDIS")), "an RDB payload")
	run(t, p, &db, "SET", "b", "2")
	c.expectStream(cmds([]string{"SELECT", "0"}, []string{"SET", "b", "2"}))
	assert.Equal(t, uint64(1), p.Stats().FullSyncs)
}

// TestDemoteDropsSignalTail: pings and PUBLISHes streamed after the last
// change of data (Sentinel's hellos while a failover is under way) are not
// part of the history Demote hands back, so the demoted node's PSYNC asks
// for the offset after its last write, which a promoted replica that
// missed the tail still has; a write after them ends the tail.
func TestDemoteDropsSignalTail(t *testing.T) {
	p, _ := newTestPrimary(t, nil)
	db := 2
	run(t, p, &db, "SET", "k", "v")
	dataEnd := p.Offset()
	c := dialPeer(t, p.Addr())
	const hello = "127.0.0.1,26379,x,1,m,127.0.0.1,6379,0"
	c.send("PUBLISH", "__sentinel__:hello", hello)
	c.expectLine(":0")
	p.mu.Lock()
	p.appendLocked(pingCommand)
	p.mu.Unlock()
	require.Greater(t, p.Offset(), dataEnd)
	assert.Contains(t, streamBytes(t, p), cmds([]string{"SELECT", "0"}, []string{"PUBLISH", "__sentinel__:hello", hello}), "the PUBLISH was streamed in its own database")

	h, err := p.Demote("test")
	require.NoError(t, err)
	assert.Equal(t, dataEnd, h.Backlog.End(), "the signal tail is dropped")
	assert.Equal(t, 2, h.SelectedDB, "the database selected at the last write")
	b, err := h.Backlog.ReadAt(nil, h.Backlog.End()-int64(len(cmds([]string{"SET", "k", "v"}))), 1<<10)
	require.NoError(t, err)
	assert.Equal(t, cmds([]string{"SET", "k", "v"}), string(b))

	// A write after a PUBLISH keeps everything.
	q, _ := newTestPrimary(t, nil)
	qc := dialPeer(t, q.Addr())
	qc.send("PUBLISH", "ch", "m")
	qc.expectLine(":0")
	db = 0
	run(t, q, &db, "SET", "k", "v")
	end := q.Offset()
	h, err = q.Demote("test")
	require.NoError(t, err)
	assert.Equal(t, end, h.Backlog.End())
}
