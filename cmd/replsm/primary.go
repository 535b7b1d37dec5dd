package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/redis/primary"
)

func init() {
	register("primary", "serve a Redis-protocol primary that real Redis replicas can follow", runPrimary)
}

func runPrimary(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("primary", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := primary.DefaultConfig()
	listen := fs.String("listen", "127.0.0.1:7000", "address to serve clients and replicas on")
	backlog := fs.String("backlog", "1mb", "replication backlog size (repl-backlog-size), e.g. 1mb, 512kb, 1048576")
	ping := fs.Duration("ping", def.PingPeriod, "how often a ping goes into the replication stream (repl-ping-replica-period)")
	timeout := fs.Duration("repl-timeout", def.ReplTimeout, "drop a replica silent for this long (repl-timeout)")
	eof := fs.Bool("diskless-eof", false, "send snapshots EOF-marked to replicas that announce capa eof")
	verbose := fs.Bool("v", false, "log debug events")
	metricsListen := fs.String("metrics-listen", "", "serve Prometheus /metrics on HOST:PORT; empty: off")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "replsm primary: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *metricsListen != "" {
		if err := checkListen(*metricsListen); err != nil {
			fmt.Fprintf(stderr, "replsm primary: --metrics-listen: %v\n", err)
			return 2
		}
	}
	size, err := parseSize(*backlog)
	if err != nil {
		fmt.Fprintf(stderr, "replsm primary: --backlog: %v\n", err)
		return 2
	}
	cfg := def
	cfg.BacklogSize, cfg.PingPeriod, cfg.ReplTimeout, cfg.DisklessEOF = size, *ping, *timeout, *eof
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "replsm primary: %v\n", err)
		return 2
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	p, err := primary.New(cfg, clock.New(), logger)
	if err != nil {
		fmt.Fprintf(stderr, "replsm primary: %v\n", err)
		return 1
	}
	defer p.Close()
	if err := p.Listen(*listen); err != nil {
		fmt.Fprintf(stderr, "replsm primary: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "primary listening on %s (replid %s, backlog %d bytes)\n", p.Addr(), p.ReplID(), size)
	if *metricsListen != "" {
		ms, err := servePrimaryMetrics(*metricsListen, p)
		if err != nil {
			fmt.Fprintf(stderr, "replsm primary: --metrics-listen: %v\n", err)
			return 1
		}
		defer ms.Close()
		fmt.Fprintf(stdout, "metrics on %smetrics\n", ms.URL())
	}
	<-ctx.Done()
	if err := p.Close(); err != nil {
		fmt.Fprintf(stderr, "replsm primary: close: %v\n", err)
		return 1
	}
	return 0
}

// parseSize reads a byte size the way Redis's config does (memtoll): a
// number with an optional unit, "k"/"m"/"g" for powers of 1000 and
// "kb"/"mb"/"gb" for powers of 1024, in any case.
func parseSize(s string) (int, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	units := []struct {
		suffix string
		mul    int64
	}{{"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"g", 1e9}, {"m", 1e6}, {"k", 1e3}, {"b", 1}}
	mul := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mul = strings.TrimSuffix(t, u.suffix), u.mul
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 1 || n > (1<<40)/mul {
		return 0, fmt.Errorf("invalid size %q (want a positive number with an optional unit: 1048576, 64kb, 1mb)", s)
	}
	return int(n * mul), nil
}
