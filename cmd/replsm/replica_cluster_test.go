package main

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
)

// TestReplicaFollowsACluster: `replsm replica --cluster` discovers a real
// cluster's masters, logs each as a topology change, and answers an
// unscoped GET for a key of any slot.
func TestReplicaFollowsACluster(t *testing.T) {
	c := redistest.StartCluster(t, redistest.ClusterOptions{NodeTimeout: 2 * time.Second,
		Args: []string{"--repl-ping-replica-period", "1"}})
	ctx, cancel := context.WithCancel(context.Background())
	var stderr redistest.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"replica", "--cluster", c.Nodes[0].Addr(), "--listen", "127.0.0.1:0",
			"--keepalive", "3s", "--primary-ping-period", "1s"}, &stderr, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		require.Equal(t, 0, <-done, stderr.String())
	})
	cc := c.Client()
	tctx, tcancel := context.WithTimeout(context.Background(), time.Minute)
	defer tcancel()
	for i := range 50 {
		require.NoError(t, cc.Set(tctx, fmt.Sprintf("k%d", i), i, 0).Err())
	}
	addrRE := regexp.MustCompile(`msg="replica serving reads" addr=(\S+)`)
	var addr string
	redistest.RequireEventually(t, 60*time.Second, "serving", func(context.Context) error {
		m := addrRE.FindStringSubmatch(stderr.String())
		if m == nil {
			return fmt.Errorf("stderr so far:\n%s", stderr.String())
		}
		addr = m[1]
		return nil
	})
	require.Regexp(t, `msg="cluster topology" change=add shard=slot/2`, stderr.String())
	u := redistest.NewClient(addr, 0)
	defer u.Close()
	redistest.RequireEventually(t, 60*time.Second, "every key readable unscoped", func(ctx context.Context) error {
		for i := range 50 {
			v, err := u.Get(ctx, fmt.Sprintf("k%d", i)).Int()
			if err != nil || v != i {
				return fmt.Errorf("GET k%d = %d, %v", i, v, err)
			}
		}
		return nil
	})
}
