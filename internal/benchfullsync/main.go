// Command benchfullsync measures a full sync at scale, side by side: one
// real redis-server primary on loopback filled with --keys keys (DEBUG
// POPULATE, 100-byte values, plus a few keys of every collection type), a
// stock `redis-server --replicaof` and the `replsm replica` CLI (built from
// this module) following it, one after the other so that neither competes
// with the other's load for the two cores. Per follower it measures
//
//   - full sync: from starting the process to master_link_status:up;
//   - RSS after the sync: VmRSS of /proc/PID/status, --settle after link up
//     (replsm's is read after a forced GC through --pprof-listen);
//   - catch-up: both followers are stopped (SIGSTOP), --backlog SETs of
//     100 bytes are written to the primary, and each follower is resumed
//     alone (SIGCONT) and timed until its own offset equals the primary's.
//
// It prints one Markdown table with replsm's ratios to the stock replica
// and checks replsm's keyspace against the primary's digest. With -profile
// DIR it also saves replsm's heap profile after the sync and a CPU profile
// over its catch-up, and the primary's RDB (for BenchmarkLoad in
// redis/rdb; see docs/fullsync.md).
//
// Usage:
//
//	go run ./internal/benchfullsync [flags]     (make bench-fullsync, KEYS=5000000)
//
// Exit status: 0 when every target is met, 1 when one is missed, 2 when the
// run could not be carried out.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/replsm/replsm/internal/benchkit"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("benchfullsync", flag.ContinueOnError)
	fs.IntVar(&cfg.Keys, "keys", cfg.Keys, "DEBUG POPULATE this many 100-byte strings")
	fs.IntVar(&cfg.Backlog, "backlog", cfg.Backlog, "SETs written while both followers are stopped")
	fs.DurationVar(&cfg.Settle, "settle", cfg.Settle, "wait after link up before reading RSS")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "bound on each sync and each catch-up")
	fs.StringVar(&cfg.Replsm, "replsm", "", "replsm binary (empty: build ./cmd/replsm)")
	fs.StringVar(&cfg.Profile, "profile", "", "write replsm's heap and catch-up CPU profiles and the primary's RDB into `dir`")
	fs.BoolVar(&cfg.SkipDigest, "no-digest", false, "skip the digest comparison (it reads every key)")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	if exit, ok := benchkit.Parse(fs, args, stderr); !ok {
		return exit
	}
	if !*quiet {
		cfg.Progress = stderr
	}
	ctx, stop := benchkit.Interruptible()
	defer stop()
	res, err := Run(ctx, cfg)
	if res != nil {
		fmt.Fprint(stdout, res.Markdown())
	}
	if err != nil {
		fmt.Fprintf(stderr, "benchfullsync: %v\n", err)
		return 2
	}
	if !res.Pass() {
		return 1
	}
	return 0
}
