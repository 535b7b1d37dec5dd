package replica

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/slot"
)

// TestInteropReplicaOfRuntime re-points a shard at runtime. To a replica of
// the primary it follows (the shape of a failover): the new node continues
// the same history and answers +CONTINUE, no full sync. To an unrelated
// primary: a full sync of that primary's data. To the primary already
// followed: +OK and nothing else.
func TestInteropReplicaOfRuntime(t *testing.T) {
	ctx := testCtx(t, 120*time.Second)
	a := startPrimary(t, "primary-a")
	ac := a.Client()
	require.NoError(t, redistest.FillAllTypes(ctx, ac, "a", 30))
	b := redistest.Start(t, redistest.Options{Name: "replica-of-a", Args: append(redistest.ReplicaOfArgs(a.Port()), primaryArgs...)})
	bc := b.Client()
	require.NoError(t, redistest.WaitReplicaUp(ctx, bc))
	other := startPrimary(t, "unrelated")
	oc := other.Client()
	require.NoError(t, redistest.FillAllTypes(ctx, oc, "o", 20))

	log := &recordLog{}
	cfg := testConfig(t, map[slot.ID]string{0: a.Addr()})
	cfg.Observers = append(cfg.Observers, log.observe)
	checkInvariants(t, &cfg)
	r := startReplica(t, cfg)
	require.NoError(t, r.Instance().WaitSynced(ctx))
	rc := unionClient(t, r)
	requireSameDigest(t, ctx, ac, rc)
	fullBefore := slotStatus(t, r, 0).Stats.FullSyncs
	sess := slotStatus(t, r, 0).Session

	// The primary already followed: nothing happens.
	require.NoError(t, rc.Do(ctx, "REPLICAOF", "127.0.0.1", strconv.Itoa(a.Port())).Err())
	assert.Equal(t, sess, slotStatus(t, r, 0).Session, "no new session")
	assert.Empty(t, log.find(0, slot.EvRepoint))

	// Bad input: a clear error, nothing changes.
	for _, bad := range [][]any{{"REPLICAOF", "127.0.0.1", "0"}, {"REPLICAOF", "127.0.0.1", "x"}, {"REPLICAOF", "h"}, {"REPLSM.REPLICAOF", "9", "127.0.0.1", "6379"}} {
		require.Error(t, rc.Do(ctx, bad...).Err(), "%v", bad)
	}
	assert.Equal(t, sess, slotStatus(t, r, 0).Session)

	// To a replica of A, which continues A's history: +CONTINUE.
	require.NoError(t, redistest.FillAllTypes(ctx, ac, "a2", 10))
	require.NoError(t, redistest.WaitCaughtUp(ctx, ac, bc))
	partialBefore := infoInt(t, bc, "stats", "sync_partial_ok")
	require.NoError(t, rc.Do(ctx, "SLAVEOF", "127.0.0.1", strconv.Itoa(b.Port())).Err())
	require.Len(t, log.find(0, slot.EvRepoint), 1)
	redistest.RequireEventually(t, 30*time.Second, "a partial resync on the replica of A", func(ctxE context.Context) error {
		if n := infoInt(t, bc, "stats", "sync_partial_ok"); n <= partialBefore {
			return fmt.Errorf("sync_partial_ok still %d", n)
		}
		return nil
	})
	waitState(t, r, 0, slot.Connected, 30*time.Second)
	assert.Equal(t, 0, infoInt(t, bc, "stats", "sync_full"), "no full sync on the new node")
	assert.Equal(t, fullBefore, slotStatus(t, r, 0).Stats.FullSyncs)
	assert.Equal(t, b.Addr(), slotStatus(t, r, 0).Endpoint)
	requireSameDigest(t, ctx, bc, rc)

	// To an unrelated primary: its history is another; a full sync.
	require.NoError(t, rc.Do(ctx, "REPLSM.REPLICAOF", "0", "127.0.0.1", strconv.Itoa(other.Port())).Err())
	redistest.RequireEventually(t, 30*time.Second, "a full sync from the unrelated primary", func(context.Context) error {
		if st := slotStatus(t, r, 0); st.State != slot.Connected || st.Stats.FullSyncs != fullBefore+1 {
			return fmt.Errorf("shard is %s with %d full syncs", st.State, st.Stats.FullSyncs)
		}
		return nil
	})
	requireSameDigest(t, ctx, oc, rc)
}

// infoInt reads one integer field of a real server's INFO section.
func infoInt(t testing.TB, c *redis.Client, section, field string) int {
	t.Helper()
	text, err := c.Info(context.Background(), section).Result()
	require.NoError(t, err)
	m, err := redistest.ParseInfo(text)
	require.NoError(t, err)
	n, err := strconv.Atoi(m[field])
	require.NoError(t, err, "%s:%q", field, m[field])
	return n
}

// With several shards REPLICAOF needs a shard: unscoped it is an error that
// says how; REPLSM.SHARD scoping or REPLSM.REPLICAOF names one.
func TestInteropReplicaOfNeedsAShard(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	a, b := startPrimary(t, "a"), startPrimary(t, "b")
	r := startReplica(t, testConfig(t, map[slot.ID]string{0: a.Addr(), 1: b.Addr()}))
	require.NoError(t, r.Instance().WaitSynced(ctx))
	err := unionClient(t, r).Do(ctx, "REPLICAOF", "127.0.0.1", strconv.Itoa(b.Port())).Err()
	require.ErrorContains(t, err, "REPLSM.REPLICAOF")
	// Scoped to shard 1, REPLICAOF names its own primary: a no-op.
	require.NoError(t, shardClient(t, r, 1).Do(ctx, "REPLICAOF", "127.0.0.1", strconv.Itoa(b.Port())).Err())
	assert.Empty(t, slotStatus(t, r, 1).LastError)
	assert.Equal(t, a.Addr(), slotStatus(t, r, 0).Endpoint)
	// Two shards never follow one primary.
	err = shardClient(t, r, 0).Do(ctx, "REPLICAOF", "127.0.0.1", strconv.Itoa(b.Port())).Err()
	require.ErrorContains(t, err, "already follows")
	assert.Equal(t, a.Addr(), slotStatus(t, r, 0).Endpoint)
}
