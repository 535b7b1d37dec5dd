package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/outbox"
	"github.com/replsm/replsm/redis/cluster"
	"github.com/replsm/replsm/redis/primary"
	"github.com/replsm/replsm/redis/replica"
	"github.com/replsm/replsm/slot"
)

func init() {
	register("replica", "follow Redis primaries (one per shard) and serve reads over RESP", runReplica)
}

// shardFlags collects repeated --shard ID=HOST:PORT flags.
type shardFlags map[slot.ID]string

func (s shardFlags) String() string {
	ids := make([]int, 0, len(s))
	for id := range s {
		ids = append(ids, int(id))
	}
	sort.Ints(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%d=%s", id, s[slot.ID(id)])
	}
	return strings.Join(parts, ",")
}

func (s shardFlags) Set(v string) error {
	idText, addr, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want ID=HOST:PORT, got %q", v)
	}
	id, err := strconv.Atoi(idText)
	if err != nil || id < 0 {
		return fmt.Errorf("shard id %q in %q is not a non-negative integer", idText, v)
	}
	if prev, dup := s[slot.ID(id)]; dup {
		return fmt.Errorf("duplicate shard id %d (%s and %s)", id, prev, addr)
	}
	s[slot.ID(id)] = addr
	return nil
}

// checkDistinctPrimaries refuses two shards following one primary: they
// would hold the same keys twice, and reads must see disjoint shards.
func checkDistinctPrimaries(shards shardFlags) error {
	ids := make([]int, 0, len(shards))
	for id := range shards {
		ids = append(ids, int(id))
	}
	sort.Ints(ids)
	seen := map[string]int{}
	for _, id := range ids {
		addr := strings.ToLower(shards[slot.ID(id)])
		if first, dup := seen[addr]; dup {
			return fmt.Errorf("shards %d and %d both follow %s: each shard must follow its own primary", first, id, shards[slot.ID(id)])
		}
		seen[addr] = id
	}
	return nil
}

// checkListen accepts what net.Listen does for TCP: [HOST]:PORT with a
// port in 0..65535. (Shard addresses are checked by replica.Config.)
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: want HOST:PORT", addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("address %q: bad port %q", addr, port)
	}
	return nil
}

func runReplica(ctx context.Context, args []string, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("replica", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: replsm replica --shard ID=HOST:PORT [--shard ...] --listen HOST:PORT [flags]")
		fs.PrintDefaults()
	}
	shards := shardFlags{}
	fs.Var(shards, "shard", "a shard and the Redis primary it follows, ID=HOST:PORT, or ID=sentinel:NAME with --sentinel (repeat for each shard)")
	clusterSeeds := fs.String("cluster", "", "follow a Redis Cluster instead of --shard: HOST:PORT[,HOST:PORT...] of seed nodes; one shard per master, kept current (docs/cluster.md)")
	listen := fs.String("listen", "127.0.0.1:6380", "address to serve reads on")
	keepalive := fs.Duration("keepalive", 20*time.Second, "a shard with no data or ping for this long reconnects (above the primary's repl-ping-replica-period)")
	replyTimeout := fs.Duration("reply-timeout", 10*time.Second, "how long a shard waits for its primary's PSYNC reply")
	recoveryCap := fs.Int("cap", 5, "backed-off recoveries a shard makes per stable minute before it reports itself exhausted and slows to --exhausted-retry")
	exhaustedRetry := fs.Duration("exhausted-retry", 5*time.Minute, "once exhausted, one sync attempt this often (0: wait for REPLSM.RESET); an unreachable primary is probed meanwhile")
	probeInterval := fs.Duration("probe-interval", time.Second, "a shard in Error whose primary was unreachable probes it (connect + PING, no sync) this often, and syncs as soon as it answers")
	busyPoll := fs.Duration("busy-poll", time.Second, "ask a primary that answered -LOADING/-MASTERDOWN again after this long (no retry budget spent)")
	seed := fs.Uint64("seed", 0, "backoff jitter seed for repeatable runs (0: random, so replicas do not retry in step)")
	readTimeout := fs.Duration("read-timeout", 60*time.Second, "drop a connection to a primary silent for this long, in every phase (at least --keepalive)")
	pingPeriod := fs.Duration("primary-ping-period", 10*time.Second, "the primaries' repl-ping-replica-period (Redis's default 10s); --keepalive must be longer")
	stateDir := fs.String("state-dir", "", "directory (must exist) for each shard's snapshot and cursor and the milestone outbox, so a restart resumes with PSYNC; empty keeps everything in memory")
	snapEvery := fs.Duration("snapshot-interval", replica.DefaultSnapshotInterval, "with --state-dir: snapshot a streaming shard at most this long after it changed")
	snapBytes := fs.Int64("snapshot-bytes", replica.DefaultSnapshotBytes, "with --state-dir: also snapshot a shard after this many stream bytes (0: off); keep it under the primary's repl-backlog-size")
	metricsListen := fs.String("metrics-listen", "", "serve Prometheus /metrics and the live status page (/) on HOST:PORT; empty: off")
	lagProbe := fs.Duration("lag-probe", time.Second, "with --metrics-listen: ask each shard's primary for its offset this often, for lag in bytes and seconds (0: off)")
	backlog := fs.String("backlog", "1mb", "the stream each shard keeps, so that replicas of its primary continue from it after REPLICAOF NO ONE (repl-backlog-size of the promoted shard)")
	sentinels := fs.String("sentinel", "", "HOST:PORT[,HOST:PORT...] of Redis Sentinels; a shard given as ID=sentinel:NAME follows the primary they name for NAME (docs/sentinel.md)")
	priority := fs.Int("replica-priority", 0, "slave_priority in INFO; Sentinel never promotes a replica of priority 0")
	spoolDir := fs.String("spool-dir", "", "where a full sync spools its snapshot and the stream that follows past --spool-memory (empty: --state-dir, else the system temp dir); files are removed once used")
	spoolMem := fs.Int64("spool-memory", replica.DefaultSpoolMemory, "bytes of a full sync's snapshot, and of the stream spooled while it loads, held in memory before the rest goes to a file")
	maxPayload := fs.Int64("max-payload", 0, "refuse a full sync whose snapshot passes this many bytes (0: no limit)")
	maxValue := fs.Int64("max-value", 0, "refuse a snapshot with one value (string, encoded collection) longer than this many bytes (0: 512 MB, Redis's own limit)")
	maxStreamSpool := fs.Int64("max-stream-spool", replica.DefaultMaxStreamSpool, "fail a full sync when the stream spooled while its snapshot loads passes this many bytes (0: no limit)")
	pprofListen := fs.String("pprof-listen", "", "serve Go runtime profiles (/debug/pprof/) on HOST:PORT, for measurements; empty: off")
	notifyURL := fs.String("notify-url", "", "POST milestones (full sync completed, shard exhausted, ...) as JSON to this http(s) URL, at least once, with an Idempotency-Key header")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "replsm replica: "+format+"\n", a...)
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case len(shards) > 0 && *clusterSeeds != "":
		return usageErr("--shard and --cluster exclude each other: a cluster's shards are discovered")
	case *clusterSeeds != "" && *stateDir != "":
		return usageErr("--cluster with --state-dir is not supported yet: shards added at runtime are not restored")
	case len(shards) == 0 && *clusterSeeds == "":
		return usageErr("no shards: give at least one --shard ID=HOST:PORT, or --cluster HOST:PORT")
	case *keepalive <= 0 || *replyTimeout <= 0 || *readTimeout <= 0:
		return usageErr("--keepalive, --reply-timeout and --read-timeout must be > 0")
	case *keepalive <= *pingPeriod:
		// A healthy but idle primary pings only every period: a shorter
		// keepalive reconnects an idle link over and over.
		return usageErr("--keepalive %s must be longer than the primaries' ping period (--primary-ping-period %s, Redis's repl-ping-replica-period); an idle link would reconnect every %s", *keepalive, *pingPeriod, *keepalive)
	case *readTimeout < *keepalive:
		return usageErr("--read-timeout %s is below --keepalive %s: the link would be dropped before the keepalive could notice the silence", *readTimeout, *keepalive)
	case *recoveryCap < 1:
		return usageErr("--cap must be >= 1, got %d", *recoveryCap)
	case *exhaustedRetry < 0:
		return usageErr("--exhausted-retry must be >= 0 (0 waits for REPLSM.RESET), got %s", *exhaustedRetry)
	case *probeInterval <= 0:
		return usageErr("--probe-interval must be > 0, got %s", *probeInterval)
	case *busyPoll <= 0:
		return usageErr("--busy-poll must be > 0, got %s", *busyPoll)
	case *snapEvery <= 0:
		return usageErr("--snapshot-interval must be > 0, got %s", *snapEvery)
	case *snapBytes < 0:
		return usageErr("--snapshot-bytes must be >= 0, got %d", *snapBytes)
	case *spoolMem <= 0 || *maxPayload < 0 || *maxStreamSpool < 0 || *maxValue < 0:
		return usageErr("--spool-memory must be > 0, --max-payload, --max-stream-spool and --max-value >= 0")
	}
	if err := checkListen(*listen); err != nil {
		return usageErr("--listen: %v", err)
	}
	if *metricsListen != "" {
		if err := checkListen(*metricsListen); err != nil {
			return usageErr("--metrics-listen: %v", err)
		}
	}
	if *pprofListen != "" {
		if err := checkListen(*pprofListen); err != nil {
			return usageErr("--pprof-listen: %v", err)
		}
	}
	if *lagProbe < 0 {
		return usageErr("--lag-probe must be >= 0, got %s", *lagProbe)
	}
	if err := checkDistinctPrimaries(shards); err != nil {
		return usageErr("%v", err)
	}

	log := slog.New(slog.NewTextHandler(stderr, nil))
	sc, err := sentinelShards(shards, *sentinels)
	if err != nil {
		return usageErr("%v", err)
	}
	if *priority < 0 {
		return usageErr("--replica-priority must be >= 0, got %d", *priority)
	}
	if sc != nil && !resolveSentinelShards(ctx, shards, sc, log) {
		return 1
	}
	cfg := replica.DefaultConfig()
	cfg.Sentinel = sc
	cfg.ReplicaPriority = *priority
	cfg.Shards = shards
	cfg.ListenAddr = *listen
	cfg.SlotConfig.KeepaliveTimeout = *keepalive
	cfg.SlotConfig.ReplyTimeout = *replyTimeout
	cfg.SlotConfig.RecoveryCap = *recoveryCap
	cfg.SlotConfig.ExhaustedRetry = *exhaustedRetry
	cfg.SlotConfig.ProbeInterval = *probeInterval
	cfg.SlotConfig.BusyPoll = *busyPoll
	cfg.Seed = *seed
	backlogSize, err := parseSize(*backlog)
	if err != nil {
		return usageErr("--backlog: %v", err)
	}
	cfg.Primary = func(c *primary.Config) { c.BacklogSize = backlogSize }
	cfg.ReadTimeout = *readTimeout
	cfg.Logger = log
	cfg.StateDir = *stateDir
	cfg.SnapshotInterval = *snapEvery
	cfg.SnapshotBytes = *snapBytes
	cfg.SpoolDir, cfg.SpoolMemory = *spoolDir, *spoolMem
	cfg.MaxPayload, cfg.MaxStreamSpool, cfg.MaxValue = *maxPayload, *maxStreamSpool, *maxValue
	if *metricsListen != "" {
		cfg.LagProbeInterval = *lagProbe
	}
	if *notifyURL != "" {
		sink, err := outbox.NewHTTPSink(*notifyURL, nil)
		if err != nil {
			return usageErr("--notify-url: %v", err)
		}
		cfg.Notify = sink
	}
	var follow *cluster.Follower
	if *clusterSeeds != "" {
		var err error
		if follow, err = followCluster(ctx, *clusterSeeds, &cfg, log); err != nil {
			fmt.Fprintf(stderr, "replsm replica: %v\n", err)
			return 1
		}
	}
	if err := cfg.Validate(); err != nil {
		return usageErr("%v", err)
	}
	if *pprofListen != "" {
		ln, err := servePprof(*pprofListen)
		if err != nil {
			fmt.Fprintf(stderr, "replsm replica: --pprof-listen: %v\n", err)
			return 1
		}
		defer ln.Close() // before the replica starts, so a profile can cover the first sync
	}
	// What is left to fail is the state dir or its store file: not a usage
	// problem, and the message says what to do.
	r, err := replica.New(cfg, clock.New())
	if err != nil {
		fmt.Fprintf(stderr, "replsm replica: %v\n", err)
		return 1
	}
	// An unreachable primary is not a startup error: the meta step warns,
	// and the shard's slot retries on its own and reports exhaustion.
	if err := r.Start(); err != nil {
		fmt.Fprintf(stderr, "replsm replica: %v\n", err)
		_ = r.Close()
		return 1
	}
	if follow != nil {
		defer runFollower(ctx, follow, r)()
	}
	log.Info("replica serving reads", slog.String("addr", r.Addr()), slog.String("shards", shardFlags(cfg.Shards).String()),
		slog.String("state_dir", *stateDir), slog.String("notify", *notifyURL))
	if *metricsListen != "" {
		ms, err := serveReplicaStatus(*metricsListen, r)
		if err != nil {
			fmt.Fprintf(stderr, "replsm replica: --metrics-listen: %v\n", err)
			_ = r.Close()
			return 1
		}
		defer ms.Close()
		log.Info("status page and metrics", slog.String("url", ms.URL()), slog.String("metrics", ms.URL()+"metrics"))
	}
	<-ctx.Done()
	log.Info("replica stopping")
	if err := r.Close(); err != nil {
		fmt.Fprintf(stderr, "replsm replica: close: %v\n", err)
		return 1
	}
	return 0
}
