package redistest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunBenchmark(t *testing.T) {
	s := Start(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := RunBenchmark(ctx, s.Addr(), 5_000, 4, 500)
	require.NoError(t, err)
	assert.Positive(t, res.RequestsPerSecond)
	assert.Positive(t, res.Elapsed)
	n, err := s.Client().DBSize(ctx).Result()
	require.NoError(t, err)
	assert.Positive(t, n)
	assert.LessOrEqual(t, n, int64(500))
}

func TestRunBenchmarkRejects(t *testing.T) {
	ctx := context.Background()
	for _, addr := range []string{"192.0.2.1:6379", "example.invalid:6379"} {
		_, err := RunBenchmark(ctx, addr, 10, 1, 0)
		assert.ErrorIs(t, err, ErrNotLoopback, addr)
	}
	_, err := RunBenchmark(ctx, "127.0.0.1", 10, 1, 0)
	assert.ErrorIs(t, err, ErrInvalidArgument)
	for _, args := range [][3]int{{0, 1, 0}, {10, 0, 0}, {10, 1, -1}, {MaxBenchmarkRequests + 1, 1, 0}} {
		_, err := RunBenchmark(ctx, "127.0.0.1:1", args[0], args[1], args[2])
		assert.ErrorIs(t, err, ErrInvalidArgument, "%v", args)
	}
}

func TestRunBenchmarkBoundedByContext(t *testing.T) {
	s := Start(t, Options{})
	s.Stop() // frozen: the benchmark would wait forever
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := RunBenchmark(ctx, s.Addr(), 1_000, 2, 0)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 10*time.Second)
	s.Cont()
}

func TestLoadRunsUntilStopped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := Start(t, Options{Name: "load"})
	l := StartLoad(ctx, s.Addr(), 1_000, 2, 100, 1_000)
	RequireEventually(t, 30*time.Second, "writes", func(ctx context.Context) error {
		n, err := s.Client().DBSize(ctx).Result()
		if err != nil || n == 0 {
			return fmt.Errorf("dbsize %d, %v", n, err)
		}
		return nil
	})
	chunks, err := l.Stop()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, chunks, 0)
	again, err := l.Stop()
	require.NoError(t, err)
	assert.Equal(t, chunks, again)

	l = StartLoad(ctx, s.Addr(), 100, 1, 10, 2)
	select {
	case <-l.Done():
	case <-ctx.Done():
		t.Fatal("a load of 2 chunks did not end")
	}
	chunks, err = l.Stop()
	require.NoError(t, err)
	assert.Equal(t, 2, chunks)
}
