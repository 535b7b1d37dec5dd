package replica

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/redis/cluster"
	core "github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/slot"
)

// routedReplica is a started replica of two shards whose primaries do not
// exist (their slots retry in the background), with routes installed, so
// reads can be checked on data put straight into the keyspaces.
func routedReplica(t testing.TB, routes ...[]cluster.Range) *Replica {
	t.Helper()
	cfg := testConfig(t, map[slot.ID]string{0: "127.0.0.1:1", 1: "127.0.0.1:2"})
	cfg.Logger = nil
	r := startReplica(t, cfg)
	r.SetRoutes(testRoutes(routes...))
	return r
}

func testRoutes(ranges ...[]cluster.Range) *cluster.Routes {
	var shards []cluster.RouteShard
	for i, rg := range ranges {
		if len(rg) == 0 {
			continue
		}
		shards = append(shards, cluster.RouteShard{ID: i, Shard: cluster.Shard{
			MasterID: fmt.Sprintf("node%d", i), Master: fmt.Sprintf("127.0.0.1:%d", i+1), Ranges: rg}})
	}
	return cluster.NewRoutes(shards)
}

func put(t testing.TB, r *Replica, id slot.ID, args ...string) {
	t.Helper()
	sh, err := r.shard(id)
	require.NoError(t, err)
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	db := 0
	_, err = sh.ks.Exec(&db, bs)
	require.NoError(t, err)
}

func TestClusterRoutingHidesStaleCopies(t *testing.T) {
	// "foo" hashes to 12182, "bar" to 5061.
	r := routedReplica(t, []cluster.Range{rg(0, 8191)}, []cluster.Range{rg(8192, 16383)})
	ctx := testCtx(t, 30*time.Second)
	u := unionClient(t, r)
	put(t, r, 0, "SET", "foo", "stale")
	put(t, r, 1, "SET", "foo", "owner")
	put(t, r, 0, "SET", "bar", "b")
	put(t, r, 0, "SET", "{bar}x", "bx")

	require.Equal(t, "owner", u.Get(ctx, "foo").Val(), "a key is read from its slot's owner only")
	keys, err := u.Keys(ctx, "*").Result()
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"foo", "bar", "{bar}x"}, keys, "KEYS lists each key once, from its owner")
	vs, err := u.MGet(ctx, "bar", "{bar}x").Result()
	require.NoError(t, err)
	require.Equal(t, []any{"b", "bx"}, vs)
	require.ErrorContains(t, u.MGet(ctx, "foo", "bar").Err(), "CROSSSLOT Keys in request don't hash to the same slot")
	require.ErrorContains(t, u.Do(ctx, "SUNION", "foo", "bar").Err(), "CROSSSLOT")
	require.ErrorContains(t, u.Set(ctx, "foo", "x", 0).Err(), "READONLY")
	require.EqualValues(t, 12182, u.ClusterKeySlot(ctx, "foo").Val())

	// Scoped to the shard, the stale copy is still there...
	require.Equal(t, "stale", shardClient(t, r, 0).Get(ctx, "foo").Val())
	// ...until the map changes: slot 12182 moves to shard 0, and shard 1
	// keeps a slot. Shard 1's copy is dropped, shard 0's is read.
	put(t, r, 0, "SET", "foo", "moved")
	r.SetRoutes(testRoutes([]cluster.Range{rg(0, 12500)}, []cluster.Range{rg(12501, 16383)}))
	require.Equal(t, "moved", u.Get(ctx, "foo").Val())
	require.Equal(t, redis.Nil, shardClient(t, r, 1).Get(ctx, "foo").Err(), "the stale copy in the shard that lost the slot is deleted")

	// A slot no followed master owns.
	r.SetRoutes(testRoutes([]cluster.Range{rg(0, 100)}))
	require.ErrorContains(t, u.Get(ctx, "foo").Err(), "CLUSTERDOWN Hash slot not served")
	info := u.ClusterInfo(ctx).Val()
	require.Contains(t, info, "cluster_state:fail")
	require.Contains(t, info, "cluster_slots_assigned:101")
}

func TestClusterShardsAddedAndRemovedAtRuntime(t *testing.T) {
	r := routedReplica(t, []cluster.Range{rg(0, 8191)}, []cluster.Range{rg(8192, 16383)})
	require.NoError(t, r.AddShard(5, "127.0.0.1:6", "test"))
	require.ErrorIs(t, r.AddShard(5, "127.0.0.1:7", "test"), core.ErrSlotExists, "a duplicate id")
	require.ErrorIs(t, r.AddShard(6, "127.0.0.1:6", "test"), ErrInvalidConfig, "a primary followed twice")
	require.ErrorIs(t, r.AddShard(7, "nohost", "test"), ErrInvalidConfig)
	require.Equal(t, []slot.ID{0, 1, 5}, r.ShardIDs())
	require.NoError(t, r.RepointShard(5, "127.0.0.1:8", "test"))
	st, err := r.Stats(5)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8", st.Endpoint)
	require.NoError(t, r.RemoveShard(1, "test"))
	require.Equal(t, []slot.ID{0, 5}, r.ShardIDs())
	_, err = r.Stats(1)
	require.ErrorIs(t, err, ErrUnknownShard)
	require.ErrorIs(t, r.RemoveShard(1, "again"), ErrUnknownShard)
}

// BenchmarkClusterGet compares GET routed by hash slot (no REPLSM.SHARD)
// with GET on a connection scoped to the shard, over the loopback.
func BenchmarkClusterGet(b *testing.B) {
	r := routedReplica(b, []cluster.Range{rg(0, 8191)}, []cluster.Range{rg(8192, 16383)})
	for i := range 1000 {
		k := fmt.Sprintf("key:%d", i)
		put(b, r, slot.ID(cluster.HashSlot([]byte(k))/8192), "SET", k, "v")
	}
	ctx := context.Background()
	run := func(b *testing.B, c *redis.Client, keys []string) {
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := c.Get(ctx, keys[i%len(keys)]).Err(); err != nil {
				b.Fatal(err)
			}
		}
	}
	var shard0 []string
	for i := range 1000 {
		if k := fmt.Sprintf("key:%d", i); cluster.HashSlot([]byte(k)) < 8192 {
			shard0 = append(shard0, k)
		}
	}
	b.Run("routed", func(b *testing.B) { run(b, unionClient(b, r), shard0) })
	b.Run("scoped", func(b *testing.B) { run(b, shardClient(b, r, 0), shard0) })
}

// BenchmarkClusterOwner compares finding a key's shard by hash slot with
// the union path's probe of every shard (EXISTS in each), in process.
func BenchmarkClusterOwner(b *testing.B) {
	r := routedReplica(b, []cluster.Range{rg(0, 8191)}, []cluster.Range{rg(8192, 16383)})
	keys := make([][]byte, 1000)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key:%d", i)
		put(b, r, slot.ID(cluster.HashSlot(keys[i])/8192), "SET", string(keys[i]), "v")
	}
	rt := r.Routes()
	b.Run("hash-slot", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			id, _ := rt.Owner(cluster.HashSlot(keys[i%len(keys)]))
			if _, ok := r.lookup(slot.ID(id)); !ok {
				b.Fatal("no shard")
			}
		}
	})
	b.Run("probe-every-shard", func(b *testing.B) {
		st := &connState{}
		for i := 0; i < b.N; i++ {
			if _, err := r.owner(st, 0, keys[i%len(keys)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func rg(start, end int) cluster.Range { return cluster.Range{Start: start, End: end} }
