package redistest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

// DefaultBenchmarkTimeout bounds [RunBenchmark] when ctx has no deadline.
const DefaultBenchmarkTimeout = 2 * time.Minute

// MaxBenchmarkRequests caps the requests argument of [RunBenchmark].
const MaxBenchmarkRequests = 10_000_000

// BenchmarkResult is what [RunBenchmark] observed.
type BenchmarkResult struct {
	// RequestsPerSecond is the SET throughput redis-benchmark reported.
	RequestsPerSecond float64
	// Elapsed is the wall time the subprocess ran.
	Elapsed time.Duration
	// Output is redis-benchmark's combined stdout and stderr.
	Output string
}

var rpsLine = regexp.MustCompile(`SET: ([0-9.]+) requests per second`)

// RunBenchmark runs the real redis-benchmark against addr as
//
//	redis-benchmark -h <host> -p <port> -t set -n requests -c clients [-r keyspace] -q
//
// so it writes requests SETs of keys "key:<12-digit number below keyspace>"
// (one fixed key "key:__rand_int__" when keyspace is 0) from clients
// connections into database 0. It waits for the subprocess, which is killed
// when ctx ends (ctx without a deadline gets [DefaultBenchmarkTimeout]).
//
// Errors: [ErrNotLoopback] unless addr's host is a loopback address or
// "localhost"; [ErrInvalidArgument] unless 0 < requests <=
// [MaxBenchmarkRequests], clients > 0 and keyspace >= 0;
// [ErrBinaryNotFound] when redis-benchmark is not on PATH;
// [ErrBenchmarkOutput] when it exits 0 without a throughput line; otherwise
// the subprocess's failure with its output.
func RunBenchmark(ctx context.Context, addr string, requests, clients, keyspace int) (BenchmarkResult, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return BenchmarkResult{}, fmt.Errorf("%w: address %q: %v", ErrInvalidArgument, addr, err)
	}
	if !isLoopback(host) {
		return BenchmarkResult{}, fmt.Errorf("%w: %q", ErrNotLoopback, addr)
	}
	if requests <= 0 || requests > MaxBenchmarkRequests || clients <= 0 || keyspace < 0 {
		return BenchmarkResult{}, fmt.Errorf("%w: requests %d, clients %d, keyspace %d",
			ErrInvalidArgument, requests, clients, keyspace)
	}
	bin, err := lookupBinary("", "redis-benchmark")
	if err != nil {
		return BenchmarkResult{}, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultBenchmarkTimeout)
		defer cancel()
	}
	args := []string{"-h", host, "-p", port, "-t", "set",
		"-n", strconv.Itoa(requests), "-c", strconv.Itoa(clients), "-q"}
	if keyspace > 0 {
		args = append(args, "-r", strconv.Itoa(keyspace))
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 2 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	err = cmd.Run()
	res := BenchmarkResult{Elapsed: time.Since(start), Output: out.String()}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return res, fmt.Errorf("redis-benchmark %v: %w; output: %s", args, err, truncate(res.Output, 2000))
	}
	m := rpsLine.FindAllStringSubmatch(res.Output, -1)
	if m == nil {
		return res, fmt.Errorf("%w: %s", ErrBenchmarkOutput, truncate(res.Output, 2000))
	}
	res.RequestsPerSecond, err = strconv.ParseFloat(m[len(m)-1][1], 64)
	if err != nil {
		return res, fmt.Errorf("%w: %v", ErrBenchmarkOutput, err)
	}
	return res, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
