package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/internal/faultproxy"
	"github.com/replsm/replsm/redis/primary"
	redisreplica "github.com/replsm/replsm/redis/replica"
	core "github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/slot"
	"github.com/replsm/replsm/timeouts"
)

// Options sets the demo's size and pace.
type Options struct {
	Shards      int           // primaries, one replica shard each (>= 3: each fault has its own shard)
	WriteRate   int           // write commands per second per primary
	StatusEvery time.Duration // how often the status line prints
	PhaseWait   time.Duration // the longest any phase may take before the demo fails
	Steady      time.Duration // how long the load runs undisturbed between faults
	Out         io.Writer
	Logger      *slog.Logger // framework logs; nil discards (the demo prints records itself)
	// Serve, when set, serves the replica's status page and metrics once it
	// has started and returns the page's URL and how to stop serving; the
	// demo prints the URL and stops the server when it ends (after Linger).
	Serve func(r *redisreplica.Replica) (url string, stop func(), err error)
	// Linger keeps the status page up this long after the summary.
	Linger time.Duration
}

// DefaultOptions: 3 shards, 200 writes/s each, a status line per second.
func DefaultOptions(out io.Writer) Options {
	return Options{Shards: 3, WriteRate: 200, StatusEvery: time.Second, PhaseWait: 20 * time.Second, Steady: 2 * time.Second, Out: out}
}

// ErrBadOptions is returned by Run for options it cannot run with.
var ErrBadOptions = errors.New("demo: bad options")

// ShardSummary is one shard's outcome.
type ShardSummary struct {
	ID            slot.ID
	Endpoint      string
	State         slot.State
	Transitions   uint64
	Recoveries    uint64
	FullSyncs     uint64
	PartialSyncs  uint64
	Exhaustions   uint64
	PrimaryOffset int64
	ReplicaOffset int64
	Keys          int
	DigestMatch   bool
	Detail        string // why the digests differ, when they do
}

// Summary is the demo's outcome.
type Summary struct {
	Shards  []ShardSummary
	Writes  uint64
	Elapsed time.Duration
	OK      bool
}

// cluster is everything the demo started.
type cluster struct {
	opts      Options
	clk       clock.Clock
	start     time.Time
	out       *syncWriter
	primaries []*primary.Primary
	proxies   []*faultproxy.Proxy
	replica   *redisreplica.Replica
	load      *load
	exhausted chan slot.ID
}

// Replica timeouts are short so that every fault plays out in seconds.
func replicaConfig(shards map[slot.ID]string) redisreplica.Config {
	cfg := redisreplica.DefaultConfig()
	cfg.Shards = shards
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.SlotConfig.ReplyTimeout = 2 * time.Second
	cfg.SlotConfig.TransferIdleTimeout = 5 * time.Second
	cfg.SlotConfig.KeepaliveTimeout = 3 * time.Second
	cfg.SlotConfig.Backoff = timeouts.Backoff{Initial: 200 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, Max: 2 * time.Second}
	cfg.SlotConfig.RecoveryCap = 3
	cfg.SlotConfig.StablePeriod = 5 * time.Second
	cfg.ReadTimeout = 5 * time.Second // above the keepalive: silence is a keepalive_timeout first
	cfg.DialTimeout = time.Second
	cfg.Seed = 1
	return cfg
}

// Run plays the whole demo and returns its summary. The error is non-nil
// when something could not be started or a phase did not complete; the
// summary is still filled in as far as it got.
func Run(ctx context.Context, opts Options) (Summary, error) {
	if opts.Shards < 3 || opts.WriteRate < 1 || opts.StatusEvery <= 0 || opts.PhaseWait <= 0 || opts.Steady < 0 || opts.Out == nil {
		return Summary{}, fmt.Errorf("%w: need Shards >= 3, WriteRate >= 1, StatusEvery and PhaseWait > 0, and Out", ErrBadOptions)
	}
	c := &cluster{opts: opts, clk: clock.New(), out: &syncWriter{w: opts.Out}, exhausted: make(chan slot.ID, 16)}
	c.start = c.clk.Now()
	defer c.close()
	if err := c.up(); err != nil {
		return Summary{}, err
	}
	if opts.Serve != nil {
		url, stop, err := opts.Serve(c.replica)
		if err != nil {
			return Summary{}, fmt.Errorf("status page: %w", err)
		}
		defer stop()
		c.printf("STATUS PAGE %s  (metrics: %smetrics) — open it to watch the faults happen and the shards come back", url, url)
		if opts.Linger > 0 {
			defer func() {
				c.printf("status page stays up %s more at %s (Ctrl-C ends it)", opts.Linger, url)
				t := c.clk.Timer(opts.Linger)
				defer t.Stop()
				select {
				case <-ctx.Done():
				case <-t.C:
				}
			}()
		}
	}
	stopStatus := c.statusLoop()
	err := c.play(ctx)
	stopStatus()
	c.load.stop()
	if err == nil {
		err = c.converge(ctx)
	}
	sum := c.summarize(ctx)
	c.printSummary(sum)
	if err != nil {
		sum.OK = false
		return sum, err
	}
	return sum, nil
}

// up starts the primaries, their proxies, the replica and the load.
func (c *cluster) up() error {
	pcfg := primary.DefaultConfig()
	pcfg.PingPeriod = time.Second
	pcfg.BacklogSize = 4 << 20
	pcfg.ReplTimeout = 10 * time.Second
	shards := map[slot.ID]string{}
	for i := 0; i < c.opts.Shards; i++ {
		p, err := primary.New(pcfg, c.clk, c.opts.Logger)
		if err != nil {
			return err
		}
		if err := p.Listen("127.0.0.1:0"); err != nil {
			return err
		}
		c.primaries = append(c.primaries, p)
		px, err := faultproxy.New("127.0.0.1:0", p.Addr())
		if err != nil {
			return err
		}
		c.proxies = append(c.proxies, px)
		shards[slot.ID(i)] = px.Addr()
		c.printf("primary %d on %s, its fault proxy on %s", i, p.Addr(), px.Addr())
	}
	rcfg := replicaConfig(shards)
	rcfg.Logger = c.opts.Logger
	rcfg.LagProbeInterval = 500 * time.Millisecond
	rcfg.Observers = []slot.Observer{func(r slot.Record) { c.printf("%s", r) }}
	rcfg.InstanceObservers = []func(core.Record){func(r core.Record) { c.printf("%s", r) }}
	rcfg.OnExhausted = func(e slot.Exhaustion) {
		c.printf("EXHAUSTED %s (%s): %s — probing it; back as soon as it answers", e.Slot, e.Endpoint, e.LastError)
		select {
		case c.exhausted <- e.Slot:
		default:
		}
	}
	r, err := redisreplica.New(rcfg, c.clk)
	if err != nil {
		return err
	}
	c.replica = r
	if err := r.Start(); err != nil {
		return err
	}
	c.printf("replica serving reads on %s", r.Addr())
	addrs := make([]string, len(c.primaries))
	for i, p := range c.primaries {
		addrs[i] = p.Addr()
	}
	c.load = startLoad(addrs, c.opts.WriteRate, c.clk)
	return nil
}

func (c *cluster) close() {
	if c.load != nil {
		c.load.stop()
	}
	if c.replica != nil {
		_ = c.replica.Close()
	}
	for _, px := range c.proxies {
		_ = px.Close()
	}
	for _, p := range c.primaries {
		_ = p.Close()
	}
}

func (c *cluster) printf(format string, args ...any) {
	c.out.printf("[%6.2fs] "+format+"\n", append([]any{c.clk.Since(c.start).Seconds()}, args...)...)
}

// syncWriter keeps lines from the observers, the status loop and the
// phases whole.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) printf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, format, args...)
}
