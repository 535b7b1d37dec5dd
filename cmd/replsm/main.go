// Command replsm runs, simulates and draws replsm's replication machines.
//
//	replsm simulate   [--shards N] [--seed S] [--script FILE]   scripted faults on a mock clock
//	replsm statechart --machine M --format F [--out FILE]        diagrams from the running specs
//	replsm primary    --listen ADDR                              a Redis-protocol primary
//	replsm replica    --shard ID=ADDR ... --listen ADDR          a Redis-protocol replica
//	replsm demo                                                  the end-to-end fault demo
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand: it parses its own flags and returns the exit
// code (2 for usage errors).
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) int) {
	commands[name] = command{summary, run}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "replsm: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: replsm <command> [flags]\n\ncommands:")
	for _, name := range []string{"simulate", "statechart", "primary", "replica", "demo"} {
		if c, ok := commands[name]; ok {
			fmt.Fprintf(w, "  %-11s %s\n", name, c.summary)
		}
	}
}

// parseFlags parses a subcommand's flags. ok is false when the command must
// stop: with code 0 after --help/-h (the flag package printed the usage),
// 2 after a usage error.
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}
