package replica

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/slot"
)

// everyTypeScript writes every type a Redis 7.0 dataset holds, with the
// commands a client uses; the primary propagates some as they are and
// rewrites others (scripts, functions, blocking and random pops, GETEX,
// XREADGROUP, ...). It runs on a real primary, once before the replicas
// attach (so it travels in the RDB) under prefix "pre", and once while
// they stream under "post".
func everyTypeScript(p string) [][]string {
	k := func(s string) string { return p + ":" + s }
	return [][]string{
		// Strings, bits, counters.
		{"SET", k("s"), "hello"}, {"SETRANGE", k("s"), "10", "world"}, {"APPEND", k("s"), "!"},
		{"SET", k("ttl"), "v", "EX", "3000"}, {"SETEX", k("ttl2"), "3000", "v"}, {"GETEX", k("ttl2"), "PERSIST"},
		{"SET", k("gx"), "v"}, {"GETEX", k("gx"), "EX", "4000"}, {"GETDEL", k("s-none")}, {"SET", k("gd"), "x"}, {"GETDEL", k("gd")},
		{"SETBIT", k("bits"), "1001", "1"}, {"SETBIT", k("bits"), "3", "1"}, {"BITOP", "OR", k("bitor"), k("bits"), k("s")},
		{"INCRBYFLOAT", k("f"), "1.5"}, {"INCRBYFLOAT", k("f"), "0.1"}, {"INCR", k("n")}, {"DECRBY", k("n"), "10"},
		{"MSET", k("m1"), "1", k("m2"), "2"}, {"MSETNX", k("m3"), "3", k("m4"), "4"}, {"GETSET", k("m1"), "one"},
		// Lists.
		{"RPUSH", k("l"), "a", "b", "c", "d", "e", "f"}, {"LINSERT", k("l"), "BEFORE", "c", "X"}, {"LSET", k("l"), "0", "A"},
		{"LREM", k("l"), "1", "b"}, {"LTRIM", k("l"), "0", "5"}, {"LMOVE", k("l"), k("l2"), "LEFT", "RIGHT"},
		{"RPOPLPUSH", k("l"), k("l2")}, {"BLPOP", k("l"), "1"}, {"BRPOP", k("l2"), "1"}, {"LMPOP", "1", k("l"), "LEFT", "COUNT", "1"},
		{"BLMOVE", k("l"), k("l2"), "RIGHT", "LEFT", "1"}, {"LPUSHX", k("l2"), "front"},
		// Hashes.
		{"HSET", k("h"), "a", "1", "b", "2", "c", "x"}, {"HSETNX", k("h"), "d", "4"}, {"HINCRBY", k("h"), "a", "5"},
		{"HINCRBYFLOAT", k("h"), "b", "0.25"}, {"HDEL", k("h"), "c"},
		// Sets.
		{"SADD", k("set1"), "a", "b", "c", "d", "e"}, {"SADD", k("set2"), "c", "d", "x"}, {"SREM", k("set1"), "e"},
		{"SMOVE", k("set1"), k("set2"), "a"}, {"SINTERSTORE", k("si"), k("set1"), k("set2")},
		{"SUNIONSTORE", k("su"), k("set1"), k("set2")}, {"SDIFFSTORE", k("sd"), k("set2"), k("set1")},
		{"SPOP", k("su")}, {"SPOP", k("su"), "2"}, {"SADD", k("ints"), "1", "2", "3"},
		// HyperLogLog (strings whose bytes must match) and geo (ZADD).
		{"PFADD", k("hll"), "a", "b", "c"}, {"PFADD", k("hll2"), "c", "d"}, {"PFMERGE", k("hll3"), k("hll"), k("hll2")},
		{"PFCOUNT", k("hll")}, {"PFCOUNT", k("hll"), k("hll2")}, {"PFDEBUG", "TODENSE", k("hll2")},
		// Sorted sets.
		{"ZADD", k("z"), "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f"}, {"ZADD", k("z"), "GT", "CH", "10", "a", "0", "b"},
		{"ZADD", k("z"), "INCR", "2.5", "c"}, {"ZINCRBY", k("z"), "-1", "d"}, {"ZPOPMIN", k("z")}, {"ZPOPMAX", k("z"), "1"},
		{"BZPOPMIN", k("z"), "1"}, {"ZMPOP", "1", k("z"), "MAX", "COUNT", "1"},
		{"ZADD", k("z2"), "1", "a", "2", "b", "3", "c", "4", "d"}, {"ZREMRANGEBYSCORE", k("z2"), "-inf", "(2"},
		{"ZREMRANGEBYRANK", k("z2"), "-1", "-1"}, {"ZADD", k("zl"), "0", "a", "0", "b", "0", "c"}, {"ZREMRANGEBYLEX", k("zl"), "-", "(b"},
		{"ZUNIONSTORE", k("zu"), "2", k("z"), k("z2"), "WEIGHTS", "2", "3"}, {"ZINTERSTORE", k("zi"), "2", k("zu"), k("z2")},
		{"ZDIFFSTORE", k("zd"), "2", k("zu"), k("z2")}, {"ZRANGESTORE", k("zrs"), k("zu"), "0", "2"},
		{"SORT", k("l2"), "ALPHA", "DESC", "STORE", k("sorted")}, {"SORT", k("set2"), "BY", "nosort", "STORE", k("sorted2")},
		{"BITFIELD", k("bf"), "SET", "u8", "0", "255", "INCRBY", "i16", "8", "-3", "OVERFLOW", "SAT", "INCRBY", "u4", "#3", "99"},
		// Streams with consumer groups.
		{"XADD", k("x"), "*", "f", "1"}, {"XADD", k("x"), "*", "f", "2", "g", "x"}, {"XADD", k("x"), "MAXLEN", "~", "100", "*", "f", "3"},
		{"XADD", k("x"), "*", "f", "4"}, {"XADD", k("x"), "*", "f", "5"}, {"XGROUP", "CREATE", k("x"), "g1", "0"},
		{"XGROUP", "CREATE", k("x"), "g2", "$"}, {"XREADGROUP", "GROUP", "g1", "alice", "COUNT", "2", "STREAMS", k("x"), ">"},
		{"XREADGROUP", "GROUP", "g1", "bob", "COUNT", "1", "STREAMS", k("x"), ">"},
		{"XREADGROUP", "GROUP", "g1", "carol", "COUNT", "1", "NOACK", "STREAMS", k("x"), ">"},
		{"XGROUP", "CREATECONSUMER", k("x"), "g2", "dave"}, {"XAUTOCLAIM", k("x"), "g1", "bob", "0", "0", "COUNT", "1"},
		{"XACK", k("x"), "g1", "0-1"}, {"XTRIM", k("x"), "MAXLEN", "=", "4"},
		{"GEOADD", k("geo"), "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"},
		{"XADD", k("x2"), "1-1", "a", "1"}, {"XADD", k("x2"), "2-1", "a", "2"}, {"XDEL", k("x2"), "1-1"},
		{"XSETID", k("x2"), "5-0"}, {"XGROUP", "CREATE", k("x3"), "g", "$", "MKSTREAM"},
		// Keys and databases.
		{"SET", k("c1"), "v"}, {"EXPIRE", k("c1"), "5000"}, {"COPY", k("c1"), k("c2")}, {"COPY", k("c1"), k("c3"), "DB", "3"},
		{"RENAME", k("c2"), k("c4")}, {"RENAMENX", k("c4"), k("c5")}, {"SET", k("mv"), "v"}, {"MOVE", k("mv"), "3"},
		{"PEXPIRE", k("c5"), "6000000", "NX"}, {"EXPIRE", k("c5"), "100", "GT"}, {"PERSIST", k("c1")},
		{"SET", k("del1"), "v"}, {"SET", k("del2"), "v"}, {"DEL", k("del1")}, {"UNLINK", k("del2")},
		// Scripts, functions and transactions: their effects travel.
		{"EVAL", "redis.call('SET', KEYS[1], ARGV[1]); redis.call('INCRBY', KEYS[2], 3); return 1", "2", k("ev"), k("evn"), "x"},
		{"FUNCTION", "LOAD", "REPLACE", "#!lua name=lib" + p + "\nredis.register_function('f" + p + "', function(keys, args) redis.call('HSET', keys[1], 'f', args[1]) return 1 end)"},
		{"FCALL", "f" + p, "1", k("fc"), "v"}, {"MULTI"}, {"SET", k("tx1"), "1"}, {"INCR", k("tx2")}, {"LPUSH", k("tx3"), "a"}, {"EXEC"},
	}
}

// geoScript stores geo searches, which a primary propagates verbatim.
func geoScript(p string) [][]string {
	k := func(s string) string { return p + ":" + s }
	return [][]string{
		{"GEOSEARCHSTORE", k("geonear"), k("geo"), "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC"},
		{"GEOSEARCHSTORE", k("geodist"), k("geo"), "FROMMEMBER", "Palermo", "BYBOX", "400", "400", "km", "STOREDIST"},
		{"GEORADIUS", k("geo"), "15", "37", "300", "km", "STOREDIST", k("geodist2")},
	}
}

func runScript(t *testing.T, ctx context.Context, c *redis.Client, script [][]string) int {
	t.Helper()
	conn := c.Conn()
	defer conn.Close()
	for _, cmd := range script {
		args := make([]any, len(cmd))
		for i, a := range cmd {
			args[i] = a
		}
		err := conn.Do(ctx, args...).Err()
		if err == redis.Nil {
			err = nil
		}
		require.NoError(t, err, "%q", cmd)
	}
	return len(script)
}

// TestInteropEveryTypeAndCommandMatchesARealReplica is the differential
// test: the same operations on a real primary, followed by a real
// redis-server replica and by ours; the digests of all three (every key,
// type, value and TTL, streams with groups, consumers and PELs) must be
// equal, after the full sync and after the stream.
func TestInteropEveryTypeAndCommandMatchesARealReplica(t *testing.T) {
	ctx := testCtx(t, 90*time.Second)
	p := startPrimary(t, "primary")
	pc := p.Client()
	pre := runScript(t, ctx, pc, everyTypeScript("pre"))
	require.NoError(t, redistest.FillAllTypes(ctx, pc, "fill", 100))

	real := redistest.Start(t, redistest.Options{Name: "real-replica", Args: redistest.ReplicaOfArgs(p.Port())})
	rr := real.Client()
	r := startReplica(t, testConfig(t, map[slot.ID]string{0: p.Addr()}))
	require.NoError(t, r.Instance().WaitSynced(ctx))
	ours := shardClient(t, r, 0)

	compare := func(stage string) {
		t.Helper()
		require.NoError(t, redistest.WaitCaughtUp(ctx, pc, rr))
		requireSameDigest(t, ctx, pc, ours)
		equal, a, b, err := redistest.Compare(ctx, rr, ours, redistest.FillDBs())
		require.NoError(t, err)
		require.True(t, equal, "%s: real replica %v\nours %v\n%v", stage, a, b, a.Diff(b, 20))
		t.Logf("%s: %v", stage, a)
		assert.Positive(t, a.DBs[0].Streams, "streams are part of the digest")
	}
	compare("after full sync")

	post := runScript(t, ctx, pc, everyTypeScript("post"))
	post += runScript(t, ctx, pc, geoScript("post"))
	payload, err := pc.Dump(ctx, "post:s").Result()
	require.NoError(t, err)
	require.NoError(t, pc.Restore(ctx, "post:restored", 0, payload).Err())
	require.NoError(t, pc.Restore(ctx, "post:restored-ttl", time.Hour, payload).Err())
	post += 2
	require.NoError(t, redistest.FillAllTypes(ctx, pc, "fill2", 50))
	post += runScript(t, ctx, pc, [][]string{{"SET", "post:after-geo", "v"}, {"SELECT", "5"}, {"SET", "post:db5", "v"},
		{"FLUSHDB"}, {"SWAPDB", "5", "6"}, {"SELECT", "3"}, {"SET", "post:db3", "v"}})
	compare("after the stream")
	var st ShardStats

	st, err = r.Stats(0)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), st.FullSyncs, "nothing in the stream forced a second full sync")
	assert.Zero(t, st.Unapplied, "every command applied; last skipped: %s", st.LastUnapplied)
	info, err := ours.Info(ctx, "replication").Result()
	require.NoError(t, err)
	assert.Contains(t, info, "replsm_unapplied_commands:0")
	t.Logf("differential: %d commands before the full sync, %d streamed, none skipped; digests equal (primary, real replica, ours)", pre, post)
}
