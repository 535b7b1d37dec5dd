package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/redis/primary"
	"github.com/replsm/replsm/redis/replica"
	"github.com/replsm/replsm/slot"
)

// placeholderUpstream is the endpoint of the shard of `replsm primary`
// until REPLICAOF names a real one; it is never dialled.
const placeholderUpstream = "127.0.0.1:1"

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
	// One server, two roles (docs/failover.md): the primary is a replica
	// server's shard started as a primary, so REPLICAOF host port demotes
	// it to a replica that continues its own history.
	rcfg := replica.DefaultConfig()
	rcfg.Shards = map[slot.ID]string{0: placeholderUpstream}
	rcfg.ListenAddr, rcfg.StartAsPrimary, rcfg.Logger = *listen, true, logger
	rcfg.Primary = func(c *primary.Config) { *c = cfg }
	r, err := replica.New(rcfg, clock.New())
	if err != nil {
		fmt.Fprintf(stderr, "replsm primary: %v\n", err)
		return 1
	}
	defer r.Close()
	if err := r.Start(); err != nil {
		if inner := errors.Unwrap(err); inner != nil && !errors.Is(err, replica.ErrClosed) {
			err = inner // the server's own "server: listen ADDR: ..." says it all
		}
		fmt.Fprintf(stderr, "replsm primary: %v\n", err)
		return 1
	}
	p := r.Primary(0)
	fmt.Fprintf(stdout, "primary listening on %s (replid %s, backlog %d bytes)\n", r.Addr(), p.ReplID(), size)
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
	if err := r.Close(); err != nil {
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
