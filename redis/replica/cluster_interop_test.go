package replica

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/redis/cluster"
	"github.com/replsm/replsm/slot"
)

// clusterRig is a real 3+3 Redis Cluster and a replica following it.
type clusterRig struct {
	t  *testing.T
	c  *redistest.Cluster
	f  *cluster.Follower
	r  *Replica
	cc *redis.ClusterClient
}

// clusterNodeTimeout is short so an automatic failover takes seconds, and
// long enough that a busy machine does not fail masters over by itself.
const clusterNodeTimeout = 2 * time.Second

func startClusterRig(t *testing.T) *clusterRig {
	t.Helper()
	c := redistest.StartCluster(t, redistest.ClusterOptions{NodeTimeout: clusterNodeTimeout, Args: primaryArgs})
	cfg := testConfig(t, nil)
	f, err := cluster.NewFollower(cluster.Config{
		Seeds: strings.Split(c.Seeds(), ","), Interval: 500 * time.Millisecond, Logger: cfg.Logger, Seed: 1,
	}, clock.New())
	require.NoError(t, err)
	shards, err := f.Bootstrap(testCtx(t, 30*time.Second))
	require.NoError(t, err)
	require.Len(t, shards, 3)
	cfg.Shards = shards
	cfg.Observers = append(cfg.Observers, f.SlotObserver())
	r := startReplica(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx, r) }()
	t.Cleanup(func() { cancel(); <-done })
	return &clusterRig{t: t, c: c, f: f, r: r, cc: c.Client()}
}

// load writes n string keys and n/10 hashes across all slots through the
// cluster client, in pipelines, bounded by n and by ctx.
func (g *clusterRig) load(ctx context.Context, prefix string, n int) {
	g.t.Helper()
	for i := 0; i < n; i += 100 {
		// Right after a failover the client's slot map may still name a
		// dead master: reload it and write the batch again (idempotent).
		err := redistest.Eventually(ctx, 30*time.Second, func(ctx context.Context) error {
			p := g.cc.Pipeline()
			for j := i; j < min(i+100, n); j++ {
				p.Set(ctx, fmt.Sprintf("%s:%d", prefix, j), strconv.Itoa(j*7), 0)
				if j%10 == 0 {
					p.HSet(ctx, fmt.Sprintf("{%s:h%d}", prefix, j), "f", j, "g", prefix)
				}
			}
			_, err := p.Exec(ctx)
			if err != nil {
				g.cc.ReloadState(ctx)
			}
			return err
		})
		require.NoError(g.t, err, "load %s at %d", prefix, i)
	}
}

// requireShardsEqual waits until each shard is caught up with the master
// the replica follows for it and compares their digests.
func (g *clusterRig) requireShardsEqual(ctx context.Context) {
	g.t.Helper()
	for _, id := range g.r.ShardIDs() {
		st, err := g.r.Stats(id)
		require.NoError(g.t, err)
		node := g.c.Node(st.Endpoint)
		require.NotNil(g.t, node, "shard %d follows %s, not a node of the cluster", id, st.Endpoint)
		primary, replica := node.Client(), shardClient(g.t, g.r, id)
		require.NoError(g.t, redistest.WaitCaughtUp(ctx, primary, replica))
		// A cluster has database 0 only.
		equal, want, got, err := redistest.Compare(ctx, primary, replica, []int{0})
		require.NoError(g.t, err)
		if !equal {
			g.t.Fatalf("shard %d: digests differ:\nmaster %v\nreplica %v\n%v", id, want, got, want.Diff(got, 20))
		}
	}
}

// requireSampleEqual reads every step-th of n keys through the replica
// without scoping and through the cluster, and compares them.
func (g *clusterRig) requireSampleEqual(ctx context.Context, prefix string, n, step int) int {
	g.t.Helper()
	u := unionClient(g.t, g.r)
	read := 0
	for j := 0; j < n; j += step {
		k := fmt.Sprintf("%s:%d", prefix, j)
		want, err := g.cc.Get(ctx, k).Result()
		require.NoError(g.t, err, k)
		got, err := u.Get(ctx, k).Result()
		require.NoError(g.t, err, k)
		require.Equal(g.t, want, got, k)
		read++
	}
	return read
}

func (g *clusterRig) waitFollowing(id slot.ID, addr string, within time.Duration) {
	g.t.Helper()
	redistest.RequireEventually(g.t, within, fmt.Sprintf("shard %d streaming from %s", id, addr), func(context.Context) error {
		st, err := g.r.Stats(id)
		if err != nil {
			return err
		}
		if st.Endpoint != addr || st.State != slot.Connected {
			return fmt.Errorf("shard %d: %s at %s", id, st.State, st.Endpoint)
		}
		return nil
	})
}

// nodeSyncFull is a cluster node's sync_full counter.
func nodeSyncFull(t *testing.T, ctx context.Context, s *redistest.Server) int {
	return int(syncFull(t, ctx, s.Client()))
}

func TestClusterFollowUnderLoad(t *testing.T) {
	g := startClusterRig(t)
	ctx := testCtx(t, 3*time.Minute)
	const n = 5000
	g.load(ctx, "k", n) // while the shards do their first syncs
	g.requireShardsEqual(ctx)
	read := g.requireSampleEqual(ctx, "k", n, n/1000)
	require.Equal(t, 1000, read)

	u := unionClient(t, g.r)
	// Keys of one slot (a hash tag) read together; keys of two slots get
	// Redis's CROSSSLOT error.
	require.NoError(t, g.cc.MSet(ctx, "{t}a", "1", "{t}b", "2").Err())
	require.NoError(t, redistest.Eventually(ctx, 30*time.Second, func(ctx context.Context) error {
		vs, err := u.MGet(ctx, "{t}a", "{t}b").Result()
		if err != nil || fmt.Sprint(vs) != "[1 2]" {
			return fmt.Errorf("MGET {t}a {t}b = %v, %v", vs, err)
		}
		return nil
	}))
	require.NotEqual(t, cluster.HashSlot([]byte("k:1")), cluster.HashSlot([]byte("k:2")))
	err := u.MGet(ctx, "k:1", "k:2").Err()
	require.ErrorContains(t, err, "CROSSSLOT Keys in request don't hash to the same slot")
	require.ErrorContains(t, u.Exists(ctx, "k:1", "k:2").Err(), "CROSSSLOT")

	// DBSIZE and KEYS cover every shard.
	var total int64
	for _, m := range g.c.Masters() {
		total += m.Client().DBSize(ctx).Val()
	}
	require.Equal(t, total, u.DBSize(ctx).Val())
	keys, err := u.Keys(ctx, "k:*").Result()
	require.NoError(t, err)
	require.Len(t, keys, n)

	// CLUSTER SLOTS / SHARDS / KEYSLOT report what is followed.
	slots, err := u.ClusterSlots(ctx).Result()
	require.NoError(t, err)
	covered := 0
	for _, s := range slots {
		covered += s.End - s.Start + 1
		require.NotNil(t, g.c.Node(s.Nodes[0].Addr), "CLUSTER SLOTS names %s", s.Nodes[0].Addr)
	}
	require.Equal(t, cluster.NumSlots, covered)
	shards, err := u.ClusterShards(ctx).Result()
	require.NoError(t, err)
	require.Len(t, shards, 3)
	ks, err := u.ClusterKeySlot(ctx, "{user1000}.following").Result()
	require.NoError(t, err)
	require.EqualValues(t, 3443, ks)
	require.ErrorContains(t, u.Set(ctx, "k:1", "x", 0).Err(), "READONLY")
	for _, id := range g.r.ShardIDs() {
		st, _ := g.r.Stats(id)
		t.Logf("shard %d follows %s: %d keys, full syncs %d, partial %d", id, st.Endpoint, st.Keys, st.FullSyncs, st.PartialSyncs)
	}
}

func TestClusterFailoversContinuePartially(t *testing.T) {
	g := startClusterRig(t)
	ctx := testCtx(t, 4*time.Minute)
	g.load(ctx, "a", 2000)
	g.requireShardsEqual(ctx)

	failover := func(id slot.ID, how string, do func(old, promoted *redistest.Server)) {
		t.Helper()
		st, err := g.r.Stats(id)
		require.NoError(t, err)
		old := g.c.Node(st.Endpoint)
		promoted := g.c.ReplicaOf(old.Addr())
		require.NotNil(t, promoted, "master %s has no replica", old.Addr())
		// The promoted node must hold everything we hold, or no master
		// could continue us: wait until it caught up with its master.
		require.NoError(t, redistest.WaitCaughtUp(ctx, old.Client(), promoted.Client()))
		fullBefore := nodeSyncFull(t, ctx, promoted)
		start := time.Now()
		do(old, promoted)
		g.waitFollowing(id, promoted.Addr(), 60*time.Second)
		took := time.Since(start)
		after, err := g.r.Stats(id)
		require.NoError(t, err)
		require.Equal(t, st.FullSyncs, after.FullSyncs, "%s: the replica did a full sync", how)
		require.Greater(t, after.PartialSyncs, st.PartialSyncs, "%s: no +CONTINUE", how)
		require.Equal(t, fullBefore, nodeSyncFull(t, ctx, promoted), "%s: the promoted node served a full sync", how)
		t.Logf("%s of shard %d (%s -> %s): streaming again after %s; full syncs +%d, partial +%d",
			how, id, old.Addr(), promoted.Addr(), took.Round(time.Millisecond), after.FullSyncs-st.FullSyncs, after.PartialSyncs-st.PartialSyncs)
	}

	failover(0, "CLUSTER FAILOVER", func(_, promoted *redistest.Server) {
		require.NoError(t, promoted.Client().Do(ctx, "CLUSTER", "FAILOVER").Err())
	})
	g.c.WaitOK()
	g.load(ctx, "b", 1000)
	g.requireShardsEqual(ctx)

	failover(1, "SIGKILL of the master", func(old, _ *redistest.Server) { old.Kill() })
	g.c.WaitOK()
	g.load(ctx, "c", 1000)
	g.requireShardsEqual(ctx)
	g.requireSampleEqual(ctx, "a", 2000, 10)
	g.requireSampleEqual(ctx, "c", 1000, 10)
}

func TestClusterReshardToANewMaster(t *testing.T) {
	g := startClusterRig(t)
	ctx := testCtx(t, 4*time.Minute)
	const n = 3000
	g.load(ctx, "r", n)
	g.requireShardsEqual(ctx)

	// A fourth master joins and takes 600 slots from the others, keys
	// and all (MIGRATE: DEL in the sources' streams, RESTORE-ASKING in
	// the new master's).
	seed := g.c.Nodes[0].Addr()
	nw := g.c.StartNode()
	g.c.CLI("--cluster", "add-node", nw.Addr(), seed)
	g.c.WaitOK()
	newID, err := nw.Client().Do(ctx, "CLUSTER", "MYID").Text()
	require.NoError(t, err)
	start := time.Now()
	g.c.CLI("--cluster", "reshard", seed, "--cluster-from", "all", "--cluster-to", newID,
		"--cluster-slots", "600", "--cluster-yes")
	g.c.WaitOK()
	redistest.RequireEventually(t, 60*time.Second, "the new master followed as a fourth shard", func(context.Context) error {
		for _, id := range g.r.ShardIDs() {
			if st, _ := g.r.Stats(id); st.Endpoint == nw.Addr() && st.State == slot.Connected {
				return nil
			}
		}
		return fmt.Errorf("shards %v", g.r.ShardIDs())
	})
	m, err := cluster.Query(ctx, nw.Addr())
	require.NoError(t, err)
	want := 0
	for _, s := range m.Shards {
		if s.Master == nw.Addr() {
			want = s.Slots() // redis-cli splits 600 among the sources: 599 or 600
		}
	}
	require.Greater(t, want, 500)
	redistest.RequireEventually(t, 60*time.Second, "routes naming the new master's slots", func(context.Context) error {
		owned := 0
		for _, s := range g.r.Routes().Shards() {
			if s.Master == nw.Addr() {
				owned = s.Slots()
			}
		}
		if owned != want {
			return fmt.Errorf("the new master owns %d slots in the routes, %d in the cluster", owned, want)
		}
		return nil
	})
	t.Logf("reshard of %d slots to a new master: followed as shard %d within %s of the reshard's start",
		want, len(g.r.ShardIDs())-1, time.Since(start).Round(time.Millisecond))
	g.requireShardsEqual(ctx)
	g.requireSampleEqual(ctx, "r", n, 3)

	// Then every slot of shard 2's master moves to the new one, which is
	// followed now: its stream carries RESTORE-ASKING, shard 2's the DELs,
	// and shard 2, left without slots, is removed.
	var from cluster.RouteShard
	for _, s := range g.r.Routes().Shards() {
		if s.ID == 2 {
			from = s
		}
	}
	require.NotEmpty(t, from.MasterID)
	changesBefore := len(g.f.Status().Changes)
	start = time.Now()
	g.c.CLI("--cluster", "reshard", seed, "--cluster-from", from.MasterID, "--cluster-to", newID,
		"--cluster-slots", strconv.Itoa(from.Slots()), "--cluster-yes")
	g.c.WaitOK()
	redistest.RequireEventually(t, 60*time.Second, "shard 2 removed", func(context.Context) error {
		if _, err := g.r.Stats(2); err == nil {
			return fmt.Errorf("shard 2 still followed")
		}
		return nil
	})
	t.Logf("reshard of all %d slots of shard 2's master: shard removed within %s; the map was applied %d times meanwhile",
		from.Slots(), time.Since(start).Round(time.Millisecond), (len(g.f.Status().Changes)-changesBefore)/2)
	g.requireShardsEqual(ctx)
	g.requireSampleEqual(ctx, "r", n, 3)

	// Every key exactly once over the shards, in its owner.
	u := unionClient(t, g.r)
	keys, err := u.Keys(ctx, "r:*").Result()
	require.NoError(t, err)
	require.Len(t, keys, n)
	var total int64
	for _, m := range g.c.Masters() {
		total += m.Client().DBSize(ctx).Val()
	}
	require.Equal(t, total, u.DBSize(ctx).Val())
	for _, id := range g.r.ShardIDs() {
		st, _ := g.r.Stats(id)
		t.Logf("shard %d follows %s: %d keys, full syncs %d, partial %d", id, st.Endpoint, st.Keys, st.FullSyncs, st.PartialSyncs)
	}
}
