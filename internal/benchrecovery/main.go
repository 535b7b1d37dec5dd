// Command benchrecovery measures how a replica gets back after its primary
// was away, for replsm's Redis replica (the `replsm replica` command, built
// from this module, default configuration) and, beside it, a stock
// `redis-server --replicaof`. Both follow one real redis-server primary on
// loopback. Two scenarios, one after the other:
//
//  1. outage: the primary is killed (SIGKILL) and stays down for --outage
//     (90 s), then restarts empty. Per follower: the sync handshakes it
//     made during the outage (replsm: send_try_sync/send_db_sync records
//     in its log; redis-server: "Connecting to MASTER" lines in its log),
//     the seconds from the primary answering PING again to the follower's
//     master_link_status:up, and whether replsm reported exhaustion.
//  2. loading: the primary holds enough keys to take --loading (30 s) to
//     load (key-load-delay), saves, and restarts: it answers -LOADING until
//     the load ends. Per follower: handshakes during the load, seconds from
//     the load's end (the first PONG) to link up, and whether replsm
//     exhausted. The replsm process is started afresh for this scenario:
//     the outage spent its shard's retry budget, which refills only after
//     a stable period (60 s) Connected, and a crash inside that period
//     finds the shard exhausted at once, after a failure that reached the
//     primary (the stream broke), so without probes: it then waits for the
//     slow 5-minute cadence.
//
// It prints one Markdown table and checks the recovery targets: after the
// outage replsm is back within --max-back (3 s) having spent at most
// --max-handshakes (12) handshakes; after the loading restart it is back
// within --max-back and never exhausted. Everything it started is stopped
// on the way out, also on errors and ctrl-C. It takes about --outage +
// --loading + a minute.
//
// Usage:
//
//	go run ./internal/benchrecovery [flags]     (make bench-recovery)
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
	fs := flag.NewFlagSet("benchrecovery", flag.ContinueOnError)
	fs.DurationVar(&cfg.Outage, "outage", cfg.Outage, "scenario 1: how long the primary stays down")
	fs.DurationVar(&cfg.Loading, "loading", cfg.Loading, "scenario 2: about how long the restarted primary answers -LOADING (0: skip the scenario)")
	fs.IntVar(&cfg.KeyLoadDelay, "key-load-delay", cfg.KeyLoadDelay, "scenario 2: the primary's key-load-delay, microseconds per key loaded (the dataset is --loading / this many keys)")
	fs.DurationVar(&cfg.MaxBack, "max-back", cfg.MaxBack, "target: replsm's link is up this soon after the primary answers / the load ends")
	fs.IntVar(&cfg.MaxHandshakes, "max-handshakes", cfg.MaxHandshakes, "target: replsm's sync handshakes during the outage")
	fs.DurationVar(&cfg.BackTimeout, "back-timeout", cfg.BackTimeout, "give up waiting for a follower's link this long after the primary is back")
	fs.StringVar(&cfg.Replsm, "replsm", "", "the replsm binary (empty: go build ./cmd/replsm into the run's directory)")
	fs.StringVar(&cfg.RedisServer, "redis-server", cfg.RedisServer, "redis-server binary")
	fs.BoolVar(&cfg.KeepDir, "keep", false, "keep the run's directory (every log) afterwards")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	if exit, ok := benchkit.Parse(fs, args, stderr); !ok {
		return exit
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "benchrecovery: %v\n", err)
		return 2
	}
	cfg.Clock = clock.New()
	if !*quiet {
		cfg.Progress = stderr
	}
	ctx, stop := benchkit.Interruptible()
	defer stop()
	rep, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "benchrecovery: %v\n", err)
		return 2
	}
	fmt.Fprint(stdout, rep.Markdown())
	if missed := rep.Missed(); len(missed) > 0 {
		for _, m := range missed {
			fmt.Fprintf(stderr, "benchrecovery: target missed: %s\n", m)
		}
		return 1
	}
	return 0
}
