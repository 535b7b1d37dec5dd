package redisproc

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/benbjohnson/clock"
)

const (
	// DefaultBenchmarkTimeout bounds [RunBenchmark] when neither
	// Benchmark.Timeout nor ctx sets a bound.
	DefaultBenchmarkTimeout = 2 * time.Minute

	// benchmarkWaitDelay bounds the wait for redis-benchmark's output pipes
	// after it is killed.
	benchmarkWaitDelay = 2 * time.Second

	// benchmarkErrLines is how much of the output goes into an error.
	benchmarkErrLines = 5
)

// Benchmark is one redis-benchmark SET load for [RunBenchmark].
type Benchmark struct {
	// Binary is the redis-benchmark executable; empty means
	// "redis-benchmark" looked up on PATH.
	Binary string

	// Addr is the server, "host:port"; the host must be "localhost" or a
	// loopback IP address.
	Addr string

	// Requests (-n, > 0) SETs from Clients (-c, > 0) connections.
	Requests, Clients int

	// Keyspace (-r, >= 0): random keys "key:<12-digit number below
	// Keyspace>"; 0 writes the one key "key:__rand_int__".
	Keyspace int

	// Pipeline (-P, >= 0) requests per pipeline; 0 leaves redis-benchmark's
	// default (no pipelining).
	Pipeline int

	// DataSize (-d, >= 0) is the value size in bytes; 0 leaves
	// redis-benchmark's default (3).
	DataSize int

	// Timeout bounds the run on Clock (the process group is killed then);
	// 0 means ctx's deadline, or [DefaultBenchmarkTimeout] when ctx has
	// none.
	Timeout time.Duration

	// Clock times Timeout and Elapsed; nil means clock.New().
	Clock clock.Clock
}

// BenchmarkResult is what [RunBenchmark] observed.
type BenchmarkResult struct {
	// RequestsPerSecond is the SET throughput redis-benchmark reported.
	RequestsPerSecond float64
	// Elapsed is the time the subprocess ran.
	Elapsed time.Duration
	// Output is redis-benchmark's combined stdout and stderr.
	Output string
}

// Args returns redis-benchmark's arguments for b:
//
//	-h <host> -p <port> -t set -n <Requests> -c <Clients>
//	[-P <Pipeline>] [-d <DataSize>] [-r <Keyspace>] -q
//
// Errors: [ErrInvalidArgument] for a malformed Addr or a count out of
// range; [ErrNotLoopback] when Addr's host is not a loopback address.
func (b Benchmark) Args() ([]string, error) {
	host, port, err := net.SplitHostPort(b.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: address %q: %v", ErrInvalidArgument, b.Addr, err)
	}
	if !isLoopback(host) {
		return nil, fmt.Errorf("%w: %q", ErrNotLoopback, b.Addr)
	}
	if b.Requests <= 0 || b.Clients <= 0 || b.Keyspace < 0 || b.Pipeline < 0 || b.DataSize < 0 {
		return nil, fmt.Errorf("%w: requests %d, clients %d, keyspace %d, pipeline %d, data size %d",
			ErrInvalidArgument, b.Requests, b.Clients, b.Keyspace, b.Pipeline, b.DataSize)
	}
	args := []string{"-h", host, "-p", port, "-t", "set",
		"-n", strconv.Itoa(b.Requests), "-c", strconv.Itoa(b.Clients)}
	if b.Pipeline > 0 {
		args = append(args, "-P", strconv.Itoa(b.Pipeline))
	}
	if b.DataSize > 0 {
		args = append(args, "-d", strconv.Itoa(b.DataSize))
	}
	if b.Keyspace > 0 {
		args = append(args, "-r", strconv.Itoa(b.Keyspace))
	}
	return append(args, "-q"), nil
}

var rpsLine = regexp.MustCompile(`SET: ([0-9.]+) requests per second`)

// RunBenchmark runs redis-benchmark with b.Args() in its own process group
// and waits for it. When the timeout passes or ctx ends, the process group
// is killed and the error wraps ctx's error (context.DeadlineExceeded for
// the timeout).
//
// Errors: those of [Benchmark.Args]; [ErrBinaryNotFound] when
// redis-benchmark is missing; [ErrBenchmarkOutput] when it exits 0 without
// a SET throughput line; otherwise the subprocess's failure with the end of
// its output. The result is filled in as far as the run got.
func RunBenchmark(ctx context.Context, b Benchmark) (BenchmarkResult, error) {
	args, err := b.Args()
	if err != nil {
		return BenchmarkResult{}, err
	}
	if b.Binary == "" {
		b.Binary = "redis-benchmark"
	}
	bin, err := LookPath(b.Binary)
	if err != nil {
		return BenchmarkResult{}, err
	}
	clk := b.Clock
	if clk == nil {
		clk = clock.New()
	}
	timeout := b.Timeout
	if _, ok := ctx.Deadline(); !ok && timeout <= 0 {
		timeout = DefaultBenchmarkTimeout
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = clk.WithTimeout(ctx, timeout)
		defer cancel()
	}

	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = benchmarkWaitDelay
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := clk.Now()
	err = cmd.Run()
	res := BenchmarkResult{Elapsed: clk.Since(start), Output: out.String()}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return res, fmt.Errorf("redis-benchmark %v: %w; output ends: %s", args, err, lastLines(res.Output, benchmarkErrLines))
	}
	m := rpsLine.FindAllStringSubmatch(res.Output, -1)
	if m == nil {
		return res, fmt.Errorf("%w; output ends: %s", ErrBenchmarkOutput, lastLines(res.Output, benchmarkErrLines))
	}
	if res.RequestsPerSecond, err = strconv.ParseFloat(m[len(m)-1][1], 64); err != nil {
		return res, fmt.Errorf("%w: throughput %q: %v", ErrBenchmarkOutput, m[len(m)-1][1], err)
	}
	return res, nil
}
