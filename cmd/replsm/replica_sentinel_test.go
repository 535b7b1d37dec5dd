package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
)

func TestReplicaSentinelFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--shard", "0=sentinel:m"}, "needs --sentinel"},
		{[]string{"--shard", "0=127.0.0.1:7000", "--sentinel", "127.0.0.1:26379"}, "no --shard ID=sentinel:NAME"},
		{[]string{"--shard", "0=sentinel:", "--sentinel", "127.0.0.1:26379"}, "non-empty name"},
		{[]string{"--shard", "0=sentinel:m", "--sentinel", "nope"}, "--sentinel nope"},
		{[]string{"--shard", "0=127.0.0.1:7000", "--replica-priority", "-1"}, "--replica-priority must be >= 0"},
	} {
		var stderr bytes.Buffer
		code := run(context.Background(), append([]string{"replica", "--listen", "127.0.0.1:0"}, tc.args...), &bytes.Buffer{}, &stderr)
		assert.Equal(t, 2, code, "%v: %s", tc.args, stderr.String())
		assert.Contains(t, stderr.String(), tc.msg, "%v", tc.args)
	}
}

// TestReplicaFollowsSentinel: `replsm replica --sentinel ... --shard
// 0=sentinel:m` follows the primary the real sentinels name, and after
// SENTINEL FAILOVER the promoted replica, where a write made after the
// failover reaches it.
func TestReplicaFollowsSentinel(t *testing.T) {
	p := redistest.Start(t, redistest.Options{Name: "primary", Args: []string{"--repl-ping-replica-period", "1"}})
	rr := redistest.Start(t, redistest.Options{Name: "replica", Args: append([]string{"--repl-ping-replica-period", "1"}, redistest.ReplicaOfArgs(p.Port())...)})
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	require.NoError(t, redistest.WaitReplicaUp(ctx, rr.Client()))
	ss := redistest.StartSentinels(t, "m", p.Port(), 3, 2)
	var addrs []string
	for _, s := range ss {
		addrs = append(addrs, s.Addr())
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var stderr redistest.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(runCtx, []string{"replica", "--sentinel", strings.Join(addrs, ","), "--shard", "0=sentinel:m",
			"--listen", "127.0.0.1:0", "--keepalive", "3s", "--primary-ping-period", "1s"}, &bytes.Buffer{}, &stderr)
	}()
	addr := waitLogged(t, &stderr, `msg="replica serving reads" addr=(\S+)`)
	c := redistest.NewClient(addr, 0)
	defer c.Close()
	following := func(primary *redistest.Server) func(context.Context) error {
		return func(ctx context.Context) error {
			info, err := redistest.ReplicationInfo(ctx, c)
			if err != nil {
				return err
			}
			if info["master_port"] != fmt.Sprint(primary.Port()) || info["master_link_status"] != "up" || info["slave_priority"] != "0" {
				return fmt.Errorf("replsm: master_port %s link %s priority %s", info["master_port"], info["master_link_status"], info["slave_priority"])
			}
			return nil
		}
	}
	redistest.RequireEventually(t, 60*time.Second, "replsm to follow the primary", following(p))
	require.NoError(t, ss[0].Client().Do(ctx, "SENTINEL", "FAILOVER", "m").Err())
	redistest.RequireEventually(t, 90*time.Second, "replsm to follow the promoted replica", following(rr))
	require.NoError(t, rr.Client().Set(ctx, "after-failover", "yes", 0).Err())
	redistest.RequireEventually(t, 30*time.Second, "the write to arrive", func(ctx context.Context) error {
		v, err := c.Get(ctx, "after-failover").Result()
		if err != nil || v != "yes" {
			return fmt.Errorf("GET after-failover: %q %v", v, err)
		}
		return nil
	})
	stop()
	select {
	case code := <-done:
		assert.Equal(t, 0, code, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("replica did not stop")
	}
	assert.Contains(t, stderr.String(), "sentinels name the shard's primary")
}

// waitLogged waits for a log line matching pattern and returns its first
// group.
func waitLogged(t *testing.T, log *redistest.SyncBuffer, pattern string) string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	var got string
	redistest.RequireEventually(t, 30*time.Second, "log line "+pattern, func(context.Context) error {
		m := re.FindStringSubmatch(log.String())
		if m == nil {
			return fmt.Errorf("log so far:\n%s", log.String())
		}
		got = m[1]
		return nil
	})
	return got
}
