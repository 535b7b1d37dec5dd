package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/replsm/replsm/internal/charts"
	"github.com/replsm/replsm/sim"
)

//go:embed faults.script
var defaultScript string

func init() {
	register("simulate", "run a scripted fault scenario on a mock clock and print the transition log", runSimulate)
}

func runSimulate(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	shards := fs.Int("shards", sim.DefaultParams().Slots, "number of shards (when the script's `new` does not say)")
	seed := fs.Uint64("seed", 1, "seed for backoff jitter")
	script := fs.String("script", "", "scenario script file (default: the built-in fault tour)")
	snapshot := fs.String("snapshot", "", "write the final per-state counts as JSON for `replsm statechart --machine composite --live FILE`")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "replsm simulate: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *shards < 1 || *shards > 100000 {
		fmt.Fprintf(stderr, "replsm simulate: --shards must be between 1 and 100000, got %d\n", *shards)
		return 2
	}
	text := defaultScript
	if *script != "" {
		b, err := os.ReadFile(*script)
		if err != nil {
			fmt.Fprintf(stderr, "replsm simulate: %v\n", err)
			return 2
		}
		text = string(b)
	}
	p := sim.DefaultParams()
	p.Slots, p.Seed = *shards, *seed
	s, err := sim.Run(strings.NewReader(text), stdout, p)
	if err != nil {
		fmt.Fprintf(stderr, "replsm simulate: %v\n", err)
		return 1
	}
	defer s.Close()
	if *snapshot != "" {
		b, err := json.MarshalIndent(charts.Snapshot{Machine: "composite", Overlay: s.Overlay()}, "", "  ")
		if err == nil {
			err = os.WriteFile(*snapshot, append(b, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintf(stderr, "replsm simulate: write snapshot: %v\n", err)
			return 1
		}
	}
	return 0
}
