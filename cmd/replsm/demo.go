package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/replsm/replsm/internal/demo"
	"github.com/replsm/replsm/redis/replica"
)

func init() {
	register("demo", "primaries, a replica and injected faults in one process; exits 0 only if every shard converges", runDemo)
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts := demo.DefaultOptions(stdout)
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&opts.Shards, "shards", opts.Shards, "number of primaries (one replica shard each), at least 3")
	fs.IntVar(&opts.WriteRate, "rate", opts.WriteRate, "write commands per second per primary")
	fs.DurationVar(&opts.PhaseWait, "phase-timeout", opts.PhaseWait, "the longest any phase may take")
	statusListen := fs.String("status-listen", "127.0.0.1:0", "serve the live status page and /metrics on HOST:PORT while the demo runs (port 0 picks one; empty: off)")
	fs.DurationVar(&opts.Linger, "linger", 0, "keep the status page up this long after the summary")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 || opts.Shards < 3 || opts.WriteRate < 1 || opts.PhaseWait <= 0 || opts.Linger < 0 {
		fmt.Fprintln(stderr, "replsm demo: need --shards >= 3, --rate >= 1, --phase-timeout > 0, --linger >= 0 and no arguments")
		return 2
	}
	if *statusListen != "" {
		if err := checkListen(*statusListen); err != nil {
			fmt.Fprintf(stderr, "replsm demo: --status-listen: %v\n", err)
			return 2
		}
		opts.Serve = func(r *replica.Replica) (string, func(), error) {
			s, err := serveReplicaStatus(*statusListen, r)
			if err != nil {
				return "", nil, err
			}
			return s.URL(), func() { _ = s.Close() }, nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute+opts.Linger)
	defer cancel()
	sum, err := demo.Run(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "replsm demo: %v\n", err)
		return 1
	}
	if !sum.OK {
		return 1
	}
	return 0
}
