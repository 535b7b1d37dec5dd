package replica

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/internal/redisview"
	"github.com/replsm/replsm/slot"
)

// tightReplicaLimit is the output buffer limit under which a replica that
// stops reading while it loads goes through full sync after full sync.
var tightReplicaLimit = []string{"--client-output-buffer-limit", "replica 24mb 16mb 2"}

// syncFull is a primary's INFO stats sync_full: the full syncs it served.
func syncFull(t testing.TB, ctx context.Context, c *redis.Client) int64 {
	t.Helper()
	text, err := c.Info(ctx, "stats").Result()
	require.NoError(t, err)
	info, err := redistest.ParseInfo(text)
	require.NoError(t, err)
	n, err := strconv.ParseInt(info["sync_full"], 10, 64)
	require.NoError(t, err, "sync_full %q", info["sync_full"])
	return n
}

// TestInteropNoFullSyncLoopUnderTightOutputLimit: a real primary with a
// tight client-output-buffer-limit replica and a steady stream of 4 KiB
// writes while our replica's load is held (a gate, so the test does not
// depend on how slow loading is here) until the primary has streamed more
// than the hard limit: the replica keeps reading it into its spool, so
// the primary never drops it; once the load is in, the spooled stream
// applies and the digests match, after exactly one full sync.
func TestInteropNoFullSyncLoopUnderTightOutputLimit(t *testing.T) {
	ctx := testCtx(t, 120*time.Second)
	gate := holdLoads(t)
	w := watchSpools(t)
	p := redistest.Start(t, redistest.Options{Name: "primary", Args: append(slices.Clone(primaryArgs), tightReplicaLimit...)})
	pc := p.Client()
	require.NoError(t, redistest.FillAllTypes(ctx, pc, "pre", 300))
	fullBefore := syncFull(t, ctx, pc)

	cfg := testConfig(t, map[slot.ID]string{0: p.Addr()})
	cfg.SpoolDir = t.TempDir()
	r := startReplica(t, cfg)
	gate.waitLoaded(t) // the payload is in; its load is held
	_, sp := w.last(t)
	// The primary streams once it takes an ACK after its fork child ended;
	// until then it buffers. Let the stream start (a write, the pings)
	// before the load, so what the buffer shows is how fast the replica
	// reads, not that wait.
	require.NoError(t, pc.Set(ctx, "start", "1", 0).Err())
	redistest.RequireEventually(t, 30*time.Second, "the stream started", func(context.Context) error {
		if sp.Len() == 0 {
			return fmt.Errorf("nothing streamed yet")
		}
		return nil
	})

	// Writes and output-buffer samples until the spool holds more than the
	// hard limit (bounded: at most 40k writes, and the context).
	const target = 32 << 20
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var peak int64
	var writeErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		val := strings.Repeat("w", 4<<10)
		for i := 0; i < 40_000; i += 50 {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			default:
			}
			_, err := pc.Pipelined(ctx, func(pl redis.Pipeliner) error {
				for j := i; j < i+50; j++ {
					pl.Set(ctx, fmt.Sprintf("w:%d", j%5000), val, 0)
				}
				return nil
			})
			if err != nil {
				writeErr = err
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
			bufs, err := redisview.ReplicaOutputBuffers(ctx, pc)
			if err != nil {
				continue
			}
			for _, b := range bufs {
				peak = max(peak, b)
			}
		}
	}()
	redistest.RequireEventually(t, 60*time.Second, "the stream past the hard limit spooled while the load is held", func(context.Context) error {
		if n := sp.Len(); n < target {
			return fmt.Errorf("%d of %d bytes spooled", n, target)
		}
		return nil
	})
	st, _ := r.Stats(0)
	assert.Equal(t, slot.WaitDBSync, st.State, "still loading")
	gate.open()
	close(stop)
	wg.Wait()
	require.NoError(t, writeErr)

	rc := shardClient(t, r, 0)
	requireSameDigest(t, ctx, pc, rc)
	assert.Equal(t, int64(1), syncFull(t, ctx, pc)-fullBefore, "full syncs the primary served")
	st, _ = r.Stats(0)
	assert.Equal(t, uint64(1), st.FullSyncs)
	assert.Equal(t, uint64(1), st.Sessions, "never dropped")
	t.Logf("spooled %d bytes of stream while the load was held; peak output buffer for the replica %d bytes (soft limit 16mb)", sp.Len(), peak)
	requireNoSpoolFiles(t, cfg.SpoolDir)
}
