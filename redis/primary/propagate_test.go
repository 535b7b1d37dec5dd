package primary

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/redis/resp"
	"github.com/replsm/replsm/redis/server"
)

// TestPropagationRewritesLikeRedis checks the exact stream bytes for each
// kind of write: relative expiries made absolute, no-ops left out, SELECT
// only when the database changes.
func TestPropagationRewritesLikeRedis(t *testing.T) {
	ms := epoch0.UnixMilli()
	at := func(d time.Duration) string { return strconv.FormatInt(ms+d.Milliseconds(), 10) }
	steps := []struct {
		cmd  []string
		want [][]string // propagated commands, SELECTs included
	}{
		{[]string{"SET", "a", "1"}, [][]string{{"SELECT", "0"}, {"SET", "a", "1"}}},
		{[]string{"set", "b", "2", "EX", "10"}, [][]string{{"SET", "b", "2", "PXAT", at(10 * time.Second)}}},
		{[]string{"SET", "c", "3", "PX", "500", "NX"}, [][]string{{"SET", "c", "3", "PXAT", at(500 * time.Millisecond)}}},
		{[]string{"SET", "a", "x", "NX"}, nil},
		{[]string{"SET", "a", "y", "XX"}, [][]string{{"SET", "a", "y", "XX"}}},
		{[]string{"EXPIRE", "a", "100"}, [][]string{{"PEXPIREAT", "a", at(100 * time.Second)}}},
		{[]string{"PEXPIRE", "a", "250"}, [][]string{{"PEXPIREAT", "a", at(250 * time.Millisecond)}}},
		{[]string{"EXPIRE", "missing", "100"}, nil},
		{[]string{"PERSIST", "a"}, [][]string{{"PERSIST", "a"}}},
		{[]string{"PERSIST", "a"}, nil},
		{[]string{"GETSET", "b", "5"}, [][]string{{"SET", "b", "5"}}},
		{[]string{"DEL", "nope"}, nil},
		{[]string{"DEL", "b", "nope"}, [][]string{{"DEL", "b", "nope"}}},
		{[]string{"INCR", "n"}, [][]string{{"INCR", "n"}}},
		{[]string{"INCRBY", "n", "5"}, [][]string{{"INCRBY", "n", "5"}}},
		{[]string{"DECR", "n"}, [][]string{{"DECR", "n"}}},
		{[]string{"APPEND", "s", "xy"}, [][]string{{"APPEND", "s", "xy"}}},
		{[]string{"GET", "a"}, nil},
		{[]string{"SELECT", "2"}, nil},
		{[]string{"LPUSH", "l", "1", "2"}, [][]string{{"SELECT", "2"}, {"LPUSH", "l", "1", "2"}}},
		{[]string{"RPUSH", "l", "3"}, [][]string{{"RPUSH", "l", "3"}}},
		{[]string{"LPOP", "nolist"}, nil},
		{[]string{"RPOP", "l"}, [][]string{{"RPOP", "l"}}},
		{[]string{"HSET", "h", "f", "v"}, [][]string{{"HSET", "h", "f", "v"}}},
		{[]string{"HDEL", "h", "nof"}, nil},
		{[]string{"SADD", "s2", "m"}, [][]string{{"SADD", "s2", "m"}}},
		{[]string{"SADD", "s2", "m"}, nil},
		{[]string{"SREM", "s2", "m"}, [][]string{{"SREM", "s2", "m"}}},
		{[]string{"ZADD", "z", "1.5", "m"}, [][]string{{"ZADD", "z", "1.5", "m"}}},
		{[]string{"ZREM", "z", "other"}, nil},
		{[]string{"SET", "w", "1"}, [][]string{{"SET", "w", "1"}}},
		{[]string{"LPUSH", "w", "x"}, nil}, // WRONGTYPE changes nothing
		{[]string{"SELECT", "0"}, nil},
		{[]string{"FLUSHDB"}, [][]string{{"SELECT", "0"}, {"FLUSHDB"}}},
		{[]string{"FLUSHDB"}, [][]string{{"FLUSHDB"}}}, // Redis streams even an empty flush
	}
	p, _ := newTestPrimary(t, nil)
	db := 0
	before := streamBytes(t, p)
	require.Empty(t, before)
	for _, st := range steps {
		start := p.Offset()
		run(t, p, &db, st.cmd...)
		got := streamBytes(t, p)[start:]
		assert.Equal(t, cmds(st.want...), got, "%q", st.cmd)
		assert.Equal(t, start+int64(len(got)), p.Offset(), "offset counts every streamed byte")
	}
}

// TestExpiredKeyDeletionIsWrapped checks that a write finding its key
// expired streams DEL and the write inside MULTI ... EXEC, and that active
// expiry streams one DEL per key.
func TestExpiredKeyDeletionIsWrapped(t *testing.T) {
	p, clk := newTestPrimary(t, func(c *Config) { c.ExpirePeriod = time.Hour })
	db := 3
	run(t, p, &db, "SET", "e", "1", "PX", "100")
	run(t, p, &db, "SET", "f", "1", "PX", "100")
	clk.Add(200 * time.Millisecond)
	start := p.Offset()
	run(t, p, &db, "SET", "e", "2")
	assert.Equal(t, cmds([]string{"MULTI"}, []string{"DEL", "e"}, []string{"SET", "e", "2"}, []string{"EXEC"}),
		streamBytes(t, p)[start:])

	// A read of an expired key deletes it too; one DEL is not wrapped.
	db = 0
	run(t, p, &db, "SET", "g", "1", "PX", "100")
	clk.Add(200 * time.Millisecond)
	start = p.Offset()
	assert.True(t, run(t, p, &db, "GET", "g").IsNull())
	assert.Equal(t, cmds([]string{"DEL", "g"}), streamBytes(t, p)[start:])

	// Active expiry, driven by the clock, deletes f in db 3.
	start = p.Offset()
	p.mu.Lock()
	p.expireLocked()
	p.mu.Unlock()
	assert.Equal(t, cmds([]string{"SELECT", "3"}, []string{"DEL", "f"}), streamBytes(t, p)[start:])
	assert.Equal(t, uint64(1), p.Stats().ExpiredKeys)
}

func TestPingGoesIntoStreamOnlyWithFollowers(t *testing.T) {
	p, _ := newTestPrimary(t, nil)
	p.mu.Lock()
	p.pingFollowersLocked()
	p.mu.Unlock()
	assert.Equal(t, int64(0), p.Offset(), "no followers, no ping")

	p.mu.Lock()
	p.sessions[1] = &session{}
	p.pingFollowersLocked()
	p.seldb = 5
	p.pingFollowersLocked()
	delete(p.sessions, 1)
	p.mu.Unlock()
	assert.Equal(t, "*1\r\n$4\r\nping\r\n*1\r\n$4\r\nping\r\n", streamBytes(t, p))
	p.mu.Lock()
	assert.Equal(t, 5, p.seldb, "ping never changes the stream's database")
	p.mu.Unlock()
}

func TestMultiExecPropagation(t *testing.T) {
	p, _ := newTestPrimary(t, nil)
	c := dialPeer(t, p.Addr())
	c.send("MULTI")
	c.expectLine("+OK")
	c.send("SET", "a", "1")
	c.expectLine("+QUEUED")
	c.send("SELECT", "4")
	c.expectLine("+QUEUED")
	c.send("INCR", "n")
	c.expectLine("+QUEUED")
	c.send("GET", "nothing")
	c.expectLine("+QUEUED")
	c.send("EXEC")
	c.expectLine("*4")
	c.expectLine("+OK")
	c.expectLine("+OK")
	c.expectLine(":1")
	c.expectLine("$-1")
	assert.Equal(t, cmds(
		[]string{"SELECT", "0"}, []string{"MULTI"}, []string{"SET", "a", "1"},
		[]string{"SELECT", "4"}, []string{"INCR", "n"}, []string{"EXEC"},
	), streamBytes(t, p))

	// The connection stays in db 4 after EXEC.
	start := p.Offset()
	c.send("MULTI")
	c.expectLine("+OK")
	c.send("SET", "b", "1")
	c.expectLine("+QUEUED")
	c.send("EXEC")
	c.expectLine("*1")
	c.expectLine("+OK")
	assert.Equal(t, cmds([]string{"SET", "b", "1"}), streamBytes(t, p)[start:], "one write: no MULTI")

	c.send("MULTI")
	c.expectLine("+OK")
	c.send("NOSUCH")
	assert.Contains(t, c.line(), "-ERR unknown command 'NOSUCH'")
	c.send("EXEC")
	c.expectLine("-EXECABORT Transaction discarded because of previous errors.")
	c.send("EXEC")
	c.expectLine("-ERR EXEC without MULTI")
	c.send("MULTI")
	c.expectLine("+OK")
	c.send("DISCARD")
	c.expectLine("+OK")
}

func TestFeedLockedEncoding(t *testing.T) {
	p, _ := newTestPrimary(t, nil)
	p.mu.Lock()
	p.feedLocked(nil)
	p.feedLocked([]op{{db: 1, args: [][]byte{[]byte("DEL"), []byte("k")}}, {db: 1, args: [][]byte{[]byte("SET"), []byte("k"), []byte("v")}}})
	p.mu.Unlock()
	want := resp.AppendCommandStrings(nil, "SELECT", "1")
	want = resp.AppendCommandStrings(want, "MULTI")
	want = resp.AppendCommandStrings(want, "DEL", "k")
	want = resp.AppendCommandStrings(want, "SET", "k", "v")
	want = resp.AppendCommandStrings(want, "EXEC")
	assert.Equal(t, string(want), streamBytes(t, p))
}

// A MULTI queues at most server.MaxQueued commands: one more is refused and
// EXEC then discards the transaction, so a client cannot make the primary
// hold commands without end.
func TestMultiQueueIsBounded(t *testing.T) {
	p, _ := newTestPrimary(t, nil)
	c := dialPeer(t, p.Addr())
	c.send("MULTI")
	c.expectLine("+OK")
	for i := 0; i < server.MaxQueued; i++ {
		c.send("SET", "k", "v")
		c.expectLine("+QUEUED")
	}
	c.send("SET", "k", "v")
	c.expectLine(fmt.Sprintf("-ERR too many commands in one transaction (at most %d)", server.MaxQueued))
	c.send("EXEC")
	c.expectLine("-EXECABORT Transaction discarded because of previous errors.")
	var db int
	assert.Equal(t, resp.NullBulk(), run(t, p, &db, "GET", "k"), "nothing of the transaction ran")
}
