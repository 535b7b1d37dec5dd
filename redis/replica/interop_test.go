package replica

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/faultproxy"
	"github.com/replsm/replsm/internal/redisproc"
	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/slot"
)

// Interop tests: our replica against real redis-server 7.0.15 primaries
// (internal/redistest). They never skip: without redis-server they fail
// with the apt-get hint. Each is bounded by its context.

// TestInteropFullSyncAllTypesThenStream: a full sync carries every data
// type (with TTLs, in two databases), the stream carries the rest, and the
// replica's shard digest equals the primary's.
func TestInteropFullSyncAllTypesThenStream(t *testing.T) {
	ctx := testCtx(t, 120*time.Second)
	p := startPrimary(t, "primary")
	pc := p.Client()
	require.NoError(t, redistest.FillAllTypes(ctx, pc, "pre", 300))

	r := startReplica(t, testConfig(t, map[slot.ID]string{0: p.Addr()}))
	require.NoError(t, r.Instance().WaitSynced(ctx))
	rc := shardClient(t, r, 0)
	rep := requireSameDigest(t, ctx, pc, rc)
	t.Logf("after full sync: %v", rep)

	require.NoError(t, redistest.FillAllTypes(ctx, pc, "post", 300))
	// EXPIRE, transactions and a DEL of a key loaded from the RDB, through
	// the stream.
	pipe := pc.TxPipeline()
	pipe.Set(ctx, "tx:a", "1", 0)
	pipe.Expire(ctx, "tx:a", time.Hour)
	pipe.Del(ctx, "pre:s:1")
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)
	rep = requireSameDigest(t, ctx, pc, rc)
	t.Logf("after stream: %v", rep)

	st, err := r.Stats(0)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), st.FullSyncs)
	assert.Greater(t, st.Applied, uint64(1000))
	assert.Len(t, st.Cursor.ReplID, 40)

	// What redis-cli would see.
	info, err := redistest.ReplicationInfo(ctx, rc)
	require.NoError(t, err)
	assert.Equal(t, "slave", info["role"])
	assert.Equal(t, "up", info["master_link_status"])
	assert.Equal(t, fmt.Sprint(p.Port()), info["master_port"])
	role, err := rc.Do(ctx, "ROLE").Slice()
	require.NoError(t, err)
	assert.Equal(t, []any{"slave", "127.0.0.1", int64(p.Port()), "connected", st.Cursor.Offset}, role)
	err = unionClient(t, r).Set(ctx, "k", "v", 0).Err()
	require.Error(t, err)
	assert.Equal(t, "READONLY You can't write against a read only replica.", err.Error())
}

// TestInteropPrimaryKilledAndRestartedEmpty: the primary dies (SIGKILL) and
// comes back without persistence, with a new replication id: the replica
// resyncs fully and ends with exactly the new primary's data.
func TestInteropPrimaryKilledAndRestartedEmpty(t *testing.T) {
	ctx := testCtx(t, 120*time.Second)
	p := startPrimary(t, "primary")
	require.NoError(t, redistest.FillAllTypes(ctx, p.Client(), "old", 100))
	log := &recordLog{}
	cfg := testConfig(t, map[slot.ID]string{0: p.Addr()})
	cfg.Observers = append(cfg.Observers, log.observe)
	r := startReplica(t, cfg)
	require.NoError(t, r.Instance().WaitSynced(ctx))
	rc := shardClient(t, r, 0)
	requireSameDigest(t, ctx, p.Client(), rc)
	before, _ := r.Cursor(0)

	p.Kill()
	p.Restart()
	require.NoError(t, redistest.FillAllTypes(ctx, p.Client(), "new", 100))
	redistest.RequireEventually(t, 30*time.Second, "second full sync", func(context.Context) error {
		if st, _ := r.Stats(0); st.FullSyncs < 2 || st.State != slot.Connected {
			return fmt.Errorf("full syncs %d, state %s", st.FullSyncs, st.State)
		}
		return nil
	})
	requireSameDigest(t, ctx, p.Client(), rc)
	n, err := rc.Exists(ctx, "old:s:0").Result()
	require.NoError(t, err)
	assert.Zero(t, n, "data of the dead primary must be gone")

	after, _ := r.Cursor(0)
	assert.NotEqual(t, before.ReplID, after.ReplID)
	started := log.find(0, slot.EvDBSyncStarted)
	require.GreaterOrEqual(t, len(started), 2)
	assert.Contains(t, started[len(started)-1].Reason, "+FULLRESYNC "+after.ReplID)
}

// TestInteropPrimaryStoppedPastKeepalive: a SIGSTOPped primary is silent;
// the keepalive notices, and after SIGCONT the replica resumes with
// +CONTINUE from its cursor: no second full sync.
func TestInteropPrimaryStoppedPastKeepalive(t *testing.T) {
	ctx := testCtx(t, 120*time.Second)
	p := startPrimary(t, "primary")
	pc := p.Client()
	require.NoError(t, redistest.FillAllTypes(ctx, pc, "pre", 100))
	log := &recordLog{}
	cfg := testConfig(t, map[slot.ID]string{0: p.Addr()})
	cfg.Observers = append(cfg.Observers, log.observe)
	r := startReplica(t, cfg)
	require.NoError(t, r.Instance().WaitSynced(ctx))
	rc := shardClient(t, r, 0)
	requireSameDigest(t, ctx, pc, rc)

	p.Stop()
	stopped := time.Now()
	redistest.RequireEventually(t, 30*time.Second, "keepalive timeout", func(context.Context) error {
		if len(log.find(0, slot.EvKeepaliveTimeout)) == 0 {
			return errors.New("no keepalive_timeout yet")
		}
		return nil
	})
	t.Logf("keepalive noticed the stopped primary after %v", time.Since(stopped).Round(time.Millisecond))
	p.Cont()

	require.NoError(t, redistest.FillAllTypes(ctx, pc, "post", 100))
	waitState(t, r, 0, slot.Connected, 30*time.Second)
	requireSameDigest(t, ctx, pc, rc)
	st, err := r.Stats(0)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), st.FullSyncs, "recovery must not need a second full sync")
	assert.GreaterOrEqual(t, st.PartialSyncs, uint64(1))
}

// TestInteropLinkCutUnderLoad: redis-benchmark writes to the primary while
// the link between it and the replica is cut again and again; every cut is
// healed by +CONTINUE from the backlog, and the data converges. The load
// runs until the cuts are done (bounded by count and by the test's
// deadline), so a slow machine makes the test longer, not weaker.
func TestInteropLinkCutUnderLoad(t *testing.T) {
	ctx := testCtx(t, 120*time.Second)
	p := startPrimary(t, "primary")
	pc := p.Client()
	require.NoError(t, redistest.FillAllTypes(ctx, pc, "pre", 50))
	proxy, err := faultproxy.New("127.0.0.1:0", p.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = proxy.Close() })
	cfg := testConfig(t, map[slot.ID]string{0: proxy.Addr()})
	cfg.SlotConfig.RecoveryCap = 20 // every cut costs a recovery
	checkInvariants(t, &cfg)
	r := startReplica(t, cfg)
	require.NoError(t, r.Instance().WaitSynced(ctx))
	synced := time.Now()

	// 20k SETs a chunk, at most 100 chunks (2M writes): far more than the
	// cuts need on any machine, well inside the 64 MiB backlog per cut.
	load := redistest.StartLoad(ctx, p.Addr(), 20_000, 2, 50_000, 100)
	t.Cleanup(func() { _, _ = load.Stop() })
	// Cut whenever the replica has reconnected and applied something new.
	const cuts = 5
	var cutSession slot.Session // the session the last cut ended
	var cutApplied uint64
	for i := 0; i < cuts; i++ {
		loadEnded := false
		err := redistest.Eventually(ctx, 30*time.Second, func(context.Context) error {
			select {
			case <-load.Done():
				loadEnded = true
				return nil
			default:
			}
			st, _ := r.Stats(0)
			if st.State != slot.Connected || st.Session == cutSession || st.Applied == cutApplied {
				return fmt.Errorf("shard %s session %d applied %d", st.State, st.Session, st.Applied)
			}
			return nil
		})
		require.NoError(t, err, "no progress after cut %d", i)
		if loadEnded {
			_, lerr := load.Stop()
			require.FailNow(t, "the load ended before the cuts were done", "cut %d: %v", i, lerr)
		}
		if i == 0 {
			t.Logf("stream applying %v after the full sync", time.Since(synced).Round(time.Millisecond))
		}
		st, _ := r.Stats(0)
		cutSession, cutApplied = st.Session, st.Applied
		proxy.Cut()
	}
	chunks, err := load.Stop()
	require.NoError(t, err)
	waitState(t, r, 0, slot.Connected, 30*time.Second)
	requireSameDigest(t, ctx, pc, shardClient(t, r, 0))
	st, err := r.Stats(0)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), st.FullSyncs, "the backlog covers every cut: no full sync after the first")
	assert.GreaterOrEqual(t, st.PartialSyncs, uint64(cuts))
	t.Logf("%d cuts under %d load chunks; applied %d commands over %d sessions", cuts, chunks, st.Applied, st.Sessions)
}

// TestInteropExhaustedBackByProbe: the primary stays down past the retry
// cap. The shard says it is exhausted (once), stops spending sync
// handshakes, probes the endpoint, and is Connected within a few probe
// intervals of the primary answering again: no operator reset, no wait for
// the slow ExhaustedRetry cadence (a minute here).
func TestInteropExhaustedBackByProbe(t *testing.T) {
	ctx := testCtx(t, 90*time.Second)
	p := startPrimary(t, "primary")
	pc := p.Client()
	require.NoError(t, redistest.FillAllTypes(ctx, pc, "pre", 50))
	log := &recordLog{}
	cfg := testConfig(t, map[slot.ID]string{0: p.Addr()})
	cfg.Observers = append(cfg.Observers, log.observe)
	cfg.SlotConfig.RecoveryCap = 2
	cfg.SlotConfig.ExhaustedRetry = time.Minute
	cfg.SlotConfig.ProbeInterval = 200 * time.Millisecond
	var exhaustions atomic.Int32
	exhausted := make(chan slot.Exhaustion, 4)
	cfg.OnExhausted = func(e slot.Exhaustion) {
		exhaustions.Add(1)
		exhausted <- e
	}
	checkInvariants(t, &cfg)
	r := startReplica(t, cfg)
	require.NoError(t, r.Instance().WaitSynced(ctx))
	handshakes := func() int { return len(log.find(0, slot.EvSendTrySync)) + len(log.find(0, slot.EvSendDBSync)) }
	before := handshakes()

	p.Kill()
	select {
	case e := <-exhausted:
		assert.Equal(t, slot.ID(0), e.Slot)
		assert.Equal(t, p.Addr(), e.Endpoint)
		t.Logf("exhausted: %s", e.LastError)
	case <-ctx.Done():
		t.Fatalf("no exhaustion reported: %v", r.Info())
	}
	atExhaustion := handshakes()
	probesAt := slotStatus(t, r, 0).Stats.Probes
	// Stay down for a while: the shard probes, and spends no handshake.
	redistest.RequireEventually(t, 30*time.Second, "probes while exhausted", func(context.Context) error {
		if st := slotStatus(t, r, 0); st.Stats.Probes < probesAt+5 {
			return fmt.Errorf("%d probes so far (state %s)", st.Stats.Probes, st.State)
		}
		return nil
	})
	st := slotStatus(t, r, 0)
	assert.True(t, st.Exhausted)
	assert.Equal(t, slot.Error, st.State)
	assert.Equal(t, atExhaustion, handshakes(), "probes are not sync handshakes")
	assert.LessOrEqual(t, atExhaustion-before, cfg.SlotConfig.RecoveryCap+1, "handshakes during the outage")
	text, err := unionClient(t, r).Do(ctx, "REPLSM.INFO").Text()
	require.NoError(t, err)
	assert.Contains(t, text, "exhausted=true")
	assert.Contains(t, text, "probing=true")
	assert.Contains(t, text, "connection refused")
	// Reads keep working from the last data while the shard is down.
	n, err := unionClient(t, r).Exists(ctx, "pre:s:0").Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)

	p.Restart() // returns once it answers PING
	answering := time.Now()
	require.NoError(t, redistest.FillAllTypes(ctx, pc, "new", 50))
	waitState(t, r, 0, slot.Connected, 20*time.Second)
	t.Logf("Connected %v after the primary answered", time.Since(answering).Round(time.Millisecond))
	requireSameDigest(t, ctx, pc, shardClient(t, r, 0))

	recs := log.find(0, slot.EvRecover)
	require.NotEmpty(t, recs)
	assert.Contains(t, recs[len(recs)-1].Reason, "probe", "back through a probe, not the slow cadence")
	assert.Empty(t, log.find(0, slot.EvReset), "no operator reset")
	assert.Equal(t, int32(1), exhaustions.Load(), "exhaustion is reported once per episode")
	st = slotStatus(t, r, 0)
	assert.Equal(t, uint64(1), st.Stats.Exhaustions)
	assert.False(t, st.Exhausted, "Connected ends the episode")
	err = unionClient(t, r).Do(ctx, "REPLSM.RESET", "0").Err()
	require.Error(t, err, "a Connected shard cannot be reset")
}

// TestInteropPrimaryLoadingIsBusy: the primary restarts from a dump that
// takes seconds to load (key-load-delay) and answers -LOADING meanwhile.
// The shard takes that as "busy, ask again": many re-asks, no budget spent,
// never exhausted, and Connected shortly after the load ends.
func TestInteropPrimaryLoadingIsBusy(t *testing.T) {
	ctx := testCtx(t, 120*time.Second)
	const keys = 60 // about 6 s of loading at 100 ms a key
	proc, err := redisproc.Start(ctx, redisproc.Options{
		Dir:  t.TempDir(),
		Name: "loading-primary",
		// Loading sleeps 100 ms a key (long enough that a busy machine's
		// scheduling latency does not stretch it much) and answers clients
		// every KiB read: after every key, as the values are bigger (and
		// saved uncompressed).
		Args: append(slices.Clone(primaryArgs), "--key-load-delay", "100000",
			"--loading-process-events-interval-bytes", "1024", "--rdbcompression", "no"),
		StartTimeout: 90 * time.Second,
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := proc.Close(); err != nil {
			t.Errorf("close primary: %v", err)
		}
		if t.Failed() {
			t.Logf("primary log tail:\n%s", proc.LogTail())
		}
	})
	pc := redistest.NewClient(proc.Addr(), 0)
	t.Cleanup(func() { _ = pc.Close() })
	pipe := pc.Pipeline()
	for i := 0; i < keys; i++ {
		pipe.Set(ctx, "k:"+strconv.Itoa(i), strings.Repeat("v", 1100), 0)
	}
	_, err = pipe.Exec(ctx)
	require.NoError(t, err)

	log := &recordLog{}
	cfg := testConfig(t, map[slot.ID]string{0: proc.Addr()})
	cfg.Observers = append(cfg.Observers, log.observe)
	cfg.SlotConfig.RecoveryCap = 5
	cfg.SlotConfig.Backoff.Initial = 300 * time.Millisecond
	cfg.SlotConfig.ProbeInterval = 200 * time.Millisecond
	cfg.SlotConfig.BusyPoll = 200 * time.Millisecond
	var exhaustions atomic.Int32
	cfg.OnExhausted = func(slot.Exhaustion) { exhaustions.Add(1) }
	r := startReplica(t, cfg)
	require.NoError(t, r.Instance().WaitSynced(ctx))
	// SAVE refuses while the full sync's RDB child still runs.
	redistest.RequireEventually(t, 20*time.Second, "SAVE", func(ctx context.Context) error { return pc.Save(ctx).Err() })

	restarted := make(chan error, 1)
	go func() { restarted <- proc.Restart(ctx) }() // returns when the load is done
	redistest.RequireEventually(t, 60*time.Second, "busy replies while loading", func(context.Context) error {
		if st := slotStatus(t, r, 0); st.Stats.BusyRetries <= uint64(cfg.SlotConfig.RecoveryCap) {
			return fmt.Errorf("%d busy retries so far (state %s)", st.Stats.BusyRetries, st.State)
		}
		return nil
	})
	var loaded time.Time
	select {
	case err := <-restarted:
		require.NoError(t, err)
		loaded = time.Now()
	case <-ctx.Done():
		t.Fatal("the primary did not finish loading")
	}
	waitState(t, r, 0, slot.Connected, 20*time.Second)
	t.Logf("Connected %v after the load ended", time.Since(loaded).Round(time.Millisecond))
	requireSameDigest(t, ctx, pc, shardClient(t, r, 0))

	st := slotStatus(t, r, 0)
	t.Logf("busy retries %d, failures %d, probes %d", st.Stats.BusyRetries, st.Stats.Failures, st.Stats.Probes)
	assert.Zero(t, exhaustions.Load(), "a loading primary never exhausts the shard")
	assert.Zero(t, st.Stats.Exhaustions)
	busy := log.find(0, slot.EvBusy)
	busy = append(busy, log.find(0, slot.EvBusyFull)...)
	require.NotEmpty(t, busy)
	assert.Contains(t, busy[0].Reason, "-LOADING")
	for _, rec := range log.find(0, slot.EvFail) {
		assert.NotContains(t, rec.Reason, "LOADING", "-LOADING is busy, never a failure")
	}
}

// TestInteropTwoShardsOneFails: two real primaries, one shard each. One
// primary dies; its shard fails and exhausts while the other stays
// Connected and keeps streaming; reads see the union throughout.
func TestInteropTwoShardsOneFails(t *testing.T) {
	ctx := testCtx(t, 120*time.Second)
	p0, p1 := startPrimary(t, "primary0"), startPrimary(t, "primary1")
	require.NoError(t, redistest.FillAllTypes(ctx, p0.Client(), "zero", 100))
	require.NoError(t, redistest.FillAllTypes(ctx, p1.Client(), "one", 100))
	cfg := testConfig(t, map[slot.ID]string{0: p0.Addr(), 1: p1.Addr()})
	cfg.SlotConfig.RecoveryCap = 2
	var exhaustions atomic.Int32
	cfg.OnExhausted = func(e slot.Exhaustion) {
		if e.Slot == 1 {
			exhaustions.Add(1)
		}
	}
	r := startReplica(t, cfg)
	require.NoError(t, r.Instance().WaitSynced(ctx))
	c0, c1 := shardClient(t, r, 0), shardClient(t, r, 1)
	requireSameDigest(t, ctx, p0.Client(), c0)
	requireSameDigest(t, ctx, p1.Client(), c1)

	// The union: one key of each shard through one connection.
	u := unionClient(t, r)
	vals, err := u.MGet(ctx, "zero:s:0", "one:s:0", "nope").Result()
	require.NoError(t, err)
	assert.Equal(t, []any{"value-0", "value-0", nil}, vals)
	size0, _ := c0.DBSize(ctx).Result()
	size1, _ := c1.DBSize(ctx).Result()
	all, err := u.DBSize(ctx).Result()
	require.NoError(t, err)
	assert.Equal(t, size0+size1, all)
	var keys []string
	for cursor, calls := uint64(0), 0; calls == 0 || cursor != 0; calls++ {
		require.Less(t, calls, 1000)
		var page []string
		page, cursor, err = u.Scan(ctx, cursor, "", 100).Result()
		require.NoError(t, err)
		keys = append(keys, page...)
	}
	assert.Len(t, keys, int(all))

	p1.Kill()
	redistest.RequireEventually(t, 30*time.Second, "shard 1 exhausted", func(context.Context) error {
		if exhaustions.Load() == 0 {
			return errors.New("not yet")
		}
		return nil
	})
	require.NoError(t, redistest.FillAllTypes(ctx, p0.Client(), "more", 100))
	requireSameDigest(t, ctx, p0.Client(), c0)
	st0, _ := r.Stats(0)
	st1, _ := r.Stats(1)
	assert.Equal(t, slot.Connected, st0.State)
	assert.Equal(t, slot.Error, st1.State)
	info, err := redistest.ReplicationInfo(ctx, u)
	require.NoError(t, err)
	assert.Equal(t, "down", info["master_link_status"], "the union is down while one shard is")
	assert.True(t, strings.Contains(info["shard0"], "master_link_status=up"), info["shard0"])
	assert.True(t, strings.Contains(info["shard1"], "master_link_status=down"), info["shard1"])
	n, err := u.Exists(ctx, "one:s:0", "more:s:0").Result()
	require.NoError(t, err)
	assert.Equal(t, int64(2), n, "the failed shard's last data stays readable")
}

// TestInteropTopologyMismatch: an endpoint that is a replica, not a
// primary, is a fatal mismatch for the instance; no shard starts.
func TestInteropTopologyMismatch(t *testing.T) {
	ctx := testCtx(t, 120*time.Second)
	p := startPrimary(t, "primary")
	rp := redistest.Start(t, redistest.Options{Name: "replica", Args: redistest.ReplicaOfArgs(p.Port())})
	cfg := testConfig(t, map[slot.ID]string{0: p.Addr(), 1: rp.Addr()})
	cfg.Instance.RecoveryCap = 1
	r := startReplica(t, cfg)
	redistest.RequireEventually(t, 30*time.Second, "instance error", func(context.Context) error {
		if info := r.Info(); !strings.Contains(info.LastError, "topology mismatch") {
			return fmt.Errorf("instance %s, last error %q", info.State, info.LastError)
		}
		return nil
	})
	info := r.Info()
	assert.Contains(t, info.LastError, "shard 1 endpoint "+rp.Addr()+" is a replica of 127.0.0.1:"+fmt.Sprint(p.Port()))
	for _, s := range info.Slots {
		assert.Equal(t, slot.NoConnect, s.State, "no shard starts on a mismatched topology")
	}
	_ = ctx
}

// TestInteropFrozenEndpointDoesNotBlockInstance: one primary is frozen
// (SIGSTOP) before the replica starts. Its role probe times out as
// unreachable, the instance still connects, and the other shard syncs.
func TestInteropFrozenEndpointDoesNotBlockInstance(t *testing.T) {
	ctx := testCtx(t, 120*time.Second)
	p0, p1 := startPrimary(t, "primary0"), startPrimary(t, "primary1")
	require.NoError(t, redistest.FillAllTypes(ctx, p0.Client(), "zero", 50))
	p1.Stop()
	r := startReplica(t, testConfig(t, map[slot.ID]string{0: p0.Addr(), 1: p1.Addr()}))
	waitState(t, r, 0, slot.Connected, 30*time.Second)
	requireSameDigest(t, ctx, p0.Client(), shardClient(t, r, 0))
	assert.Equal(t, "Connected", string(r.Info().State))
	st1, _ := r.Stats(1)
	assert.NotEqual(t, slot.Connected, st1.State)

	p1.Cont()
	waitState(t, r, 1, slot.Connected, 30*time.Second)
}
