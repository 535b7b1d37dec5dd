package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/replsm/replsm/internal/demo"
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
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 || opts.Shards < 3 || opts.WriteRate < 1 || opts.PhaseWait <= 0 {
		fmt.Fprintln(stderr, "replsm demo: need --shards >= 3, --rate >= 1, --phase-timeout > 0 and no arguments")
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
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
