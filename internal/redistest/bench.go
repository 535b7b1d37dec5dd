package redistest

import (
	"context"
	"fmt"

	"github.com/replsm/replsm/internal/redisproc"
)

// DefaultBenchmarkTimeout bounds [RunBenchmark] when ctx has no deadline.
const DefaultBenchmarkTimeout = redisproc.DefaultBenchmarkTimeout

// MaxBenchmarkRequests caps the requests argument of [RunBenchmark].
const MaxBenchmarkRequests = 10_000_000

// BenchmarkResult is what [RunBenchmark] observed: the SET throughput
// redis-benchmark reported (RequestsPerSecond), the wall time the
// subprocess ran (Elapsed) and its combined stdout and stderr (Output).
type BenchmarkResult = redisproc.BenchmarkResult

// RunBenchmark runs the real redis-benchmark against addr as
//
//	redis-benchmark -h <host> -p <port> -t set -n requests -c clients [-r keyspace] -q
//
// so it writes requests SETs of keys "key:<12-digit number below keyspace>"
// (one fixed key "key:__rand_int__" when keyspace is 0) from clients
// connections into database 0. It waits for the subprocess (run by
// internal/redisproc in its own process group), which is killed when ctx
// ends (ctx without a deadline gets [DefaultBenchmarkTimeout]).
//
// Errors: [ErrNotLoopback] unless addr's host is a loopback address or
// "localhost"; [ErrInvalidArgument] unless 0 < requests <=
// [MaxBenchmarkRequests], clients > 0 and keyspace >= 0;
// [ErrBinaryNotFound] when redis-benchmark is not on PATH;
// [ErrBenchmarkOutput] when it exits 0 without a throughput line; otherwise
// the subprocess's failure with the end of its output.
func RunBenchmark(ctx context.Context, addr string, requests, clients, keyspace int) (BenchmarkResult, error) {
	b := redisproc.Benchmark{Addr: addr, Requests: requests, Clients: clients, Keyspace: keyspace}
	if _, err := b.Args(); err != nil {
		return BenchmarkResult{}, err
	}
	if requests > MaxBenchmarkRequests {
		return BenchmarkResult{}, fmt.Errorf("%w: requests %d > %d", ErrInvalidArgument, requests, MaxBenchmarkRequests)
	}
	return redisproc.RunBenchmark(ctx, b)
}

// Load is a redis-benchmark SET load that runs until the test has seen
// what it waits for, not for a fixed time: chunks of requests run back to
// back until Stop, the context's end, or maxChunks chunks. Tests size it by
// what they observe, so a slow machine gets a longer load, not a weaker
// test.
type Load struct {
	stop chan struct{}
	done chan struct{}

	chunks int
	err    error
}

// StartLoad starts a [Load] of chunk SETs per redis-benchmark run from
// clients connections over keyspace keys (see [RunBenchmark]), at most
// maxChunks runs. The caller must call Stop.
func StartLoad(ctx context.Context, addr string, chunk, clients, keyspace, maxChunks int) *Load {
	l := &Load{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for l.chunks < maxChunks {
			select {
			case <-l.stop:
				return
			case <-ctx.Done():
				l.err = ctx.Err()
				return
			default:
			}
			if _, err := RunBenchmark(ctx, addr, chunk, clients, keyspace); err != nil {
				l.err = err
				return
			}
			l.chunks++
		}
	}()
	return l
}

// Done is closed when the load ended on its own: maxChunks ran, a run
// failed, or the context ended.
func (l *Load) Done() <-chan struct{} { return l.done }

// Stop ends the load after the chunk in flight and returns how many chunks
// ran (each of chunk requests) and the first failure. It is safe to call
// more than once.
func (l *Load) Stop() (chunks int, err error) {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
	return l.chunks, l.err
}
