// Command benchinterop measures replsm's Redis replica against a real one
// under the same load: it starts a real redis-server primary on a free
// loopback port, a real `redis-server --replicaof` it, and replsm's
// redis/replica following it (one shard, in this process); once both links
// are up it runs redis-benchmark's SET load against the primary while
// sampling, every 100 ms, the primary's master_repl_offset and each
// follower's acknowledged offset (the primary's INFO replication) and
// applied SET count (the real replica's INFO commandstats, our
// Stats().Applied). It prints a Markdown table of each follower's applied
// ops/s and lag percentiles, checks the targets, waits for both followers
// to catch up and compares their digests with the primary's. Everything it
// started is stopped on the way out, also on errors and ctrl-C.
//
// Usage:
//
//	go run ./internal/benchinterop [flags]     (make bench-interop)
//
// Exit status: 0 when every target is met, 1 when one is missed, 2 when the
// run could not be carried out.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/benbjohnson/clock"
	"github.com/replsm/replsm/internal/benchkit"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("benchinterop", flag.ContinueOnError)
	fs.IntVar(&cfg.Requests, "n", cfg.Requests, "redis-benchmark -n: total SET requests")
	fs.IntVar(&cfg.Clients, "c", cfg.Clients, "redis-benchmark -c: parallel connections")
	fs.IntVar(&cfg.Keyspace, "r", cfg.Keyspace, "redis-benchmark -r: random keys in this keyspace (0: one key)")
	fs.IntVar(&cfg.Pipeline, "P", cfg.Pipeline, "redis-benchmark -P: requests per pipeline")
	fs.IntVar(&cfg.DataSize, "d", cfg.DataSize, "redis-benchmark -d: value size in bytes")
	fs.DurationVar(&cfg.LoadTimeout, "timeout", cfg.LoadTimeout, "wall-time cap of the load")
	fs.DurationVar(&cfg.SampleEvery, "sample", cfg.SampleEvery, "sampling period")
	fs.DurationVar(&cfg.StartTimeout, "start-timeout", cfg.StartTimeout, "bound on starting the servers and both links")
	fs.DurationVar(&cfg.CatchUpTimeout, "catchup", cfg.CatchUpTimeout, "target: both followers acknowledge the final offset within this after the load")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "start of the load window left out of the lag-growth check")
	fs.Float64Var(&cfg.MinRatio, "min-ratio", cfg.MinRatio, "target: our apply rate / the real replica's")
	fs.Float64Var(&cfg.LagGrowth, "lag-growth", cfg.LagGrowth, "target: second-half mean lag <= this x first-half mean + lag-slack")
	fs.Int64Var(&cfg.LagSlack, "lag-slack", cfg.LagSlack, "target: absolute slack of the lag bound, bytes")
	fs.IntVar(&cfg.MinSamples, "min-samples", cfg.MinSamples, "samples the load window must hold to judge the lag")
	fs.StringVar(&cfg.RedisServer, "redis-server", cfg.RedisServer, "redis-server binary")
	fs.StringVar(&cfg.RedisBenchmark, "redis-benchmark", cfg.RedisBenchmark, "redis-benchmark binary")
	fs.BoolVar(&cfg.KeepDir, "keep", false, "keep the servers' directory (logs) after the run")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of this process (our replica) over the load window to `file`")
	out := fs.String("o", "", "also write the Markdown report to `file`")
	csv := fs.String("csv", "", "write the load window's samples as CSV to `file`")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	if exit, ok := benchkit.Parse(fs, args, stderr); !ok {
		return exit
	}
	cfg.Clock = clock.New()
	if !*quiet {
		cfg.Progress = stderr
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "benchinterop: %v\n", err)
			return 2
		}
		defer f.Close()
		cfg.CPUProfile = f
	}

	ctx, stop := benchkit.Interruptible()
	defer stop()

	res, err := Run(ctx, cfg)
	if res != nil && !res.LoadEnd.IsZero() {
		report := res.Markdown(res.Evaluate())
		fmt.Fprint(stdout, report)
		if *out != "" {
			if werr := os.WriteFile(*out, []byte(report), 0o644); werr != nil {
				fmt.Fprintf(stderr, "benchinterop: %v\n", werr)
				return 2
			}
		}
	}
	if *csv != "" && res != nil && !res.LoadEnd.IsZero() {
		if werr := os.WriteFile(*csv, []byte(res.CSV()), 0o644); werr != nil {
			fmt.Fprintf(stderr, "benchinterop: %v\n", werr)
			return 2
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "benchinterop: %v\n", err)
		return 2
	}
	if !res.Evaluate().Pass {
		return 1
	}
	return 0
}
