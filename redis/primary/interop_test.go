package primary

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/follower"
	"github.com/replsm/replsm/internal/redistest"
)

// Interop tests run real redis-server 7.0 processes as followers of our
// primary. redistest.Start fails (never skips) when redis-server is missing
// and says how to install it.

// startInteropPrimary returns a primary on the real clock, listening on a
// free loopback port, with a short ping period so a real replica sees
// traffic often.
func startInteropPrimary(t *testing.T, edit ...func(*Config)) (*Primary, *redis.Client) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.PingPeriod = time.Second
	for _, e := range edit {
		e(&cfg)
	}
	p, err := New(cfg, clock.New(), testLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	require.NoError(t, p.Listen("127.0.0.1:0"))
	c := redistest.NewClient(p.Addr(), 0)
	t.Cleanup(func() { _ = c.Close() })
	return p, c
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	n, err := strconv.Atoi(port)
	require.NoError(t, err)
	return n
}

// startRealReplica starts a redis-server following our primary.
func startRealReplica(t *testing.T, p *Primary, name string) *redistest.Server {
	t.Helper()
	args := append(redistest.ReplicaOfArgs(portOf(t, p.Addr())), "--repl-timeout", "10", "--repl-diskless-sync", "no")
	return redistest.Start(t, redistest.Options{Name: name, Args: args})
}

// requireSameData compares the digest of our primary, read over RESP, with
// each replica's.
func requireSameData(t *testing.T, ctx context.Context, primary *redis.Client, replicas ...*redistest.Server) {
	t.Helper()
	for _, r := range replicas {
		equal, want, got, err := redistest.Compare(ctx, primary, r.Client(), redistest.FillDBs())
		require.NoError(t, err)
		require.Positive(t, want.TotalKeys())
		require.True(t, equal, "replica %s differs: %v\nours: %v\ntheirs: %v",
			r.Addr(), want.Diff(got, 10), want, got)
	}
}

func TestInteropRealReplicaFollowsOurPrimary(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, client := startInteropPrimary(t)
	require.NoError(t, redistest.FillAllTypes(ctx, client, "before", 100))

	replica := startRealReplica(t, p, "replica")
	require.NoError(t, redistest.WaitReplicaUp(ctx, replica.Client()))
	require.NoError(t, redistest.FillAllTypes(ctx, client, "after", 100))
	require.NoError(t, redistest.WaitCaughtUp(ctx, client, replica.Client()))
	requireSameData(t, ctx, client, replica)
	require.Equal(t, uint64(1), p.Stats().FullSyncs)

	// INFO replication shows the follower as Redis would.
	info, err := redistest.ReplicationInfo(ctx, client)
	require.NoError(t, err)
	assert.Equal(t, "master", info["role"])
	assert.Equal(t, "1", info["connected_slaves"])
	assert.Contains(t, info["slave0"], "ip=127.0.0.1,port="+strconv.Itoa(replica.Port())+",state=online")
	assert.Equal(t, p.ReplID(), info["master_replid"])
	replicaInfo, err := redistest.ReplicationInfo(ctx, replica.Client())
	require.NoError(t, err)
	assert.Equal(t, p.ReplID(), replicaInfo["master_replid"])

	// The replica's ACKs (once a second) move its follower machine on.
	waitFollowers(t, p, 1)

	// Cut the replica's connection from our side and write while it is
	// away: it must come back with +CONTINUE and the bytes it missed, not
	// with a second full sync. SIGSTOP keeps it from reconnecting before
	// the writes are made.
	id := net.JoinHostPort("127.0.0.1", strconv.Itoa(replica.Port()))
	replica.Stop()
	require.NoError(t, p.DisconnectFollower(id))
	before := p.Offset()
	require.NoError(t, redistest.FillAllTypes(ctx, client, "during", 50))
	missed := p.Offset() - before
	replica.Cont()
	redistest.RequireEventually(t, 30*time.Second, "replica resumes", func(ctx context.Context) error {
		if st := p.Stats(); st.PartialSyncs < 1 {
			return fmt.Errorf("no +CONTINUE yet: %+v", st)
		}
		return nil
	})
	require.NoError(t, redistest.WaitReplicaUp(ctx, replica.Client()))
	require.NoError(t, redistest.FillAllTypes(ctx, client, "resumed", 50))
	require.NoError(t, redistest.WaitCaughtUp(ctx, client, replica.Client()))
	requireSameData(t, ctx, client, replica)

	st := p.Stats()
	assert.Equal(t, uint64(1), st.FullSyncs, "no second full sync")
	assert.Equal(t, uint64(1), st.PartialSyncs)
	assert.GreaterOrEqual(t, st.ResumedBytes, uint64(missed), "the writes made while it was away came from the backlog")
	log, err := os.ReadFile(replica.LogPath())
	require.NoError(t, err)
	assert.Contains(t, string(log), "Successful partial resynchronization with master")
	assert.Equal(t, 1, strings.Count(string(log), "MASTER <-> REPLICA sync: receiving"), "one RDB transfer")

	// The acked offset reaches ours: what a benchmark measures lag with.
	waitFollowers(t, p, 1)
}

func TestInteropTwoRealReplicasShareOneSnapshot(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p, client := startInteropPrimary(t)
	require.NoError(t, redistest.FillAllTypes(ctx, client, "shared", 100))

	// Hold the snapshot build until the second replica's request has
	// joined it; the replicas connect on their own once-a-second cron, so
	// this is what makes the overlap certain.
	var mu sync.Mutex
	holdErr := error(nil)
	p.hooks.beforeSnapshot = func() {
		err := redistest.Eventually(ctx, 30*time.Second, func(context.Context) error {
			if _, joined := p.snaps.Counts(); joined < 1 {
				return fmt.Errorf("second full sync has not joined")
			}
			return nil
		})
		mu.Lock()
		holdErr = err
		mu.Unlock()
	}
	a := startRealReplica(t, p, "replica-a")
	b := startRealReplica(t, p, "replica-b")
	require.NoError(t, redistest.WaitReplicaUp(ctx, a.Client()))
	require.NoError(t, redistest.WaitReplicaUp(ctx, b.Client()))
	mu.Lock()
	require.NoError(t, holdErr)
	mu.Unlock()

	st := p.Stats()
	assert.Equal(t, uint64(1), st.SnapshotsStarted)
	assert.Equal(t, uint64(1), st.SnapshotsJoined)
	assert.Equal(t, uint64(2), st.FullSyncs)

	require.NoError(t, redistest.FillAllTypes(ctx, client, "later", 50))
	require.NoError(t, redistest.WaitCaughtUp(ctx, client, a.Client()))
	require.NoError(t, redistest.WaitCaughtUp(ctx, client, b.Client()))
	requireSameData(t, ctx, client, a, b)
	waitFollowers(t, p, 2)
}

func TestInteropRealReplicaTakesEOFMarkedSnapshot(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, client := startInteropPrimary(t, func(c *Config) { c.DisklessEOF = true })
	require.NoError(t, redistest.FillAllTypes(ctx, client, "eof", 100))
	replica := startRealReplica(t, p, "replica")
	require.NoError(t, redistest.WaitReplicaUp(ctx, replica.Client()))
	require.NoError(t, redistest.FillAllTypes(ctx, client, "eof-after", 20))
	require.NoError(t, redistest.WaitCaughtUp(ctx, client, replica.Client()))
	requireSameData(t, ctx, client, replica)
	waitFollowers(t, p, 1)
	log, err := os.ReadFile(replica.LogPath())
	require.NoError(t, err)
	assert.Contains(t, string(log), "receiving streamed RDB from master", "the replica saw the $EOF: framing")
}

// waitFollowers waits until n followers stream and have acknowledged
// everything: each follower machine in BinlogSync, acked offset at ours.
func waitFollowers(t *testing.T, p *Primary, n int) {
	t.Helper()
	redistest.RequireEventually(t, 30*time.Second, "followers streaming and acked", func(context.Context) error {
		fs := p.Followers()
		if len(fs) != n {
			return fmt.Errorf("%d followers: %+v", len(fs), fs)
		}
		for _, f := range fs {
			if f.State != follower.BinlogSync || f.AckedOffset < p.Offset() {
				return fmt.Errorf("follower %s in %s, acked %d of %d", f.ID, f.State, f.AckedOffset, p.Offset())
			}
		}
		return nil
	})
}

// testLogger sends the primary's log to the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = testWriter{}
