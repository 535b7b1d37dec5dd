package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
)

// TestRealReplicaThroughProxy runs a real redis-server replica that follows a
// real primary through the proxy, and applies every fault: after each, the
// replica recovers (by partial resync where Redis can) and holds exactly the
// primary's data.
func TestRealReplicaThroughProxy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	primary := redistest.Start(t, redistest.Options{Name: "primary"})
	p := newProxy(t, primary.Addr())
	_, portStr, err := net.SplitHostPort(p.Addr())
	require.NoError(t, err)
	port, err := strconv.Atoi(portStr)
	require.NoError(t, err)
	replica := redistest.Start(t, redistest.Options{Name: "replica",
		Args: append(redistest.ReplicaOfArgs(port), "--repl-timeout", "2")})
	pc, rc := primary.Client(), replica.Client()

	require.NoError(t, redistest.WaitReplicaUp(ctx, rc))
	requireSame := func(step string) {
		t.Helper()
		require.NoError(t, redistest.WaitCaughtUp(ctx, pc, rc), step)
		equal, a, b, err := redistest.Compare(ctx, pc, rc, redistest.FillDBs())
		require.NoError(t, err, step)
		require.True(t, equal, "%s: primary %v\nreplica %v\ndiff %v", step, a, b, a.Diff(b, 10))
		t.Logf("%s: %v", step, a)
	}
	linkDown := func(ctx context.Context) error {
		info, err := redistest.ReplicationInfo(ctx, rc)
		if err != nil {
			return err
		}
		if s := info["master_link_status"]; s != "down" {
			return fmt.Errorf("master_link_status=%s", s)
		}
		return nil
	}
	require.NoError(t, redistest.FillAllTypes(ctx, pc, "a", 100))
	requireSame("initial sync")
	partial0 := statInt(ctx, t, pc, "sync_partial_ok")

	// Cut: the replica reconnects at once and continues from its offset.
	accepted := p.Accepted()
	p.Cut()
	redistest.RequireEventually(t, 30*time.Second, "replica reconnects after Cut", func(ctx context.Context) error {
		if p.Accepted() == accepted {
			return errors.New("no new connection yet")
		}
		return redistest.WaitReplicaUp(ctx, rc)
	})
	require.NoError(t, redistest.FillAllTypes(ctx, pc, "b", 50))
	requireSame("after Cut")
	require.Greater(t, statInt(ctx, t, pc, "sync_partial_ok"), partial0, "Cut must be healed by PSYNC +CONTINUE")

	// Stall: no data nor PING reaches the replica; its repl-timeout (2 s)
	// notices. Writes made meanwhile arrive after Unstall.
	p.Stall()
	require.NoError(t, redistest.FillAllTypes(ctx, pc, "c", 50))
	redistest.RequireEventually(t, 30*time.Second, "replica times out while stalled", linkDown)
	p.Unstall()
	require.NoError(t, redistest.WaitReplicaUp(ctx, rc))
	requireSame("after Stall")
	require.Contains(t, replica.LogTail(), "MASTER timeout")

	// Down: reconnects are refused until Up.
	p.Down()
	require.NoError(t, redistest.FillAllTypes(ctx, pc, "d", 50))
	redistest.RequireEventually(t, 30*time.Second, "replica link down and refused", func(ctx context.Context) error {
		if err := linkDown(ctx); err != nil {
			return err
		}
		if !strings.Contains(replica.LogTail(), "Connection refused") {
			return errors.New("no refused reconnect in the replica log yet")
		}
		return nil
	})
	require.NoError(t, p.Up())
	require.NoError(t, redistest.WaitReplicaUp(ctx, rc))
	requireSame("after Down/Up")
	require.Equal(t, 1, statInt(ctx, t, pc, "sync_full"), "every fault was healed without a full resync")
}

func statInt(ctx context.Context, t *testing.T, c *redis.Client, field string) int {
	t.Helper()
	text, err := c.Info(ctx, "stats").Result()
	require.NoError(t, err)
	info, err := redistest.ParseInfo(text)
	require.NoError(t, err)
	n, err := strconv.Atoi(info[field])
	require.NoError(t, err, field)
	return n
}
