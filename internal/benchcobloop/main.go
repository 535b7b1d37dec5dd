// Command benchcobloop runs the full-sync-loop scenario side by side: one
// real redis-server primary with a tight `client-output-buffer-limit
// replica` (24mb 16mb 2), holding sorted sets big enough that loading them
// takes seconds (12 of 1M members) and 500k strings, and a steady write
// load during every follower's sync (1500 SET/s of 4 KiB for 60 s). First
// a stock `redis-server --replicaof` (disk load; optionally a swapdb one
// too, -followers), then replsm's redis/replica (in this process, default
// configuration), one at a time. For each it prints the full syncs the
// primary served it (INFO stats sync_full), the times the primary dropped
// it for its output buffer (the primary's log), the peak of that buffer
// (CLIENT LIST TYPE replica omem, sampled), when its link first came up,
// its peak RSS, and whether its digest equals the primary's once caught
// up. Target (docs/fullsync.md): replsm completes with exactly one full
// sync and its buffer stays below the soft limit. Everything it started
// is stopped on the way out, also on errors and ctrl-C.
//
// Usage:
//
//	go run ./internal/benchcobloop [flags]     (make bench-cobloop)
//
// Exit status: 0 when the target is met, 1 when it is missed, 2 when the
// run could not be carried out.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/replsm/replsm/internal/benchkit"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("benchcobloop", flag.ContinueOnError)
	fs.IntVar(&cfg.ZSets, "zsets", cfg.ZSets, "sorted sets on the primary")
	fs.IntVar(&cfg.ZMembers, "zmembers", cfg.ZMembers, "members of each sorted set")
	fs.IntVar(&cfg.Strings, "strings", cfg.Strings, "strings on the primary")
	fs.IntVar(&cfg.StringSize, "string-size", cfg.StringSize, "bytes of each of those strings")
	fs.StringVar(&cfg.Limit, "limit", cfg.Limit, "the primary's client-output-buffer-limit replica: hard soft seconds")
	fs.IntVar(&cfg.Rate, "rate", cfg.Rate, "SETs per second during each follower's sync")
	fs.IntVar(&cfg.ValueSize, "value-size", cfg.ValueSize, "bytes of each SET's value")
	fs.IntVar(&cfg.Keyspace, "keyspace", cfg.Keyspace, "keys the SETs go to")
	fs.DurationVar(&cfg.LoadFor, "load-for", cfg.LoadFor, "how long the write load runs per follower")
	fs.DurationVar(&cfg.SettleTimeout, "settle", cfg.SettleTimeout, "after the load, how long a follower may take to be up and caught up")
	fs.DurationVar(&cfg.SampleEvery, "sample", cfg.SampleEvery, "output buffer and RSS sampling period")
	followers := fs.String("followers", strings.Join(cfg.Followers, ","), "followers to run, in order: stock (disk load), swapdb (repl-diskless-load swapdb), replsm")
	fs.BoolVar(&cfg.Digest, "digest", cfg.Digest, "compare each caught-up follower's digest with the primary's")
	fs.StringVar(&cfg.RedisServer, "redis-server", cfg.RedisServer, "redis-server binary")
	fs.BoolVar(&cfg.KeepDir, "keep", false, "keep the run's directory (logs) afterwards")
	out := fs.String("o", "", "also write the Markdown report to `file`")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	if exit, ok := benchkit.Parse(fs, args, stderr); !ok {
		return exit
	}
	cfg.Followers = strings.Split(*followers, ",")
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "benchcobloop: %v\n", err)
		return 2
	}
	if !*quiet {
		cfg.Progress = stderr
	}
	ctx, stop := benchkit.Interruptible()
	defer stop()
	res, err := Run(ctx, cfg)
	if len(res.Followers) > 0 {
		report := res.Markdown()
		fmt.Fprint(stdout, report)
		if *out != "" {
			if werr := os.WriteFile(*out, []byte(report), 0o644); werr != nil {
				fmt.Fprintf(stderr, "benchcobloop: %v\n", werr)
				return 2
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "benchcobloop: %v\n", err)
		return 2
	}
	if missed := res.Missed(); len(missed) > 0 {
		for _, m := range missed {
			fmt.Fprintf(stderr, "benchcobloop: target missed: %s\n", m)
		}
		return 1
	}
	return 0
}
