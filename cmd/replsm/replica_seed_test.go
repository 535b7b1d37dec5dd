package main

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
)

// firstRetry runs `replsm replica` against a dead primary with extra flags
// and returns the backoff of its shard's first failure (retry_in=...),
// which only the jitter seed decides.
func firstRetry(t *testing.T, extra ...string) string {
	t.Helper()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadAddr := dead.Addr().String()
	require.NoError(t, dead.Close())

	ctx, cancel := context.WithCancel(context.Background())
	var stderr redistest.SyncBuffer
	done := make(chan int, 1)
	args := append([]string{"replica", "--shard", "0=" + deadAddr, "--listen", "127.0.0.1:0"}, extra...)
	go func() { done <- run(ctx, args, &redistest.SyncBuffer{}, &stderr) }()
	defer func() {
		cancel()
		select {
		case code := <-done:
			assert.Equal(t, 0, code, stderr.String())
		case <-time.After(10 * time.Second):
			t.Error("replica did not stop after its context ended")
		}
	}()
	re := regexp.MustCompile(`machine=slot id=slot/0 seq=\d+ event=fail .*? retry_in=(\S+)`)
	var retry string
	redistest.RequireEventually(t, 10*time.Second, "first failure", func(context.Context) error {
		m := re.FindStringSubmatch(stderr.String())
		if m == nil {
			return fmt.Errorf("stderr so far:\n%s", stderr.String())
		}
		retry = m[1]
		return nil
	})
	return retry
}

// TestReplicaSeed: --seed N makes the jitter repeatable across runs; the
// default (0) draws a seed per process, so two replicas do not retry at
// the same instants.
func TestReplicaSeed(t *testing.T) {
	a, b := firstRetry(t, "--seed", "7"), firstRetry(t, "--seed", "7")
	assert.Equal(t, a, b, "the same seed, the same backoff")
	c, d := firstRetry(t), firstRetry(t)
	assert.NotEqual(t, c, d, "the default seed is random per process")
}
