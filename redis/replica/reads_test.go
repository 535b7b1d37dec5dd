package replica

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/slot"
)

// readReplica is a started Replica whose shards follow nothing reachable;
// the tests load their keyspaces directly.
func readReplica(t *testing.T, shards int) *Replica {
	t.Helper()
	eps := map[slot.ID]string{}
	for i := 0; i < shards; i++ {
		port, err := redistest.FreePort()
		require.NoError(t, err)
		eps[slot.ID(i)] = fmt.Sprintf("127.0.0.1:%d", port)
	}
	cfg := testConfig(t, eps)
	cfg.SlotConfig.RecoveryCap = 1
	return startReplica(t, cfg)
}

// load runs write commands on shard id's keyspace in db.
func load(t *testing.T, r *Replica, id slot.ID, db int, cmds ...[]string) {
	t.Helper()
	sh, err := r.shard(id)
	require.NoError(t, err)
	for _, c := range cmds {
		args := make([][]byte, len(c))
		for i, a := range c {
			args[i] = []byte(a)
		}
		d := db
		res, err := sh.ks.Exec(&d, args)
		require.NoError(t, err)
		require.NotEqual(t, "error", res.Reply.Kind.String(), "%v: %v", c, res.Reply)
	}
}

func TestReadsSeeTheUnionOfShards(t *testing.T) {
	ctx := testCtx(t, 20*time.Second)
	r := readReplica(t, 2)
	load(t, r, 0, 0,
		[]string{"SET", "s0", "zero"},
		[]string{"RPUSH", "l0", "a", "b", "c"},
		[]string{"HSET", "h0", "f", "v", "g", "w"},
		[]string{"SET", "ttl0", "x", "PX", "100000000"},
	)
	load(t, r, 1, 0,
		[]string{"SET", "s1", "one"},
		[]string{"SADD", "set1", "m1", "m2"},
		[]string{"ZADD", "z1", "1.5", "a", "-2", "b"},
	)
	load(t, r, 1, 3, []string{"SET", "db3", "three"})
	u := unionClient(t, r)

	assert.Equal(t, "PONG", u.Ping(ctx).Val())
	assert.Equal(t, "zero", u.Get(ctx, "s0").Val())
	assert.Equal(t, "one", u.Get(ctx, "s1").Val())
	assert.Equal(t, []any{"zero", "one", nil, nil}, u.MGet(ctx, "s0", "s1", "l0", "missing").Val())
	assert.Equal(t, int64(3), u.Exists(ctx, "s0", "s1", "set1", "missing").Val())
	assert.Equal(t, "list", u.Type(ctx, "l0").Val())
	assert.Equal(t, "zset", u.Type(ctx, "z1").Val())
	assert.Equal(t, "none", u.Type(ctx, "missing").Val())
	assert.Equal(t, time.Duration(-1), u.TTL(ctx, "s1").Val())
	assert.Greater(t, u.PTTL(ctx, "ttl0").Val(), time.Hour)
	assert.Equal(t, int64(4), u.StrLen(ctx, "s0").Val())
	assert.Equal(t, []string{"b", "c"}, u.LRange(ctx, "l0", 1, -1).Val())
	assert.Equal(t, int64(3), u.LLen(ctx, "l0").Val())
	assert.Equal(t, "w", u.HGet(ctx, "h0", "g").Val())
	assert.Equal(t, map[string]string{"f": "v", "g": "w"}, u.HGetAll(ctx, "h0").Val())
	members := u.SMembers(ctx, "set1").Val()
	sort.Strings(members)
	assert.Equal(t, []string{"m1", "m2"}, members)
	assert.Equal(t, int64(2), u.SCard(ctx, "set1").Val())
	assert.Equal(t, []redis.Z{{Score: -2, Member: "b"}, {Score: 1.5, Member: "a"}}, u.ZRangeWithScores(ctx, "z1", 0, -1).Val())
	assert.Equal(t, 1.5, u.ZScore(ctx, "z1", "a").Val())
	assert.Equal(t, int64(7), u.DBSize(ctx).Val())
	keys := u.Keys(ctx, "*").Val()
	sort.Strings(keys)
	assert.Equal(t, []string{"h0", "l0", "s0", "s1", "set1", "ttl0", "z1"}, keys)
	assert.ElementsMatch(t, keys, scanAll(t, u, 2))

	// SELECT is per connection.
	c3 := redistest.NewClient(r.Addr(), 3)
	t.Cleanup(func() { _ = c3.Close() })
	assert.Equal(t, "three", c3.Get(ctx, "db3").Val())
	assert.Equal(t, int64(1), c3.DBSize(ctx).Val())
	assert.EqualError(t, u.Do(ctx, "SELECT", "16").Err(), "ERR DB index is out of range")

	// REPLSM.SHARD scopes reads; ALL undoes it.
	s1 := shardClient(t, r, 1)
	assert.Equal(t, int64(3), s1.DBSize(ctx).Val())
	assert.Equal(t, redis.Nil, s1.Get(ctx, "s0").Err())
	assert.ElementsMatch(t, []string{"s1", "set1", "z1"}, scanAll(t, s1, 1))
	conn := u.Conn()
	t.Cleanup(func() { _ = conn.Close() })
	require.NoError(t, conn.Do(ctx, "REPLSM.SHARD", "0").Err())
	assert.Equal(t, int64(4), conn.DBSize(ctx).Val())
	require.NoError(t, conn.Do(ctx, "REPLSM.SHARD", "all").Err())
	assert.Equal(t, int64(7), conn.DBSize(ctx).Val())
	assert.ErrorContains(t, conn.Do(ctx, "REPLSM.SHARD", "9").Err(), "unknown shard")
	assert.ErrorContains(t, conn.Do(ctx, "REPLSM.SHARD", "x").Err(), "unknown shard")
	assert.ErrorContains(t, u.Do(ctx, "SCAN", "123").Err(), "invalid cursor")
}

// TestReadsKeyInTwoShardsIsAnError: shards hold disjoint keys. A key found
// in two is never silently read from one: key reads fail naming the
// shards; DBSIZE sums; SCAN walks every shard; a scoped read still works.
func TestReadsKeyInTwoShardsIsAnError(t *testing.T) {
	ctx := testCtx(t, 20*time.Second)
	r := readReplica(t, 2)
	load(t, r, 0, 0, []string{"SET", "dup", "zero"}, []string{"SET", "only0", "a"})
	load(t, r, 1, 0, []string{"SET", "dup", "one"}, []string{"XADD", "x1", "1-1", "f", "v"})
	u := unionClient(t, r)
	for _, args := range [][]any{{"GET", "dup"}, {"TYPE", "dup"}, {"EXISTS", "only0", "dup"}, {"MGET", "only0", "dup"}} {
		err := u.Do(ctx, args...).Err()
		require.Error(t, err, "%v", args)
		assert.Contains(t, err.Error(), "held by shards 0, 1", "%v", args)
	}
	assert.Equal(t, "a", u.Get(ctx, "only0").Val())
	assert.Equal(t, int64(1), u.XLen(ctx, "x1").Val())
	groups, err := u.Do(ctx, "XINFO", "STREAM", "x1").Slice()
	require.NoError(t, err, "XINFO finds its key in the second argument")
	assert.Equal(t, "length", groups[0])
	read, err := u.XRead(ctx, &redis.XReadArgs{Streams: []string{"x1", "0"}, Block: -1}).Result()
	require.NoError(t, err, "XREAD finds its key after STREAMS")
	require.Len(t, read, 1)
	assert.Equal(t, "1-1", read[0].Messages[0].ID)
	assert.Equal(t, int64(4), u.DBSize(ctx).Val())
	assert.ElementsMatch(t, []string{"dup", "only0", "dup", "x1"}, scanAll(t, u, 2))
	assert.Equal(t, "one", shardClient(t, r, 1).Get(ctx, "dup").Val())
}

func TestReadsRefuseWrites(t *testing.T) {
	ctx := testCtx(t, 20*time.Second)
	u := unionClient(t, readReplica(t, 1))
	for _, args := range [][]any{{"SET", "k", "v"}, {"DEL", "k"}, {"FLUSHALL"}, {"LPUSH", "l", "x"}, {"PEXPIREAT", "k", "1"}} {
		err := u.Do(ctx, args...).Err()
		assert.EqualError(t, err, "READONLY You can't write against a read only replica.", "%v", args)
	}
	_, err := u.TxPipelined(ctx, func(p redis.Pipeliner) error { p.Set(ctx, "k", "v", 0); return nil })
	assert.ErrorContains(t, err, "EXECABORT", "a write queued in MULTI aborts EXEC, as on a Redis replica")
	assert.ErrorContains(t, u.Do(ctx, "NOSUCHCOMMAND", "x").Err(), "unknown command")
	assert.ErrorContains(t, u.Do(ctx, "GET").Err(), "wrong number of arguments")
}

func TestRoleAndInfo(t *testing.T) {
	ctx := testCtx(t, 20*time.Second)
	r := readReplica(t, 2)
	redistest.RequireEventually(t, 10*time.Second, "shard 1 exhausted", func(context.Context) error {
		if st := r.Info().Slots[1]; !st.Exhausted {
			return fmt.Errorf("shard 1 %s, exhausted %t", st.State, st.Exhausted)
		}
		return nil
	})
	sh0, _ := r.Stats(0)
	s0 := shardClient(t, r, 0)

	role, err := s0.Do(ctx, "ROLE").Slice()
	require.NoError(t, err)
	assert.Equal(t, "slave", role[0])
	assert.Equal(t, "127.0.0.1", role[1])
	assert.Equal(t, "connect", role[3])
	assert.Equal(t, int64(-1), role[4], "no data yet")

	info, err := redistest.ReplicationInfo(ctx, s0)
	require.NoError(t, err)
	assert.Equal(t, "slave", info["role"])
	assert.Equal(t, "down", info["master_link_status"])
	assert.Equal(t, sh0.Endpoint, info["master_host"]+":"+info["master_port"])
	assert.Equal(t, noReplID, info["master_replid"])
	assert.Contains(t, info["replsm_last_failure"], "connection refused")

	u := unionClient(t, r)
	// ROLE keeps Redis's shape: with two shards unscoped it is an error
	// that points at REPLSM.SHARD; REPLSM.ROLE lists every shard.
	assert.ErrorContains(t, u.Do(ctx, "ROLE").Err(), "REPLSM.SHARD")
	role, err = u.Do(ctx, "REPLSM.ROLE").Slice()
	require.NoError(t, err)
	require.Len(t, role, 3)
	assert.Equal(t, "slave", role[0])
	assert.Equal(t, "0", role[1].([]any)[0])
	assert.Equal(t, "1", role[2].([]any)[0])
	one, err := s0.Do(ctx, "REPLSM.ROLE").Slice()
	require.NoError(t, err)
	require.Len(t, one, 2)
	assert.Equal(t, []any{"0", "127.0.0.1", role[1].([]any)[2], "connect", int64(-1)}, one[1])
	text, err := u.Info(ctx).Result()
	require.NoError(t, err)
	for _, want := range []string{"# Replication", "replsm_shards:2", "shard0:master_host=127.0.0.1", "shard1:", "# Keyspace", "# Replsm", "instance_state:Connected", "slot/0:state=", "slot/1:state=Error", "exhausted=true"} {
		assert.Contains(t, text, want)
	}
	text, err = s0.Info(ctx, "replsm").Result()
	require.NoError(t, err)
	assert.Contains(t, text, "slot/0:")
	assert.NotContains(t, text, "slot/1:", "a scoped connection sees its own shard")
	text, err = u.Do(ctx, "REPLSM.INFO").Text()
	require.NoError(t, err)
	assert.Contains(t, text, "slot/1:state=Error")
	assert.ErrorContains(t, u.Do(ctx, "REPLSM.RESET", "7").Err(), "unknown shard")
	require.NoError(t, u.Do(ctx, "REPLSM.RESET", "1").Err())
}

// scanAll runs a SCAN iteration to its end with COUNT count.
func scanAll(t *testing.T, c *redis.Client, count int64) []string {
	t.Helper()
	ctx := testCtx(t, 10*time.Second)
	var out []string
	var cursor uint64
	for calls := 0; calls == 0 || cursor != 0; calls++ {
		require.Less(t, calls, 1000, "SCAN does not end")
		var page []string
		var err error
		page, cursor, err = c.Scan(ctx, cursor, "", count).Result()
		require.NoError(t, err)
		out = append(out, page...)
	}
	return out
}
