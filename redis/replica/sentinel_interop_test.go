package replica

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/redis/sentinel"
	"github.com/replsm/replsm/redis/sentinel/sentineltest"
	"github.com/replsm/replsm/slot"
)

// sentinelGroup is a real Sentinel deployment: one real primary, one real
// redis-server replica of it, three real sentinels (quorum 2) and a replsm
// replica following the name "m" through them.
type sentinelGroup struct {
	primary, replica *redistest.Server
	sentinels        []*redistest.Server
	addrs            []string
	r                *Replica
	recs             *recordLog
}

const sentinelName = "m"

func sentinelLink() sentinel.Config {
	return sentinel.Config{PingInterval: 500 * time.Millisecond, PollInterval: 2 * time.Second,
		MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
}

func startSentinelGroup(t *testing.T, ctx context.Context) *sentinelGroup {
	t.Helper()
	g := &sentinelGroup{recs: &recordLog{}}
	g.primary = startPrimary(t, "primary")
	g.replica = redistest.Start(t, redistest.Options{Name: "replica",
		Args: append(slices.Clone(primaryArgs), redistest.ReplicaOfArgs(g.primary.Port())...)})
	require.NoError(t, redistest.WaitReplicaUp(ctx, g.replica.Client()))
	require.NoError(t, redistest.FillAllTypes(ctx, g.primary.Client(), "pre", 50))
	g.sentinels = redistest.StartSentinels(t, sentinelName, g.primary.Port(), 3, 2)
	for _, s := range g.sentinels {
		g.addrs = append(g.addrs, s.Addr())
	}
	masters := map[slot.ID]string{0: sentinelName}
	shards, err := ResolveSentinelShards(ctx, clock.New(), g.addrs, masters, time.Second)
	require.NoError(t, err)
	require.Equal(t, g.primary.Addr(), shards[0])
	cfg := testConfig(t, shards)
	cfg.Sentinel = &SentinelConfig{Sentinels: g.addrs, Masters: masters, Link: sentinelLink()}
	cfg.Observers = append(cfg.Observers, g.recs.observe)
	checkInvariants(t, &cfg)
	g.r = startReplica(t, cfg)
	require.NoError(t, g.r.Instance().WaitSynced(ctx))
	return g
}

// sentinelReplicas is SENTINEL REPLICAS name as one map per replica.
func sentinelReplicas(ctx context.Context, c *redis.Client, name string) ([]map[string]string, error) {
	v, err := c.Do(ctx, "SENTINEL", "REPLICAS", name).Slice()
	if err != nil {
		return nil, err
	}
	var out []map[string]string
	for _, e := range v {
		kv, ok := e.([]any)
		if !ok {
			return nil, fmt.Errorf("SENTINEL REPLICAS entry %v", e)
		}
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = fmt.Sprint(kv[i+1])
		}
		out = append(out, m)
	}
	return out, nil
}

// requireListedHealthy waits until every sentinel lists the replsm
// replica as a replica of master with flags exactly "slave".
func (g *sentinelGroup) requireListedHealthy(t *testing.T, master string) {
	t.Helper()
	port := strconv.Itoa(g.r.listeningPort())
	mhost, mport, _ := strings.Cut(master, ":")
	for _, s := range g.sentinels {
		c := s.Client()
		redistest.RequireEventually(t, 60*time.Second, "sentinel "+s.Addr()+" to list the replsm replica healthy", func(ctx context.Context) error {
			reps, err := sentinelReplicas(ctx, c, sentinelName)
			if err != nil {
				return err
			}
			for _, m := range reps {
				if m["port"] != port {
					continue
				}
				if m["flags"] != "slave" || m["master-link-status"] != "ok" || m["master-host"] != mhost || m["master-port"] != mport {
					return fmt.Errorf("replsm listed as flags=%q link=%q master=%s:%s priority=%s",
						m["flags"], m["master-link-status"], m["master-host"], m["master-port"], m["slave-priority"])
				}
				if m["slave-priority"] != "0" {
					return fmt.Errorf("replsm listed with slave-priority %s", m["slave-priority"])
				}
				return nil
			}
			return fmt.Errorf("replsm (port %s) not among %d replicas", port, len(reps))
		})
	}
}

// writeLoad writes SETs through a Sentinel-aware go-redis client (it
// follows +switch-master like any application), bounded by count and by
// ctx. Errors during the switch are counted, not fatal.
type writeLoad struct {
	cancel  context.CancelFunc
	done    chan struct{}
	written atomic.Int64
	errs    atomic.Int64
}

func startWriteLoad(ctx context.Context, sentinels []string, max int64) *writeLoad {
	ctx, cancel := context.WithCancel(ctx)
	l := &writeLoad{cancel: cancel, done: make(chan struct{})}
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: sentinelName, SentinelAddrs: sentinels,
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: -1})
	go func() {
		defer close(l.done)
		defer c.Close()
		for i := int64(0); i < max && ctx.Err() == nil; {
			p := c.Pipeline()
			for j := 0; j < 50; j++ {
				p.Set(ctx, "load:"+strconv.FormatInt((i+int64(j))%5000, 10), i+int64(j), 0)
			}
			if _, err := p.Exec(ctx); err != nil {
				l.errs.Add(1)
				t := time.NewTimer(20 * time.Millisecond) // the switch takes a moment; do not spin
				select {
				case <-ctx.Done():
				case <-t.C:
				}
				t.Stop()
				continue
			}
			i += 50
			l.written.Store(i)
		}
	}()
	return l
}

func (l *writeLoad) stop() int64 {
	l.cancel()
	<-l.done
	return l.written.Load()
}

// waitWritten waits until n more SETs than now were written.
func (l *writeLoad) waitWritten(t *testing.T, n int64) {
	t.Helper()
	want := l.written.Load() + n
	redistest.RequireEventually(t, 60*time.Second, "the load to write", func(context.Context) error {
		if got := l.written.Load(); got < want {
			return fmt.Errorf("written %d, want %d (errors %d)", got, want, l.errs.Load())
		}
		return nil
	})
}

// syncStats is INFO stats' sync_full and sync_partial_ok of a node.
func syncStats(t *testing.T, ctx context.Context, s *redistest.Server) (full, partial int) {
	t.Helper()
	text, err := s.Client().Info(ctx, "stats").Result()
	require.NoError(t, err)
	info, err := redistest.ParseInfo(text)
	require.NoError(t, err)
	full, _ = strconv.Atoi(info["sync_full"])
	partial, _ = strconv.Atoi(info["sync_partial_ok"])
	return full, partial
}

// logLines counts the lines of a redis-server log that contain all parts.
func logLines(t *testing.T, s *redistest.Server, parts ...string) int {
	t.Helper()
	b, err := os.ReadFile(s.LogPath())
	require.NoError(t, err)
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

// watchSwitch notes when a sentinel announces +switch-master.
func watchSwitch(t *testing.T, ctx context.Context, s *redistest.Server) func() time.Time {
	ps := s.Client().Subscribe(ctx, "+switch-master")
	_, err := ps.Receive(ctx) // the subscription is in place
	require.NoError(t, err)
	var mu sync.Mutex
	var at time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range ps.Channel() {
			mu.Lock()
			if at.IsZero() {
				at = time.Now()
			}
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { _ = ps.Close(); <-done })
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return at
	}
}

// followedTo waits until shard 0 streams from addr and returns when the
// sync_ok that followed the re-point to addr happened.
func (g *sentinelGroup) followedTo(t *testing.T, addr string) time.Time {
	t.Helper()
	var at time.Time
	redistest.RequireEventually(t, 90*time.Second, "shard 0 to stream from "+addr, func(context.Context) error {
		st, _ := g.r.Stats(0)
		if st.Endpoint != addr || st.State != slot.Connected {
			return fmt.Errorf("shard follows %s, %s (last failure %v)", st.Endpoint, st.State, st.LastFailure)
		}
		g.recs.mu.Lock()
		defer g.recs.mu.Unlock()
		repointed := false
		for _, r := range g.recs.recs {
			if r.Event == slot.EvRepoint && strings.Contains(r.Reason, addr) {
				repointed = true
			}
			if repointed && r.Event == slot.EvSyncOK {
				at = r.Time
				return nil
			}
		}
		return errors.New("no sync_ok after the re-point yet")
	})
	return at
}

// transitionLog formats shard 0's records from the first one at or after
// from: what docs/sentinel.md shows.
func (g *sentinelGroup) transitionLog(from time.Time) string { return formatRecords(g.recs, from) }

// TestSentinelFailoverUnderLoad: SENTINEL FAILOVER while a Sentinel-aware
// client writes. The replsm shard holds off the old primary from
// +try-failover, re-points on +switch-master once the promoted node's
// ROLE says master, and continues there with a partial resync: no full
// sync on the new primary asked by replsm, data equal to the new
// primary's. Sentinel lists the replsm replica healthy before and after.
func TestSentinelFailoverUnderLoad(t *testing.T) {
	ctx := testCtx(t, 240*time.Second)
	g := startSentinelGroup(t, ctx)
	g.requireListedHealthy(t, g.primary.Addr())
	port := strconv.Itoa(g.r.listeningPort())
	before, _ := g.r.Stats(0)
	npFull0, npPartial0 := syncStats(t, ctx, g.replica)
	switched := watchSwitch(t, ctx, g.sentinels[1])

	load := startWriteLoad(ctx, g.addrs, 2_000_000)
	t.Cleanup(func() { load.stop() })
	load.waitWritten(t, 5_000)
	start := time.Now()
	require.NoError(t, g.sentinels[0].Client().Do(ctx, "SENTINEL", "FAILOVER", sentinelName).Err())
	streaming := g.followedTo(t, g.replica.Addr())
	load.waitWritten(t, 5_000) // the load goes on, on the new primary
	written := load.stop()

	requireSameDigest(t, ctx, g.replica.Client(), shardClient(t, g.r, 0))
	after, _ := g.r.Stats(0)
	npFull, npPartial := syncStats(t, ctx, g.replica)
	opFull, opPartial := syncStats(t, ctx, g.primary)
	assert.Equal(t, before.FullSyncs, after.FullSyncs, "no full sync by replsm after the failover")
	assert.Greater(t, after.PartialSyncs, before.PartialSyncs)
	assert.Zero(t, logLines(t, g.replica, "Full resync requested by replica 127.0.0.1:"+port), "the new primary served replsm no full sync")
	assert.NotZero(t, logLines(t, g.replica, "Partial resynchronization request from 127.0.0.1:"+port, "accepted"))
	assert.Zero(t, g.r.SentinelStatus().Held, "no hold left")
	g.requireListedHealthy(t, g.replica.Addr())

	sw := switched()
	t.Logf("SENTINEL FAILOVER: %d SETs written (%d failed batches); +switch-master %v after the command; replsm streaming from the new primary %v after the command, %v after +switch-master",
		written, load.errs.Load(), sw.Sub(start).Round(time.Millisecond), streaming.Sub(start).Round(time.Millisecond), streaming.Sub(sw).Round(time.Millisecond))
	t.Logf("syncs: new primary (was replica) sync_full %d->%d sync_partial_ok %d->%d; old primary sync_full %d sync_partial_ok %d; replsm full %d->%d partial %d->%d",
		npFull0, npFull, npPartial0, npPartial, opFull, opPartial, before.FullSyncs, after.FullSyncs, before.PartialSyncs, after.PartialSyncs)
	t.Logf("transition log of shard 0 from the failover:\n%s", g.transitionLog(start))
}

// TestSentinelPrimaryKilled: the primary is SIGKILLed while the load
// writes; the sentinels promote the real replica on their own and the
// replsm shard follows it. The kill can leave replsm holding bytes the
// promoted replica never got: then its history is ahead of the promoted
// node's (past its second_repl_offset) and a full sync is the only correct
// answer, as for any redis-server replica. Otherwise there must be none.
func TestSentinelPrimaryKilled(t *testing.T) {
	ctx := testCtx(t, 240*time.Second)
	g := startSentinelGroup(t, ctx)
	port := strconv.Itoa(g.r.listeningPort())
	load := startWriteLoad(ctx, g.addrs, 2_000_000)
	t.Cleanup(func() { load.stop() })
	load.waitWritten(t, 5_000)
	before, _ := g.r.Stats(0)
	npFull0, npPartial0 := syncStats(t, ctx, g.replica)
	switched := watchSwitch(t, ctx, g.sentinels[1])

	start := time.Now()
	g.primary.Kill()
	var last int64 // the shard's last applied offset of the old primary's history
	var early string
	redistest.RequireEventually(t, 30*time.Second, "the shard to see the primary gone", func(context.Context) error {
		st, _ := g.r.Stats(0)
		if st.Endpoint != g.primary.Addr() {
			early = st.Endpoint // the failover takes down-after (1.5 s) at least: not expected
			return nil
		}
		if st.State == slot.Connected {
			return errors.New("still Connected")
		}
		last = st.Cursor.Offset
		return nil
	})
	require.Empty(t, early, "re-pointed before the test saw the stream end")
	streaming := g.followedTo(t, g.replica.Addr())
	load.waitWritten(t, 5_000) // the load goes on, on the new primary
	written := load.stop()

	requireSameDigest(t, ctx, g.replica.Client(), shardClient(t, g.r, 0))
	after, _ := g.r.Stats(0)
	npFull, npPartial := syncStats(t, ctx, g.replica)
	info, err := redistest.ReplicationInfo(ctx, g.replica.Client())
	require.NoError(t, err)
	second, err := strconv.ParseInt(info["second_repl_offset"], 10, 64)
	require.NoError(t, err)
	ahead := last+1 > second // PSYNC asks for last+1; the promoted node continues up to second
	fulls := logLines(t, g.replica, "Full resync requested by replica 127.0.0.1:"+port)
	if ahead {
		t.Logf("replsm was ahead of the promoted replica (offset %d, second_repl_offset %d): a full sync is due", last, second)
		assert.Equal(t, before.FullSyncs+1, after.FullSyncs)
	} else {
		assert.Equal(t, before.FullSyncs, after.FullSyncs, "no full sync by replsm after the failover")
		assert.Greater(t, after.PartialSyncs, before.PartialSyncs)
		assert.Zero(t, fulls)
		assert.NotZero(t, logLines(t, g.replica, "Partial resynchronization request from 127.0.0.1:"+port, "accepted"))
	}

	sw := switched()
	t.Logf("SIGKILL under load: +switch-master %v after the kill; replsm streaming from the new primary %v after the kill, %v after +switch-master; %d SETs in all; replsm at offset %d, promoted node's second_repl_offset %d",
		sw.Sub(start).Round(time.Millisecond), streaming.Sub(start).Round(time.Millisecond), streaming.Sub(sw).Round(time.Millisecond), written, last, second)
	t.Logf("syncs: new primary sync_full %d->%d sync_partial_ok %d->%d; replsm full %d->%d partial %d->%d",
		npFull0, npFull, npPartial0, npPartial, before.FullSyncs, after.FullSyncs, before.PartialSyncs, after.PartialSyncs)
	t.Logf("transition log of shard 0 from the kill:\n%s", g.transitionLog(start))
}

// TestSentinelStaleAnnouncementIgnored: a scripted sentinel announces a
// +switch-master naming a real redis-server whose ROLE is slave: the shard
// stays where it is and the announcement is counted as ignored. A true
// announcement (a real primary) is then followed, with the sentinel and
// the ROLE check in the re-point's reason.
func TestSentinelStaleAnnouncementIgnored(t *testing.T) {
	ctx := testCtx(t, 90*time.Second)
	p := startPrimary(t, "primary")
	rr := redistest.Start(t, redistest.Options{Name: "replica", Args: append(slices.Clone(primaryArgs), redistest.ReplicaOfArgs(p.Port())...)})
	require.NoError(t, redistest.WaitReplicaUp(ctx, rr.Client()))
	other := startPrimary(t, "other")
	require.NoError(t, other.Client().Set(ctx, "other", "1", 0).Err())
	r, f, recs := startScriptedSentinelReplica(t, ctx, p.Addr(), 0)

	ph, pp, _ := strings.Cut(p.Addr(), ":")
	rh, rp, _ := strings.Cut(rr.Addr(), ":")
	f.Publish("+switch-master", strings.Join([]string{sentinelName, ph, pp, rh, rp}, " "))
	redistest.RequireEventually(t, 30*time.Second, "the stale announcement ignored", func(context.Context) error {
		if r.SentinelStatus().Ignored == 0 {
			return errors.New("not yet")
		}
		return nil
	})
	st, _ := r.Stats(0)
	assert.Equal(t, p.Addr(), st.Endpoint)
	assert.Empty(t, recs.find(0, slot.EvRepoint))
	info := infoFields(t, unionClient(t, r), "replsm")
	assert.Equal(t, "1/1", info["sentinel_links_up"])
	assert.Equal(t, "1", info["sentinel_ignored"])
	assert.Contains(t, info["sentinel0"], "addr="+f.Addr()+",up=1")

	oh, op, _ := strings.Cut(other.Addr(), ":")
	f.Publish("+switch-master", strings.Join([]string{sentinelName, ph, pp, oh, op}, " "))
	waitState(t, r, 0, slot.Connected, 30*time.Second)
	redistest.RequireEventually(t, 30*time.Second, "the true announcement followed", func(context.Context) error {
		if st, _ := r.Stats(0); st.Endpoint != other.Addr() || st.State != slot.Connected {
			return fmt.Errorf("shard on %s, %s", st.Endpoint, st.State)
		}
		return nil
	})
	rp0 := recs.find(0, slot.EvRepoint)
	require.Len(t, rp0, 1)
	assert.Contains(t, rp0[0].Reason, "sentinel "+f.Addr()+" announced +switch-master")
	assert.Contains(t, rp0[0].Reason, "ROLE of "+other.Addr()+": master")
	requireSameDigest(t, ctx, other.Client(), shardClient(t, r, 0))
}

// TestSentinelHoldAbortAndExpiry: a +try-failover of the followed primary
// takes the shard off it; the sentinel's -failover-abort-* puts it back
// (partial resync, same primary); a hold nobody ends lapses after
// FailoverHold.
func TestSentinelHoldAbortAndExpiry(t *testing.T) {
	ctx := testCtx(t, 90*time.Second)
	p := startPrimary(t, "primary")
	r, f, _ := startScriptedSentinelReplica(t, ctx, p.Addr(), 2*time.Second)
	ph, pp, _ := strings.Cut(p.Addr(), ":")
	held := func(want bool) func(context.Context) error {
		return func(context.Context) error {
			st, _ := r.Stats(0)
			h := len(r.SentinelStatus().Held) > 0
			if h != want || (want && st.State == slot.Connected) || (!want && st.State != slot.Connected) {
				return fmt.Errorf("held %v, shard %s", h, st.State)
			}
			return nil
		}
	}
	f.Publish("+try-failover", "master "+sentinelName+" "+ph+" "+pp)
	redistest.RequireEventually(t, 30*time.Second, "the hold", held(true))
	f.Publish("-failover-abort-not-elected", "master "+sentinelName+" "+ph+" "+pp)
	redistest.RequireEventually(t, 30*time.Second, "the hold ended by the abort", held(false))

	f.Publish("+try-failover", "master "+sentinelName+" "+ph+" "+pp)
	redistest.RequireEventually(t, 30*time.Second, "the second hold", held(true))
	redistest.RequireEventually(t, 30*time.Second, "the hold lapsed", held(false))
	st, _ := r.Stats(0)
	assert.Equal(t, uint64(1), st.FullSyncs, "back on the same primary with partial resyncs")
	assert.GreaterOrEqual(t, st.PartialSyncs, uint64(2))
	assert.Equal(t, p.Addr(), st.Endpoint)
}

// startScriptedSentinelReplica starts a scripted sentinel naming primary
// and a replica following it through that sentinel, synced and
// subscribed.
func startScriptedSentinelReplica(t *testing.T, ctx context.Context, primary string, hold time.Duration) (*Replica, *sentineltest.Fake, *recordLog) {
	t.Helper()
	f, err := sentineltest.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	f.SetMaster(sentinelName, primary)
	cfg := testConfig(t, map[slot.ID]string{0: primary})
	cfg.Sentinel = &SentinelConfig{Sentinels: []string{f.Addr()}, Masters: map[slot.ID]string{0: sentinelName}, Link: sentinelLink(),
		FailoverHold: hold}
	recs := &recordLog{}
	cfg.Observers = append(cfg.Observers, recs.observe)
	checkInvariants(t, &cfg)
	r := startReplica(t, cfg)
	require.NoError(t, r.Instance().WaitSynced(ctx))
	redistest.RequireEventually(t, 30*time.Second, "the sentinel link", func(context.Context) error {
		if f.Subscribers() == 0 {
			return errors.New("not subscribed")
		}
		return nil
	})
	return r, f, recs
}

// TestSentinelDisagreeingAnswer: a sentinel whose GET-MASTER-ADDR-BY-NAME
// names another primary while the one followed still says master is not
// followed (a lagging or split sentinel cannot pull the shard over); once
// the followed primary is gone, the same answer is the missed
// +switch-master caught up, and the reason carries both ROLE answers.
func TestSentinelDisagreeingAnswer(t *testing.T) {
	ctx := testCtx(t, 90*time.Second)
	p := startPrimary(t, "primary")
	other := startPrimary(t, "other")
	require.NoError(t, other.Client().Set(ctx, "other", "1", 0).Err())
	r, f, recs := startScriptedSentinelReplica(t, ctx, p.Addr(), 0)
	f.SetMaster(sentinelName, other.Addr())
	redistest.RequireEventually(t, 30*time.Second, "the disagreeing answer ignored", func(context.Context) error {
		if r.SentinelStatus().Ignored == 0 {
			return errors.New("not yet")
		}
		return nil
	})
	st, _ := r.Stats(0)
	assert.Equal(t, p.Addr(), st.Endpoint)

	p.Kill()
	redistest.RequireEventually(t, 60*time.Second, "the answer followed once the primary is gone", func(context.Context) error {
		if st, _ := r.Stats(0); st.Endpoint != other.Addr() || st.State != slot.Connected {
			return fmt.Errorf("shard on %s, %s", st.Endpoint, st.State)
		}
		return nil
	})
	rp := recs.find(0, slot.EvRepoint)
	require.Len(t, rp, 1)
	assert.Contains(t, rp[0].Reason, "sentinel "+f.Addr()+" answered GET-MASTER-ADDR-BY-NAME m = "+other.Addr())
	assert.Contains(t, rp[0].Reason, "ROLE of "+p.Addr()+" (followed) says nothing (unreachable")
	requireSameDigest(t, ctx, other.Client(), shardClient(t, r, 0))
}
