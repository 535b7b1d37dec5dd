package primary

import (
	"bytes"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/replsm/replsm/follower"
	"github.com/replsm/replsm/redis/rdb"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// follower returns the only follower, failing otherwise.
func onlyFollower(t *testing.T, p *Primary) FollowerInfo {
	t.Helper()
	fs := p.Followers()
	require.Len(t, fs, 1)
	return fs[0]
}

func TestFullSyncStreamAndAck(t *testing.T) {
	p, _ := newTestPrimary(t, nil)
	r := dialPeer(t, p.Addr())
	r.handshake(7001, "eof", "psync2")
	id, off, rdb := r.fullSync()
	assert.Equal(t, testReplID, id)
	assert.Equal(t, int64(0), off)
	assert.NotEmpty(t, rdb)

	f := onlyFollower(t, p)
	assert.Equal(t, "127.0.0.1:7001", f.ID)
	assert.Equal(t, follower.DBSync, f.State, "no ack yet")
	assert.True(t, f.FullSync)

	c := dialPeer(t, p.Addr())
	c.send("SET", "k", "v")
	c.expectLine("+OK")
	want := cmds([]string{"SELECT", "0"}, []string{"SET", "k", "v"})
	r.expectStream(want)

	// ACKs are never answered; the next bytes are stream, not "+OK".
	r.send("REPLCONF", "ACK", strconv.Itoa(len(want)))
	waitFor(t, "first ack", func() bool {
		f := onlyFollower(t, p)
		return f.State == follower.BinlogSync && f.AckedOffset == int64(len(want))
	})
	c.send("DEL", "k")
	c.expectLine(":1")
	r.expectStream(cmds([]string{"DEL", "k"}))
	assert.Equal(t, uint64(1), p.Stats().FullSyncs)
}

func TestContinueAfterDisconnect(t *testing.T) {
	p, _ := newTestPrimary(t, nil)
	r := dialPeer(t, p.Addr())
	r.handshake(7002, "eof", "psync2")
	id, off, _ := r.fullSync()
	c := dialPeer(t, p.Addr())
	c.send("SET", "a", "1")
	c.expectLine("+OK")
	seen := cmds([]string{"SELECT", "0"}, []string{"SET", "a", "1"})
	r.expectStream(seen)
	off += int64(len(seen))

	require.NoError(t, p.DisconnectFollower("127.0.0.1:7002"))
	r.expectEOF()
	waitFor(t, "follower gone", func() bool { return len(p.Followers()) == 0 })
	c.send("RPUSH", "l", "x")
	c.expectLine(":1")
	missed := cmds([]string{"RPUSH", "l", "x"})

	r2 := dialPeer(t, p.Addr())
	r2.handshake(7002, "eof", "psync2")
	r2.send("PSYNC", id, strconv.FormatInt(off+1, 10))
	r2.expectLine("+CONTINUE " + testReplID)
	r2.expectStream(missed)
	f := onlyFollower(t, p)
	assert.Equal(t, follower.BinlogSync, f.State)
	assert.False(t, f.FullSync)
	assert.Equal(t, "online", f.RedisState)
	st := p.Stats()
	assert.Equal(t, uint64(1), st.FullSyncs)
	assert.Equal(t, uint64(1), st.PartialSyncs)
	assert.Equal(t, uint64(len(missed)), st.ResumedBytes)

	// Without capa psync2 the reply carries no id, as Redis answers old
	// replicas.
	require.NoError(t, p.DisconnectFollower("127.0.0.1:7002"))
	r2.expectEOF()
	r3 := dialPeer(t, p.Addr())
	r3.handshake(7002)
	r3.send("PSYNC", id, strconv.FormatInt(p.Offset()+1, 10))
	r3.expectLine("+CONTINUE")

	assert.ErrorIs(t, p.DisconnectFollower("127.0.0.1:1"), ErrUnknownFollower)
}

func TestFullSyncWhenOffsetLeftBacklog(t *testing.T) {
	p, _ := newTestPrimary(t, func(c *Config) { c.BacklogSize = 64 })
	db := 0
	run(t, p, &db, "SET", "k", strings.Repeat("x", 100))
	r := dialPeer(t, p.Addr())
	r.handshake(7003, "psync2")
	r.send("PSYNC", testReplID, "1")
	id, off := r.fullResyncLine()
	assert.Equal(t, testReplID, id)
	assert.Equal(t, p.Offset(), off)
}

func TestFollowerFallingOutOfBacklogIsDropped(t *testing.T) {
	p, _ := newTestPrimary(t, func(c *Config) { c.BacklogSize = 64 })
	r := dialPeer(t, p.Addr())
	r.handshake(7004, "psync2")
	r.fullSync()
	waitFor(t, "streaming", func() bool { return onlyFollower(t, p).RedisState == "online" })
	// One append larger than the ring: the bytes this follower needs next
	// are overwritten before it can be sent them.
	db := 0
	run(t, p, &db, "SET", "k", strings.Repeat("x", 100))
	r.expectEOF()
	waitFor(t, "follower gone", func() bool { return len(p.Followers()) == 0 })
	assert.Equal(t, uint64(1), p.Stats().FellBehind)
}

func TestAckTimeoutRemovesFollower(t *testing.T) {
	// No active expiry ticks: the mock clock runs every tick of a long Add.
	p, clk := newTestPrimary(t, func(c *Config) { c.ExpirePeriod = time.Hour })
	r := dialPeer(t, p.Addr())
	r.handshake(7005, "psync2")
	r.fullSync()
	r.send("REPLCONF", "ACK", "0")
	waitFor(t, "first ack", func() bool { return onlyFollower(t, p).State == follower.BinlogSync })
	clk.Add(30 * time.Second)
	r.send("REPLCONF", "ACK", "0")
	waitFor(t, "ack at 30s", func() bool { return onlyFollower(t, p).LastAck.Equal(epoch0.Add(30 * time.Second)) })
	clk.Add(59 * time.Second) // 89 s: 59 s since the last ack
	// The deadline set at the first ack (60 s) found a newer ack and moved
	// to 90 s; wait for that before moving the clock again.
	f, ok := p.followers.Get("127.0.0.1:7005")
	require.True(t, ok)
	waitFor(t, "deadline moved", func() bool {
		at, ok := f.Deadline()
		return ok && at.Equal(epoch0.Add(90*time.Second))
	})
	assert.Len(t, p.Followers(), 1)
	clk.Add(2 * time.Second) // 61 s since the last ack
	// Only pings went by (the mock's ticker may coalesce some); then the
	// connection closes.
	rest := r.drain()
	require.NotEmpty(t, rest)
	assert.Equal(t, strings.Repeat(string(pingCommand), len(rest)/len(pingCommand)), rest)
	waitFor(t, "follower gone", func() bool { return len(p.Followers()) == 0 })
}

func TestSyncTimeoutRemovesSilentFollower(t *testing.T) {
	p, clk := newTestPrimary(t, func(c *Config) { c.ReplTimeout = 5 * time.Second })
	r := dialPeer(t, p.Addr())
	r.handshake(7006, "psync2")
	r.fullSync()
	assert.Equal(t, follower.DBSync, onlyFollower(t, p).State)
	clk.Add(6 * time.Second)
	// Keepalive newlines may precede the close; nothing else may.
	assert.Empty(t, strings.Trim(r.drain(), "\n"))
	waitFor(t, "follower gone", func() bool { return len(p.Followers()) == 0 })
}

func TestStaleSessionAckDropped(t *testing.T) {
	p, _ := newTestPrimary(t, nil)
	a := dialPeer(t, p.Addr())
	a.handshake(7007, "psync2")
	a.fullSync()
	first := onlyFollower(t, p)
	p.mu.Lock()
	old := p.sessions[first.Session]
	p.mu.Unlock()
	require.NotNil(t, old)

	// The same follower reconnects: its old session is closed and replaced.
	b := dialPeer(t, p.Addr())
	b.handshake(7007, "psync2")
	b.fullSync()
	a.expectEOF()
	waitFor(t, "one session", func() bool {
		fs := p.Followers()
		return len(fs) == 1 && fs[0].Session != first.Session
	})

	// A late ack of the old session changes nothing.
	p.ack(old, 999)
	assert.Equal(t, uint64(1), p.Stats().StaleAcks)
	f := onlyFollower(t, p)
	assert.Equal(t, follower.DBSync, f.State)
	assert.Equal(t, int64(0), f.AckedOffset)

	b.send("REPLCONF", "ACK", "0")
	waitFor(t, "live ack", func() bool { return onlyFollower(t, p).State == follower.BinlogSync })
	assert.Equal(t, uint64(1), p.Stats().StaleAcks)
}

func TestMalformedReplicationCommands(t *testing.T) {
	p, _ := newTestPrimary(t, nil)
	c := dialPeer(t, p.Addr())
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"PSYNC"}, "-ERR wrong number of arguments for 'psync' command"},
		{[]string{"PSYNC", "?"}, "-ERR wrong number of arguments for 'psync' command"},
		{[]string{"psync", "a", "b", "c"}, "-ERR wrong number of arguments for 'psync' command"},
		{[]string{"PSYNC", "?", "abc"}, "-ERR value is not an integer or out of range"},
		{[]string{"PSYNC", "?", "99999999999999999999"}, "-ERR value is not an integer or out of range"},
		{[]string{"REPLCONF", "listening-port"}, "-ERR syntax error"},
		{[]string{"REPLCONF", "listening-port", "x"}, "-ERR value is not an integer or out of range"},
		{[]string{"REPLCONF", "listening-port", "70000"}, "-ERR value is not an integer or out of range"},
		{[]string{"REPLCONF", "foo", "bar"}, "-ERR Unrecognized REPLCONF option: foo"},
		{[]string{"REPLCONF", "capa", "whatever"}, "+OK"},
		{[]string{"SYNC", "extra"}, "-ERR wrong number of arguments for 'sync' command"},
	} {
		c.send(tt.args...)
		c.expectLine(tt.want)
	}
	// ACK and GETACK from a connection that is not a follower get no reply.
	c.send("REPLCONF", "ACK", "5")
	c.send("REPLCONF", "GETACK", "*")
	c.send("PING")
	c.expectLine("+PONG")
	assert.Empty(t, p.Followers())
}

func TestForgetHistory(t *testing.T) {
	p, _ := newTestPrimary(t, nil)
	r := dialPeer(t, p.Addr())
	r.handshake(7008, "psync2")
	id, off, _ := r.fullSync()
	db := 0
	run(t, p, &db, "SET", "a", "1")
	require.NotZero(t, p.Offset())

	require.NoError(t, p.ForgetHistory())
	r.drain() // the SET may still be streamed before the close; then EOF
	assert.NotEqual(t, testReplID, p.ReplID())
	assert.True(t, validReplID(p.ReplID()))
	assert.Equal(t, int64(0), p.Offset())

	r2 := dialPeer(t, p.Addr())
	r2.handshake(7008, "psync2")
	r2.send("PSYNC", id, strconv.FormatInt(off+1, 10))
	newID, newOff := r2.fullResyncLine()
	assert.Equal(t, p.ReplID(), newID)
	assert.Equal(t, int64(0), newOff)
	r2.rdb()
	run(t, p, &db, "SET", "b", "2")
	r2.expectStream(cmds([]string{"SELECT", "0"}, []string{"SET", "b", "2"}))
}

func TestKeepalivesWhileSnapshotBuilds(t *testing.T) {
	p, clk := newTestPrimary(t, nil)
	entered := make(chan struct{})
	release := make(chan struct{})
	p.hooks.beforeSnapshot = func() {
		close(entered)
		<-release
	}
	r := dialPeer(t, p.Addr())
	r.handshake(7009, "psync2")
	r.send("PSYNC", "?", "-1")
	<-entered
	assert.Equal(t, "wait_bgsave", onlyFollower(t, p).RedisState)
	clk.Add(time.Second)
	r.expectStream("\n")
	clk.Add(time.Second)
	r.expectStream("\n")
	close(release)
	id, _ := r.fullResyncLine()
	assert.Equal(t, testReplID, id)
	r.rdb()
}

func TestEOFMarkedSnapshotHoldsStreamUntilFirstAck(t *testing.T) {
	p, _ := newTestPrimary(t, func(c *Config) { c.DisklessEOF = true })
	r := dialPeer(t, p.Addr())
	r.handshake(7010, "eof", "psync2")
	r.send("PSYNC", "?", "-1")
	_, off := r.fullResyncLine()
	pre := r.line()
	require.True(t, strings.HasPrefix(pre, "$EOF:"), pre)
	mark := pre[len("$EOF:"):]
	require.Len(t, mark, 40)
	p.mu.Lock()
	snap := p.ks.Snapshot() // nothing was written: the same content
	p.mu.Unlock()
	var want bytes.Buffer
	require.NoError(t, rdb.Write(&want, snap, testReplID, off))
	body := r.read(want.Len() + len(mark))
	assert.Equal(t, want.String()+mark, body)

	db := 0
	run(t, p, &db, "SET", "a", "1")
	waitFor(t, "waiting for the ack", func() bool { return onlyFollower(t, p).RedisState == "send_bulk" })
	assert.Equal(t, off, onlyFollower(t, p).SentOffset, "stream held until the first ACK")
	r.send("REPLCONF", "ACK", strconv.FormatInt(off, 10))
	r.expectStream(cmds([]string{"SELECT", "0"}, []string{"SET", "a", "1"}))

	// A follower without capa eof gets the disk-style framing.
	r2 := dialPeer(t, p.Addr())
	r2.handshake(7011, "psync2")
	r2.fullSync()
}

func TestConcurrentFullSyncsShareOneSnapshot(t *testing.T) {
	p, _ := newTestPrimary(t, nil)
	var builds atomic.Int32
	p.hooks.beforeSnapshot = func() {
		builds.Add(1)
		// Hold the build until the second request has joined it.
		waitFor(t, "second full sync to join", func() bool {
			_, joined := p.snaps.Counts()
			return joined == 1
		})
	}
	a := dialPeer(t, p.Addr())
	a.handshake(7012, "psync2")
	b := dialPeer(t, p.Addr())
	b.handshake(7013, "psync2")
	a.send("PSYNC", "?", "-1")
	b.send("PSYNC", "?", "-1")
	idA, offA := a.fullResyncLine()
	idB, offB := b.fullResyncLine()
	assert.Equal(t, idA, idB)
	assert.Equal(t, offA, offB)
	assert.Equal(t, a.rdb(), b.rdb())
	st := p.Stats()
	assert.Equal(t, uint64(1), st.SnapshotsStarted)
	assert.Equal(t, uint64(1), st.SnapshotsJoined)
	assert.Equal(t, uint64(2), st.FullSyncs)
	assert.Equal(t, int32(1), builds.Load())

	db := 0
	run(t, p, &db, "SET", "x", "1")
	want := cmds([]string{"SELECT", "0"}, []string{"SET", "x", "1"})
	a.expectStream(want)
	b.expectStream(want)
}

func TestInfoAndRole(t *testing.T) {
	p, clk := newTestPrimary(t, nil)
	r := dialPeer(t, p.Addr())
	r.handshake(7014, "psync2")
	r.fullSync()
	db := 0
	run(t, p, &db, "SET", "a", "1")
	r.send("REPLCONF", "ACK", "5")
	waitFor(t, "ack", func() bool { return onlyFollower(t, p).AckedOffset == 5 })
	clk.Add(3 * time.Second)

	c := dialPeer(t, p.Addr())
	c.send("INFO", "replication")
	hdr := c.line()
	n, err := strconv.Atoi(strings.TrimPrefix(hdr, "$"))
	require.NoError(t, err)
	body := c.read(n + 2)
	off := p.Offset()
	assert.Equal(t, "# Replication\r\n"+
		"role:master\r\n"+
		"connected_slaves:1\r\n"+
		"slave0:ip=127.0.0.1,port=7014,state=online,offset=5,lag=3\r\n"+
		"master_failover_state:no-failover\r\n"+
		"master_replid:"+testReplID+"\r\n"+
		"master_replid2:0000000000000000000000000000000000000000\r\n"+
		"master_repl_offset:"+strconv.FormatInt(off, 10)+"\r\n"+
		"second_repl_offset:-1\r\n"+
		"repl_backlog_active:1\r\n"+
		"repl_backlog_size:1048576\r\n"+
		"repl_backlog_first_byte_offset:1\r\n"+
		"repl_backlog_histlen:"+strconv.FormatInt(off, 10)+"\r\n\r\n", body)

	c.send("INFO", "keyspace")
	c.expectLine("$0")
	c.expectLine("")

	c.send("ROLE")
	for _, want := range []string{"*3", "$6", "master", ":" + strconv.FormatInt(off, 10), "*1", "*3", "$9", "127.0.0.1", "$4", "7014", "$1", "5"} {
		c.expectLine(want)
	}

	c.send("CONFIG", "GET", "save", "appendonly", "nosuch")
	for _, want := range []string{"*4", "$4", "save", "$0", "", "$10", "appendonly", "$2", "no"} {
		c.expectLine(want)
	}
}

func TestCloseDisconnectsFollowersAndClients(t *testing.T) {
	clk := testClock()
	cfg := DefaultConfig()
	p, err := New(cfg, clk, nil)
	require.NoError(t, err)
	require.NoError(t, p.Listen("127.0.0.1:0"))
	assert.ErrorIs(t, p.Listen("127.0.0.1:0"), ErrAlreadyListening)
	r := dialPeer(t, p.Addr())
	r.handshake(7015, "psync2")
	r.fullSync()
	c := dialPeer(t, p.Addr())
	c.send("PING")
	c.expectLine("+PONG")
	require.NoError(t, p.Close())
	r.expectEOF()
	c.expectEOF()
	require.NoError(t, p.Close())
	assert.ErrorIs(t, p.Listen("127.0.0.1:0"), ErrClosed)
	assert.ErrorIs(t, p.ForgetHistory(), ErrClosed)
	assert.ErrorIs(t, p.DisconnectFollower("x"), ErrClosed)
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	for _, edit := range []func(*Config){
		func(c *Config) { c.BacklogSize = 0 },
		func(c *Config) { c.PingPeriod = 0 },
		func(c *Config) { c.ReplTimeout = -time.Second },
		func(c *Config) { c.KeepalivePeriod = 0 },
		func(c *Config) { c.ExpirePeriod = 0 },
		func(c *Config) { c.ReplID = "short" },
		func(c *Config) { c.ReplID = strings.Repeat("-", 40) },
	} {
		cfg := DefaultConfig()
		edit(&cfg)
		assert.ErrorIs(t, cfg.Validate(), ErrInvalidConfig)
		_, err := New(cfg, testClock(), nil)
		assert.ErrorIs(t, err, ErrInvalidConfig)
	}
	_, err := New(DefaultConfig(), nil, nil)
	assert.ErrorIs(t, err, ErrInvalidConfig)
}

// TestInfoServerSection: with Config.InfoServer the default INFO starts
// with the process's Server section (Sentinel reads run_id there); INFO
// server is that section alone, INFO replication still only its own.
func TestInfoServerSection(t *testing.T) {
	const server = "# Server\r\nrun_id:" + testReplID + "\r\n"
	p, _ := newTestPrimary(t, func(c *Config) { c.InfoServer = func() string { return server } })
	c := dialPeer(t, p.Addr())
	body := func(args ...string) string {
		c.send(args...)
		n, err := strconv.Atoi(strings.TrimPrefix(c.line(), "$"))
		require.NoError(t, err)
		return strings.TrimSuffix(c.read(n+2), "\r\n")
	}
	assert.Equal(t, server+"\r\n"+p.infoReplication(), body("INFO"))
	assert.Equal(t, server+"\r\n"+p.infoReplication(), body("INFO", "default"))
	assert.Equal(t, server, body("INFO", "server"))
	assert.Equal(t, p.infoReplication(), body("INFO", "replication"))
	assert.True(t, strings.HasPrefix(body("INFO", "all"), server+"\r\n# Replication\r\n"))
}
