package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/redis/go-redis/v9"

	"github.com/replsm/replsm/internal/redisproc"
	"github.com/replsm/replsm/internal/redisview"
	redisreplica "github.com/replsm/replsm/redis/replica"
	"github.com/replsm/replsm/slot"
)

// Config is one run's load, sampling and targets.
type Config struct {
	// The redis-benchmark load: -n, -c, -r, -P and -d.
	Requests, Clients, Keyspace, Pipeline, DataSize int

	// LoadTimeout caps redis-benchmark's wall time; the run fails when it
	// is reached.
	LoadTimeout time.Duration
	// SampleEvery is the sampling period during the load.
	SampleEvery time.Duration
	// StartTimeout bounds starting the servers and waiting for both links.
	StartTimeout time.Duration
	// CatchUpTimeout is how long after the load both followers may take to
	// acknowledge the primary's final offset (a target, not just a bound).
	CatchUpTimeout time.Duration

	// Targets: our apply rate >= MinRatio x the real replica's; a
	// follower's lag is bounded when, leaving out the first Warmup of the
	// load window (the lag starts from zero there), the mean over the
	// second half of the rest is at most LagGrowth x the mean over its
	// first half + LagSlack bytes; the window must hold at least
	// MinSamples samples after the warm-up to judge that.
	Warmup     time.Duration
	MinRatio   float64
	LagGrowth  float64
	LagSlack   int64
	MinSamples int

	// RedisServer and RedisBenchmark are the binaries (looked up on PATH).
	RedisServer, RedisBenchmark string

	// Clock drives sampling, polling and our replica's timers.
	Clock clock.Clock
	// Progress gets one line per step; nil discards.
	Progress io.Writer
	// CPUProfile, when set, gets a CPU profile of this process (our
	// replica) over the load window.
	CPUProfile io.Writer
	// KeepDir keeps the servers' directory (logs) instead of removing it.
	KeepDir bool
}

// DefaultConfig is `make bench-interop`: two million SETs of 3-byte values
// over 100k keys from 50 clients, 16 per pipeline (about 8 s of load on a
// 2-CPU machine: long enough for a lag trend to show past once-a-second
// ACKs), sampled every 100 ms.
func DefaultConfig() Config {
	return Config{
		Requests: 2_000_000, Clients: 50, Keyspace: 100_000, Pipeline: 16, DataSize: 3,
		LoadTimeout:    2 * time.Minute,
		SampleEvery:    100 * time.Millisecond,
		StartTimeout:   20 * time.Second,
		CatchUpTimeout: 5 * time.Second,
		Warmup:         time.Second,
		MinRatio:       0.5,
		LagGrowth:      2,
		LagSlack:       1 << 20,
		MinSamples:     10,
		RedisServer:    "redis-server",
		RedisBenchmark: "redis-benchmark",
	}
}

func (c Config) validate() error {
	switch {
	case c.Requests <= 0 || c.Requests > 100_000_000:
		return fmt.Errorf("requests %d not in 1..100000000", c.Requests)
	case c.Clients <= 0 || c.Pipeline <= 0 || c.DataSize <= 0 || c.Keyspace < 0:
		return fmt.Errorf("clients %d, pipeline %d and data size %d must be > 0, keyspace %d >= 0",
			c.Clients, c.Pipeline, c.DataSize, c.Keyspace)
	case c.LoadTimeout <= 0 || c.SampleEvery <= 0 || c.StartTimeout <= 0 || c.CatchUpTimeout <= 0:
		return errors.New("timeouts and the sampling period must be > 0")
	case c.Warmup < 0 || c.MinRatio < 0 || c.LagGrowth < 1 || c.LagSlack < 0 || c.MinSamples < 2:
		return fmt.Errorf("targets: warm-up %v >= 0, ratio %v >= 0, growth %v >= 1, slack %d >= 0, min samples %d >= 2",
			c.Warmup, c.MinRatio, c.LagGrowth, c.LagSlack, c.MinSamples)
	case c.Clock == nil:
		return errors.New("no clock")
	}
	return nil
}

// The two followers, in table order.
const (
	fReal = iota // the redis-server replica
	fOurs        // replsm's redis/replica
	nFollowers
)

var followerNames = [nFollowers]string{"redis-server replica", "replsm replica"}

// shard is the one shard our replica follows.
const shard slot.ID = 0

// sample is one look at the three servers. The followers are read first,
// then the primary, so that a follower's own offset never exceeds the
// primary offset of the same sample.
type sample struct {
	At      time.Time
	Primary int64 // the primary's master_repl_offset

	Seen    [nFollowers]bool   // its slaveN line was there, state=online
	Acked   [nFollowers]int64  // offset= of its slaveN line: what it acknowledged
	Own     [nFollowers]int64  // its own offset: slave_repl_offset / Stats().Cursor.Offset
	Applied [nFollowers]uint64 // SETs applied: cmdstat_set calls / Stats().Applied
}

// Result is everything a run measured; Evaluate checks it against the
// targets and Markdown renders it.
type Result struct {
	Config       Config
	RedisVersion string
	Ports        [nFollowers]int
	PrimaryAddr  string

	LoadStart, LoadEnd time.Time
	BenchmarkRPS       float64

	Start, End sample   // taken just before and just after the load
	Samples    []sample // the periodic samples during the load
	SampleErrs int
	LastErr    error

	CaughtUp [nFollowers]time.Duration // after LoadEnd; -1: not within CatchUpTimeout
	Final    sample                    // after catch-up

	// Link changes during the run: the primary's sync_full+sync_partial_ok
	// and our replica's session count, before the load and after catch-up.
	PrimarySyncs  int64
	OurSessions   uint64
	DigestPrimary string
	Digests       [nFollowers]string
	DigestKeys    int
}

// harness is the three servers and what reads them.
type harness struct {
	cfg     Config
	clk     clock.Clock
	dir     string
	primary *redisproc.Server
	replica *redisproc.Server
	ours    *redisreplica.Replica

	pc, rc, oc *redis.Client // primary, real replica, our replica
}

func (h *harness) logf(format string, args ...any) {
	if h.cfg.Progress != nil {
		fmt.Fprintf(h.cfg.Progress, format+"\n", args...)
	}
}

// Run starts a real primary, a real replica of it and our replica of it,
// loads the primary with redis-benchmark while sampling, waits for the
// followers to catch up and compares digests. Everything it started is
// stopped before it returns, also on error or when ctx ends. The Result
// is filled in as far as the run got.
func Run(ctx context.Context, cfg Config) (res *Result, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	res = &Result{Config: cfg}
	for i := range res.CaughtUp {
		res.CaughtUp[i] = -1
	}
	serverBin, err := redisproc.LookPath(cfg.RedisServer)
	if err != nil {
		return res, err
	}
	benchBin, err := redisproc.LookPath(cfg.RedisBenchmark)
	if err != nil {
		return res, err
	}
	h := &harness{cfg: cfg, clk: cfg.Clock}
	defer func() { err = errors.Join(err, h.close()) }()
	if h.dir, err = os.MkdirTemp("", "benchinterop-"); err != nil {
		return res, err
	}
	if err := h.up(ctx, serverBin, res); err != nil {
		return res, err
	}
	if err := h.load(ctx, benchBin, res); err != nil {
		return res, err
	}
	if err := h.catchUp(ctx, res); err != nil {
		return res, err
	}
	return res, h.digests(ctx, res)
}

// up starts the primary, the real replica and ours, and waits until the
// primary lists both as online and both say their link is up.
func (h *harness) up(ctx context.Context, serverBin string, res *Result) error {
	var err error
	if h.primary, err = h.startRedis(ctx, serverBin, "primary", nil); err != nil {
		return err
	}
	h.pc = redis.NewClient(redisview.ClientOptions(h.primary.Addr(), 0))
	res.PrimaryAddr = h.primary.Addr()
	h.logf("primary redis-server on %s (dir %s)", h.primary.Addr(), h.dir)

	if h.replica, err = h.startRedis(ctx, serverBin, "replica", redisproc.ReplicaOfArgs(h.primary.Port())); err != nil {
		return err
	}
	h.rc = redis.NewClient(redisview.ClientOptions(h.replica.Addr(), 0))
	res.Ports[fReal] = h.replica.Port()
	h.logf("redis-server replica on %s", h.replica.Addr())

	rcfg := redisreplica.DefaultConfig()
	rcfg.Shards = map[slot.ID]string{shard: h.primary.Addr()}
	rcfg.ListenAddr = "127.0.0.1:0"
	if h.ours, err = redisreplica.New(rcfg, h.clk); err != nil {
		return err
	}
	if err := h.ours.Start(); err != nil {
		return err
	}
	h.oc = redis.NewClient(redisview.ClientOptions(h.ours.Addr(), 0))
	res.Ports[fOurs] = portOf(h.ours.Addr())
	h.logf("replsm replica on %s", h.ours.Addr())

	err = redisproc.Poll(ctx, h.clk, h.cfg.StartTimeout, func() error {
		s, err := h.sample(ctx)
		if err != nil {
			return err
		}
		for i := range nFollowers {
			if !s.Seen[i] {
				return fmt.Errorf("the primary does not list the %s (port %d) as online yet", followerNames[i], res.Ports[i])
			}
		}
		ri, err := h.rc.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if st := parseInfo(ri)["master_link_status"]; st != "up" {
			return fmt.Errorf("redis-server replica: master_link_status %q", st)
		}
		if st, err := h.ours.Stats(shard); err != nil || st.State != slot.Connected {
			return fmt.Errorf("replsm replica: shard state %v (%v)", st.State, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("waiting for both replication links: %w", err)
	}
	if err := h.probe(ctx); err != nil {
		return err
	}
	si, err := h.pc.Info(ctx, "server").Result()
	if err != nil {
		return err
	}
	res.RedisVersion = parseInfo(si)["redis_version"]
	h.logf("both links up and streaming")
	return nil
}

// probeKey is written once before the load to see the stream flow.
const probeKey = "benchinterop:probe"

// probe writes one key to the primary and waits until both followers have
// applied it and acknowledged it. "online" in the primary's INFO is not
// enough: after a diskless sync a Redis primary streams nothing to a
// replica until that replica's first REPLCONF ACK, and it may miss the ACK
// a real replica sends right after loading (it arrives before the primary
// has reaped its RDB child), so streaming can start only with the next
// once-a-second ACK. A load started before that would be measured from a
// stalled start.
func (h *harness) probe(ctx context.Context) error {
	if err := h.pc.Set(ctx, probeKey, "1", 0).Err(); err != nil {
		return fmt.Errorf("probe write: %w", err)
	}
	text, err := h.pc.Info(ctx, "replication").Result()
	if err != nil {
		return err
	}
	want, err := infoInt(parseInfo(text), "master_repl_offset")
	if err != nil {
		return err
	}
	err = redisproc.Poll(ctx, h.clk, h.cfg.StartTimeout, func() error {
		s, err := h.sample(ctx)
		if err != nil {
			return err
		}
		for i := range nFollowers {
			if !s.Seen[i] || s.Own[i] < want || s.Acked[i] < want {
				return fmt.Errorf("%s at offset %d, acknowledged %d, want %d", followerNames[i], s.Own[i], s.Acked[i], want)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the probe write to reach both followers: %w", err)
	}
	return nil
}

// startRedis starts the redis-server serverBin as name in its own directory
// under h.dir, with extra arguments, within StartTimeout on h.clk. On error
// nothing is left running.
func (h *harness) startRedis(ctx context.Context, serverBin, name string, extra []string) (*redisproc.Server, error) {
	return redisproc.Start(ctx, redisproc.Options{
		Binary:       serverBin,
		Dir:          filepath.Join(h.dir, name),
		Args:         extra,
		StartTimeout: h.cfg.StartTimeout,
		Clock:        h.clk,
		Name:         name,
	})
}

// portOf is the port of "host:port" (0 if there is none).
func portOf(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// sample reads the followers, then the primary.
func (h *harness) sample(ctx context.Context) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var s sample
	text, err := h.rc.Info(ctx, "replication", "commandstats").Result()
	if err != nil {
		return s, fmt.Errorf("redis-server replica INFO: %w", err)
	}
	ri := parseInfo(text)
	if s.Applied[fReal], err = commandCalls(ri, "set"); err != nil {
		return s, err
	}
	if s.Own[fReal], err = infoInt(ri, "slave_repl_offset"); err != nil {
		return s, fmt.Errorf("redis-server replica: %w", err)
	}
	st, err := h.ours.Stats(shard)
	if err != nil {
		return s, err
	}
	s.Applied[fOurs], s.Own[fOurs] = st.Applied, st.Cursor.Offset

	text, err = h.pc.Info(ctx, "replication").Result()
	if err != nil {
		return s, fmt.Errorf("primary INFO: %w", err)
	}
	s.At = h.clk.Now()
	pi := parseInfo(text)
	if s.Primary, err = infoInt(pi, "master_repl_offset"); err != nil {
		return s, fmt.Errorf("primary: %w", err)
	}
	fs, err := followers(pi)
	if err != nil {
		return s, fmt.Errorf("primary: %w", err)
	}
	for i, port := range h.ports() {
		if f, ok := fs[port]; ok && f.State == "online" {
			s.Seen[i], s.Acked[i] = true, f.Offset
		}
	}
	return s, nil
}

func (h *harness) ports() [nFollowers]int {
	var p [nFollowers]int
	if h.replica != nil {
		p[fReal] = h.replica.Port()
	}
	if h.ours != nil {
		p[fOurs] = portOf(h.ours.Addr())
	}
	return p
}

// primarySyncs is the primary's count of syncs served, full and partial.
func (h *harness) primarySyncs(ctx context.Context) (int64, error) {
	text, err := h.pc.Info(ctx, "stats").Result()
	if err != nil {
		return 0, err
	}
	info := parseInfo(text)
	full, err := infoInt(info, "sync_full")
	if err != nil {
		return 0, err
	}
	part, err := infoInt(info, "sync_partial_ok")
	if err != nil {
		return 0, err
	}
	return full + part, nil
}

// load runs redis-benchmark against the primary while a goroutine samples
// every SampleEvery.
func (h *harness) load(ctx context.Context, benchBin string, res *Result) error {
	bench := benchmark(h.primary.Addr(), h.cfg)
	bench.Binary = benchBin
	args, err := bench.Args()
	if err != nil {
		return err
	}
	if res.PrimarySyncs, err = h.primarySyncs(ctx); err != nil {
		return err
	}
	st, err := h.ours.Stats(shard)
	if err != nil {
		return err
	}
	res.OurSessions = st.Sessions
	if res.Start, err = h.sample(ctx); err != nil {
		return err
	}
	res.LoadStart = res.Start.At
	h.logf("load: redis-benchmark %v", args)

	if h.cfg.CPUProfile != nil {
		if err := pprof.StartCPUProfile(h.cfg.CPUProfile); err != nil {
			return err
		}
	}
	stop := h.sampleLoop(ctx, res)
	br, berr := redisproc.RunBenchmark(ctx, bench)
	stop()
	if h.cfg.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	if berr != nil {
		return berr
	}
	res.BenchmarkRPS = br.RequestsPerSecond
	if res.End, err = h.sample(ctx); err != nil {
		return err
	}
	res.LoadEnd = res.End.At
	h.logf("load done in %v: redis-benchmark reports %.0f SET/s; %d samples", res.LoadEnd.Sub(res.LoadStart).Round(time.Millisecond), res.BenchmarkRPS, len(res.Samples))
	return nil
}

// benchmark is cfg's redis-benchmark SET load on addr (-n, -c, -r, -P, -d),
// capped at LoadTimeout on cfg.Clock.
func benchmark(addr string, cfg Config) redisproc.Benchmark {
	return redisproc.Benchmark{
		Addr:     addr,
		Requests: cfg.Requests, Clients: cfg.Clients, Keyspace: cfg.Keyspace,
		Pipeline: cfg.Pipeline, DataSize: cfg.DataSize,
		Timeout: cfg.LoadTimeout,
		Clock:   cfg.Clock,
	}
}

// sampleLoop samples on its own goroutine until the returned stop is
// called; stop waits for it.
func (h *harness) sampleLoop(ctx context.Context, res *Result) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var samples []sample
	var errs int
	var last error
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := h.clk.Ticker(h.cfg.SampleEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			s, err := h.sample(ctx)
			mu.Lock()
			if err != nil {
				if ctx.Err() == nil {
					errs, last = errs+1, err
				}
			} else {
				samples = append(samples, s)
			}
			mu.Unlock()
		}
	}()
	return func() {
		cancel()
		wg.Wait()
		res.Samples, res.SampleErrs, res.LastErr = samples, errs, last
	}
}

// catchUp waits until each follower has acknowledged the primary's offset
// at the end of the load, noting how long each took.
func (h *harness) catchUp(ctx context.Context, res *Result) error {
	final := res.End.Primary
	err := redisproc.Poll(ctx, h.clk, h.cfg.CatchUpTimeout, func() error {
		s, err := h.sample(ctx)
		if err != nil {
			return err
		}
		pending := 0
		for i := range nFollowers {
			if res.CaughtUp[i] < 0 && s.Seen[i] && s.Acked[i] >= final {
				res.CaughtUp[i] = s.At.Sub(res.LoadEnd)
			}
			if res.CaughtUp[i] < 0 {
				pending++
			}
		}
		if pending > 0 {
			return fmt.Errorf("%d follower(s) not at offset %d yet (acked %v)", pending, final, s.Acked)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redisproc.ErrTimeout) {
		return err // cancelled; a timeout is a missed target, reported
	}
	if err == nil {
		h.logf("both followers acknowledged offset %d", final)
	} else {
		h.logf("catch-up: %v", err)
	}
	if res.Final, err = h.sample(ctx); err != nil {
		return err
	}
	syncs, err := h.primarySyncs(ctx)
	if err != nil {
		return err
	}
	res.PrimarySyncs = syncs - res.PrimarySyncs
	st, err := h.ours.Stats(shard)
	if err != nil {
		return err
	}
	res.OurSessions = st.Sessions - res.OurSessions
	return nil
}

// digests reads database 0 of the three servers.
func (h *harness) digests(ctx context.Context, res *Result) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	p, err := redisview.Digest(ctx, h.pc, []int{0})
	if err != nil {
		return fmt.Errorf("digest of the primary: %w", err)
	}
	res.DigestPrimary, res.DigestKeys = p.Digest, p.TotalKeys()
	for i, c := range [nFollowers]*redis.Client{h.rc, h.oc} {
		d, err := redisview.Digest(ctx, c, []int{0})
		if err != nil {
			return fmt.Errorf("digest of the %s: %w", followerNames[i], err)
		}
		res.Digests[i] = d.Digest
		if diff := p.Diff(d, 5); diff != nil {
			h.logf("%s differs from the primary: %v", followerNames[i], diff)
		}
	}
	h.logf("digests read (%d keys)", res.DigestKeys)
	return nil
}

// close stops our replica and the redis-servers and removes their
// directory.
func (h *harness) close() error {
	var errs []error
	for _, c := range []*redis.Client{h.oc, h.rc, h.pc} {
		if c != nil {
			_ = c.Close()
		}
	}
	if h.ours != nil {
		errs = append(errs, h.ours.Close())
	}
	for _, p := range []*redisproc.Server{h.replica, h.primary} {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	if h.dir != "" && !h.cfg.KeepDir {
		errs = append(errs, os.RemoveAll(h.dir))
	}
	return errors.Join(errs...)
}
