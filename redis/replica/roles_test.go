package replica

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/redis/primary"
	"github.com/replsm/replsm/slot"
)

// quietPrimaryArgs make a real primary that streams nothing while idle (no
// pings), so that its replicas stand at one offset once the writes stop
// and a SIGKILL leaves them all at the same point of its history.
var quietPrimaryArgs = []string{"--repl-ping-replica-period", "3600", "--repl-backlog-size", "64mb"}

// rolesConfig is testConfig for a shard that is promoted: no keepalive
// churn against the quiet primary, and as a primary a 1 s ping and a 64 MB
// backlog.
func rolesConfig(t *testing.T, addr string) Config {
	cfg := testConfig(t, map[slot.ID]string{0: addr})
	cfg.SlotConfig.KeepaliveTimeout = time.Hour
	cfg.ReadTimeout = time.Hour
	cfg.Primary = func(c *primary.Config) {
		c.PingPeriod = time.Second
		c.BacklogSize = 64 << 20
	}
	return cfg
}

func logHas(t *testing.T, s *redistest.Server, line string) bool {
	b, err := os.ReadFile(s.LogPath())
	require.NoError(t, err)
	return strings.Contains(string(b), line)
}

// TestInteropPromotionKeepsHistory: a replsm replica and two real
// redis-server replicas follow one real primary through a bounded write
// load; the primary is SIGKILLed; REPLICAOF NO ONE promotes the replsm
// shard, and the two real replicas re-pointed at it continue with a partial
// resynchronization (PSYNC2: the old id is its master_replid2), no full
// sync, and end with its data.
func TestInteropPromotionKeepsHistory(t *testing.T) {
	ctx := testCtx(t, 180*time.Second)
	a := redistest.Start(t, redistest.Options{Name: "old-primary", Args: quietPrimaryArgs})
	ac := a.Client()
	require.NoError(t, redistest.FillAllTypes(ctx, ac, "a", 30))
	var reals []*redistest.Server
	for _, name := range []string{"real-1", "real-2"} {
		s := redistest.Start(t, redistest.Options{Name: name, Args: redistest.ReplicaOfArgs(a.Port())})
		require.NoError(t, redistest.WaitReplicaUp(ctx, s.Client()))
		reals = append(reals, s)
	}
	log := &recordLog{}
	cfg := rolesConfig(t, a.Addr())
	cfg.Observers = append(cfg.Observers, log.observe)
	r := startReplica(t, cfg)
	require.NoError(t, r.Instance().WaitSynced(ctx))
	rc := unionClient(t, r)

	// The load: bounded in requests and time; everyone streams it.
	load := redistest.StartLoad(ctx, a.Addr(), 2000, 4, 500, 5)
	<-load.Done()
	_, err := load.Stop()
	require.NoError(t, err)
	require.NoError(t, redistest.FillAllTypes(ctx, ac, "a2", 10)) // transactions and every type in the stream too
	require.NoError(t, redistest.WaitCaughtUp(ctx, ac, rc))
	for _, s := range reals {
		require.NoError(t, redistest.WaitCaughtUp(ctx, ac, s.Client()))
	}
	before, err := redistest.ReplicationInfo(ctx, ac)
	require.NoError(t, err)
	a.Kill()

	t0 := time.Now()
	require.NoError(t, rc.Do(ctx, "REPLICAOF", "NO", "ONE").Err())
	promoted := time.Since(t0)
	info, err := redistest.ReplicationInfo(ctx, rc)
	require.NoError(t, err)
	assert.Equal(t, "master", info["role"])
	assert.Equal(t, before["master_replid"], info["master_replid2"], "the old history is the second id")
	assert.NotEqual(t, before["master_replid"], info["master_replid"], "a new id was drawn")
	off, _ := strconv.ParseInt(before["master_repl_offset"], 10, 64)
	assert.Equal(t, strconv.FormatInt(off+1, 10), info["second_repl_offset"])
	assert.Equal(t, before["master_repl_offset"], info["master_repl_offset"])
	assert.Equal(t, "1", info["repl_backlog_active"])
	role, err := rc.Do(ctx, "ROLE").Slice()
	require.NoError(t, err)
	assert.Equal(t, "master", role[0])
	recs := log.find(0, slot.EvDetach)
	require.Len(t, recs, 1)
	assert.Contains(t, recs[0].Reason, "promoted to primary: REPLICAOF NO ONE")

	// Writable now, and the writes stream to the re-pointed replicas.
	require.NoError(t, rc.Set(ctx, "after-promotion", "1", 0).Err())
	port := strconv.Itoa(portOf(t, r.Addr()))
	t1 := time.Now()
	for _, s := range reals {
		require.NoError(t, s.Client().Do(ctx, "REPLICAOF", "127.0.0.1", port).Err())
	}
	for _, s := range reals {
		require.NoError(t, redistest.WaitCaughtUp(ctx, rc, s.Client()))
	}
	repointed := time.Since(t1)
	require.NoError(t, redistest.FillAllTypes(ctx, rc, "r", 10))
	for _, s := range reals {
		requireSameDigest(t, ctx, rc, s.Client())
		assert.True(t, logHas(t, s, "Successful partial resynchronization with master"), "%s continued", s.Addr())
		assert.False(t, logHas(t, s, "Full resync from master: "+info["master_replid"]), "%s did not full-sync from replsm", s.Addr())
	}
	assert.Equal(t, 0, infoInt(t, rc, "stats", "sync_full"))
	assert.Equal(t, 2, infoInt(t, rc, "stats", "sync_partial_ok"))
	assert.Equal(t, 2, infoInt(t, rc, "replication", "connected_slaves"))
	ps := r.Primary(0).Stats()
	t.Logf("figures: stream offset at the kill %d; REPLICAOF NO ONE took %s; both real replicas re-pointed and caught up in %s; partial syncs %d, full syncs %d, backlog bytes resent %d",
		off, promoted, repointed, ps.PartialSyncs, ps.FullSyncs, ps.ResumedBytes)
}

func portOf(t *testing.T, addr string) int {
	i := strings.LastIndexByte(addr, ':')
	p, err := strconv.Atoi(addr[i+1:])
	require.NoError(t, err)
	return p
}

// TestInteropPromotedRefusesDivergedReplica: a replica that is ahead of
// what the promoted shard has of the old history, or of another history,
// gets a full sync, never +CONTINUE.
func TestInteropPromotedRefusesDivergedReplica(t *testing.T) {
	ctx := testCtx(t, 120*time.Second)
	a := redistest.Start(t, redistest.Options{Name: "old-primary", Args: quietPrimaryArgs})
	ac := a.Client()
	require.NoError(t, redistest.FillAllTypes(ctx, ac, "a", 20))
	r := startReplica(t, rolesConfig(t, a.Addr()))
	require.NoError(t, r.Instance().WaitSynced(ctx))
	rc := unionClient(t, r)
	require.NoError(t, redistest.WaitCaughtUp(ctx, ac, rc))
	_, err := r.Instance().RemoveMaster()
	require.NoError(t, err) // replsm stops following: what A writes next it never gets
	// The real replica gets more of A's history than replsm has.
	b := redistest.Start(t, redistest.Options{Name: "ahead", Args: redistest.ReplicaOfArgs(a.Port())})
	bc := b.Client()
	require.NoError(t, redistest.WaitReplicaUp(ctx, bc))
	require.NoError(t, redistest.FillAllTypes(ctx, ac, "more", 5))
	require.NoError(t, redistest.WaitCaughtUp(ctx, ac, bc))
	a.Kill()

	require.NoError(t, rc.Do(ctx, "REPLICAOF", "NO", "ONE").Err())
	require.NoError(t, bc.Do(ctx, "REPLICAOF", "127.0.0.1", strconv.Itoa(portOf(t, r.Addr()))).Err())
	requireSameDigest(t, ctx, rc, bc)
	assert.Equal(t, 1, infoInt(t, rc, "stats", "sync_full"), "the replica that was ahead got a full sync")
	assert.Equal(t, 0, infoInt(t, rc, "stats", "sync_partial_ok"))
}

// TestInteropDemotionContinuesOwnHistory: a promoted replsm shard with a
// real redis-server replica; the real replica is promoted and replsm is
// demoted to follow it: replsm asks to continue its own history and gets
// +CONTINUE, and the data is the new primary's.
func TestInteropDemotionContinuesOwnHistory(t *testing.T) {
	ctx := testCtx(t, 120*time.Second)
	a := redistest.Start(t, redistest.Options{Name: "seed-primary", Args: quietPrimaryArgs})
	require.NoError(t, redistest.FillAllTypes(ctx, a.Client(), "a", 20))
	log := &recordLog{}
	cfg := rolesConfig(t, a.Addr())
	cfg.Observers = append(cfg.Observers, log.observe)
	r := startReplica(t, cfg)
	require.NoError(t, r.Instance().WaitSynced(ctx))
	rc := unionClient(t, r)
	require.NoError(t, redistest.WaitCaughtUp(ctx, a.Client(), rc))
	a.Kill()
	require.NoError(t, rc.Do(ctx, "REPLICAOF", "NO", "ONE").Err())

	// replsm is the primary, with a real replica, under writes.
	b := redistest.Start(t, redistest.Options{Name: "real-replica", Args: append(redistest.ReplicaOfArgs(portOf(t, r.Addr())), "--repl-timeout", "60")})
	bc := b.Client()
	require.NoError(t, redistest.WaitReplicaUp(ctx, bc))
	require.NoError(t, redistest.FillAllTypes(ctx, rc, "p", 10))
	requireSameDigest(t, ctx, rc, bc)
	assert.Equal(t, 1, infoInt(t, rc, "stats", "sync_full"), "the new real replica's first sync")

	// Fail over to the real replica; replsm follows it.
	require.NoError(t, bc.Do(ctx, "REPLICAOF", "NO", "ONE").Err())
	require.NoError(t, rc.Do(ctx, "REPLICAOF", "127.0.0.1", strconv.Itoa(b.Port())).Err())
	waitState(t, r, 0, slot.Connected, 60*time.Second)
	require.NoError(t, redistest.FillAllTypes(ctx, bc, "b", 10))
	requireSameDigest(t, ctx, bc, rc)
	st := slotStatus(t, r, 0)
	assert.Equal(t, uint64(1), st.Stats.FullSyncs, "only the first sync from the seed primary was full")
	assert.Equal(t, 0, infoInt(t, bc, "stats", "sync_full"), "the new primary served no full sync")
	assert.GreaterOrEqual(t, infoInt(t, bc, "stats", "sync_partial_ok"), 1)
	assert.Len(t, log.find(0, slot.EvResume), 1, "the demotion is a logged transition")
	// Writes are refused again.
	assert.ErrorContains(t, rc.Set(ctx, "k", "v", 0).Err(), "READONLY")
}

// TestInteropStartedPrimaryDemoted: a server started as a primary (as
// `replsm primary` starts it) with a real redis-server replica; the real
// replica is promoted and replsm, told REPLICAOF, continues its own
// history there with a partial resync.
func TestInteropStartedPrimaryDemoted(t *testing.T) {
	ctx := testCtx(t, 120*time.Second)
	log := &recordLog{}
	cfg := rolesConfig(t, "127.0.0.1:1") // a placeholder: nothing is followed until REPLICAOF
	cfg.StartAsPrimary = true
	cfg.Observers = append(cfg.Observers, log.observe)
	r := startReplica(t, cfg)
	rc := unionClient(t, r)
	assert.Equal(t, "master", infoString(t, rc, "role"))
	require.NoError(t, redistest.FillAllTypes(ctx, rc, "p", 20))

	b := redistest.Start(t, redistest.Options{Name: "real-replica", Args: redistest.ReplicaOfArgs(portOf(t, r.Addr()))})
	bc := b.Client()
	require.NoError(t, redistest.WaitReplicaUp(ctx, bc))
	c := redistest.Start(t, redistest.Options{Name: "other-replica", Args: redistest.ReplicaOfArgs(portOf(t, r.Addr()))})
	cc := c.Client()
	require.NoError(t, redistest.WaitReplicaUp(ctx, cc))
	require.NoError(t, redistest.FillAllTypes(ctx, rc, "q", 10))
	requireSameDigest(t, ctx, rc, bc)
	requireSameDigest(t, ctx, rc, cc)
	assert.Equal(t, 2, infoInt(t, rc, "replication", "connected_slaves"))

	require.NoError(t, bc.Do(ctx, "REPLICAOF", "NO", "ONE").Err())
	require.NoError(t, rc.Do(ctx, "REPLICAOF", "127.0.0.1", strconv.Itoa(b.Port())).Err())
	// Its own replica was disconnected, as Redis does; re-pointed at the
	// new primary it continues too (replsm's history is the new primary's
	// second id).
	redistest.RequireEventually(t, 30*time.Second, "the other replica's link to replsm is down", func(context.Context) error {
		if s := infoString(t, cc, "master_link_status"); s != "down" {
			return fmt.Errorf("link %s", s)
		}
		return nil
	})
	require.NoError(t, cc.Do(ctx, "REPLICAOF", "127.0.0.1", strconv.Itoa(b.Port())).Err())
	waitState(t, r, 0, slot.Connected, 60*time.Second)
	require.NoError(t, redistest.FillAllTypes(ctx, bc, "b", 10))
	requireSameDigest(t, ctx, bc, rc)
	st := slotStatus(t, r, 0)
	assert.Equal(t, uint64(0), st.Stats.FullSyncs, "replsm continued its own history: no full sync")
	assert.Equal(t, uint64(1), st.Stats.PartialSyncs)
	requireSameDigest(t, ctx, bc, cc)
	assert.Equal(t, 0, infoInt(t, bc, "stats", "sync_full"), "neither replsm nor the other replica needed a full sync")
	assert.Equal(t, 2, infoInt(t, bc, "stats", "sync_partial_ok"))
	require.Len(t, log.find(0, slot.EvResume), 1)
	assert.Contains(t, log.find(0, slot.EvResume)[0].Reason, "demoted to replica of "+b.Addr())
	assert.Equal(t, "slave", infoString(t, rc, "role"))
}

func infoString(t *testing.T, c *redis.Client, field string) string {
	t.Helper()
	m, err := redistest.ReplicationInfo(context.Background(), c)
	require.NoError(t, err)
	return m[field]
}

// TestInteropReplsmReplicaOfNoOneOneShard: on a two-shard server
// REPLSM.REPLICAOF <id> NO ONE promotes only that shard; it is written
// through a connection scoped to it, while unscoped writes stay refused;
// REPLSM.REPLICAOF <id> host port demotes it again (its own primary does
// not know the promoted history: a full sync, never a continue).
func TestInteropReplsmReplicaOfNoOneOneShard(t *testing.T) {
	ctx := testCtx(t, 120*time.Second)
	a, b := startPrimary(t, "shard-0"), startPrimary(t, "shard-1")
	require.NoError(t, redistest.FillAllTypes(ctx, a.Client(), "a", 5))
	require.NoError(t, redistest.FillAllTypes(ctx, b.Client(), "b", 5))
	r := startReplica(t, testConfig(t, map[slot.ID]string{0: a.Addr(), 1: b.Addr()}))
	require.NoError(t, r.Instance().WaitSynced(ctx))
	u := unionClient(t, r)
	require.ErrorContains(t, u.Do(ctx, "REPLICAOF", "NO", "ONE").Err(), "ambiguous")
	require.NoError(t, u.Do(ctx, "REPLSM.REPLICAOF", "1", "NO", "ONE").Err())
	require.NotNil(t, r.Primary(1))
	assert.Nil(t, r.Primary(0))

	s1 := shardClient(t, r, 1)
	require.NoError(t, s1.Set(ctx, "written-on-shard-1", "x", 0).Err())
	assert.Equal(t, "master", infoString(t, s1, "role"))
	assert.ErrorContains(t, u.Set(ctx, "k", "v", 0).Err(), "READONLY")
	assert.Equal(t, "x", u.Get(ctx, "written-on-shard-1").Val(), "the union reads the promoted shard too")
	assert.Equal(t, slot.Connected, slotStatus(t, r, 0).State, "the other shard keeps following")

	require.NoError(t, u.Do(ctx, "REPLSM.REPLICAOF", "1", "127.0.0.1", strconv.Itoa(b.Port())).Err())
	assert.Nil(t, r.Primary(1))
	waitState(t, r, 1, slot.Connected, 60*time.Second)
	requireSameDigest(t, ctx, b.Client(), shardClient(t, r, 1))
	assert.Equal(t, uint64(2), slotStatus(t, r, 1).Stats.FullSyncs, "the old primary never had the promoted history")
}
