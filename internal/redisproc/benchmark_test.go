package redisproc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redisproc"
)

func TestBenchmarkArgs(t *testing.T) {
	args, err := redisproc.Benchmark{Addr: "127.0.0.1:7000", Requests: 10, Clients: 2}.Args()
	require.NoError(t, err)
	assert.Equal(t, "-h 127.0.0.1 -p 7000 -t set -n 10 -c 2 -q", strings.Join(args, " "))

	args, err = redisproc.Benchmark{Addr: "localhost:7000", Requests: 10, Clients: 2,
		Keyspace: 100, Pipeline: 16, DataSize: 8}.Args()
	require.NoError(t, err)
	assert.Equal(t, "-h localhost -p 7000 -t set -n 10 -c 2 -P 16 -d 8 -r 100 -q", strings.Join(args, " "))

	for _, addr := range []string{"192.0.2.1:6379", "10.1.2.3:6379", "example.invalid:6379"} {
		_, err := redisproc.Benchmark{Addr: addr, Requests: 1, Clients: 1}.Args()
		assert.ErrorIs(t, err, redisproc.ErrNotLoopback, addr)
	}
	for _, b := range []redisproc.Benchmark{
		{Addr: "127.0.0.1", Requests: 1, Clients: 1},
		{Addr: "127.0.0.1:1", Requests: 0, Clients: 1},
		{Addr: "127.0.0.1:1", Requests: 1, Clients: 0},
		{Addr: "127.0.0.1:1", Requests: 1, Clients: 1, Keyspace: -1},
		{Addr: "127.0.0.1:1", Requests: 1, Clients: 1, Pipeline: -1},
		{Addr: "127.0.0.1:1", Requests: 1, Clients: 1, DataSize: -1},
	} {
		_, err := b.Args()
		assert.ErrorIs(t, err, redisproc.ErrInvalidArgument, "%+v", b)
		_, err = redisproc.RunBenchmark(context.Background(), b)
		assert.ErrorIs(t, err, redisproc.ErrInvalidArgument, "%+v", b)
	}

	_, err = redisproc.RunBenchmark(context.Background(), redisproc.Benchmark{
		Binary: "redis-benchmark-that-does-not-exist", Addr: "127.0.0.1:1", Requests: 1, Clients: 1})
	require.ErrorIs(t, err, redisproc.ErrBinaryNotFound)
	assert.Contains(t, err.Error(), redisproc.InstallHint)
}

func TestRunBenchmark(t *testing.T) {
	s := start(t, redisproc.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := redisproc.RunBenchmark(ctx, redisproc.Benchmark{
		Addr: s.Addr(), Requests: 2000, Clients: 2, Keyspace: 50, Pipeline: 4, DataSize: 8,
	})
	require.NoError(t, err)
	assert.Positive(t, res.RequestsPerSecond)
	assert.Positive(t, res.Elapsed)
	assert.Contains(t, res.Output, "requests per second")

	c := client(t, s)
	n, err := c.DBSize(ctx).Result()
	require.NoError(t, err)
	assert.Positive(t, n)
	assert.LessOrEqual(t, n, int64(50))
	key, err := c.RandomKey(ctx).Result()
	require.NoError(t, err)
	v, err := c.Get(ctx, key).Result()
	require.NoError(t, err)
	assert.Len(t, v, 8, "-d 8")
}

func TestRunBenchmarkTimeoutOnTheClock(t *testing.T) {
	s := start(t, redisproc.Options{})
	require.NoError(t, s.Stop()) // frozen: the benchmark would wait forever
	mock := clock.NewMock()
	done := make(chan error, 1)
	go func() {
		_, err := redisproc.RunBenchmark(context.Background(), redisproc.Benchmark{
			Addr: s.Addr(), Requests: 1000, Clients: 2, Timeout: time.Second, Clock: mock,
		})
		done <- err
	}()
	err := advanceUntil(mock, done)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, s.Cont())
}

// TestRunBenchmarkFailureShowsOutput runs a redis-benchmark that fails.
func TestRunBenchmarkFailureShowsOutput(t *testing.T) {
	b := redisproc.Benchmark{Binary: fake(t, "exit").Binary, Addr: "127.0.0.1:1", Requests: 10, Clients: 1}
	res, err := redisproc.RunBenchmark(context.Background(), b)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exit status 3")
	assert.Contains(t, err.Error(), "output ends: boom")
	assert.Equal(t, "boom\n", res.Output)
}
