package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/redis/go-redis/v9"

	"github.com/replsm/replsm/internal/benchkit"
	"github.com/replsm/replsm/internal/redisproc"
	"github.com/replsm/replsm/internal/redisview"
	redisreplica "github.com/replsm/replsm/redis/replica"
	"github.com/replsm/replsm/slot"
)

// Config is one run's dataset, load and bounds.
type Config struct {
	// The primary's dataset: ZSets sorted sets of ZMembers members each,
	// and Strings strings of StringSize bytes.
	ZSets, ZMembers, Strings, StringSize int
	// Limit is the primary's client-output-buffer-limit for replicas:
	// "<hard> <soft> <seconds>".
	Limit string
	// The write load during each follower's sync: Rate SETs per second of
	// ValueSize bytes over Keyspace keys, for LoadFor.
	Rate, ValueSize, Keyspace int
	LoadFor                   time.Duration
	// SettleTimeout bounds the wait, after the load, for a follower to be
	// up and caught up.
	SettleTimeout time.Duration
	// SampleEvery is the output buffer and RSS sampling period.
	SampleEvery time.Duration
	// Followers are run in this order: "stock" (disk load), "swapdb"
	// (repl-diskless-load swapdb), "replsm".
	Followers []string
	// Digest compares each caught-up follower with the primary.
	Digest bool
	// RedisServer is the binary (looked up on PATH).
	RedisServer string
	// Progress gets one line per step; nil discards.
	Progress io.Writer
	// KeepDir keeps the run's directory (logs) afterwards.
	KeepDir bool
}

// DefaultConfig is the scenario as the design document states it.
func DefaultConfig() Config {
	return Config{
		ZSets: 12, ZMembers: 1_000_000, Strings: 500_000, StringSize: 100,
		Limit: "24mb 16mb 2",
		Rate:  1500, ValueSize: 4 << 10, Keyspace: 100_000, LoadFor: 60 * time.Second,
		SettleTimeout: 3 * time.Minute,
		SampleEvery:   50 * time.Millisecond,
		Digest:        true,
		Followers:     []string{"stock", "replsm"},
		RedisServer:   "redis-server",
	}
}

// Validate reports the first unusable field.
func (c Config) Validate() error {
	switch {
	case c.ZSets < 0 || c.ZMembers < 0 || c.Strings < 0 || c.StringSize <= 0:
		return fmt.Errorf("dataset: zsets %d, members %d, strings %d >= 0, string size %d > 0", c.ZSets, c.ZMembers, c.Strings, c.StringSize)
	case c.Rate <= 0 || c.ValueSize <= 0 || c.Keyspace <= 0 || c.LoadFor <= 0:
		return fmt.Errorf("load: rate %d, value size %d, keyspace %d and duration %s must be > 0", c.Rate, c.ValueSize, c.Keyspace, c.LoadFor)
	case c.SettleTimeout <= 0 || c.SampleEvery <= 0:
		return errors.New("settle timeout and sampling period must be > 0")
	}
	if len(c.Followers) == 0 {
		return errors.New("no followers")
	}
	for _, f := range c.Followers {
		if _, ok := followerNames[f]; !ok {
			return fmt.Errorf("follower %q: want stock, swapdb or replsm", f)
		}
	}
	if len(strings.Fields(c.Limit)) != 3 {
		return fmt.Errorf("limit %q: want \"<hard> <soft> <seconds>\"", c.Limit)
	}
	return nil
}

// softLimit is the replica class's soft limit in bytes from the
// primary's CONFIG GET client-output-buffer-limit ("normal 0 0 0 slave
// <hard> <soft> <seconds> pubsub ...").
func softLimit(reply string) (int64, error) {
	f := strings.Fields(reply)
	for i := 0; i+2 < len(f); i++ {
		if f[i] == "slave" || f[i] == "replica" {
			return strconv.ParseInt(f[i+2], 10, 64)
		}
	}
	return 0, fmt.Errorf("client-output-buffer-limit %q: no replica class", reply)
}

// Follower is what one follower's run measured.
type Follower struct {
	Name string
	// FullSyncs is the primary's sync_full delta over the follower's run;
	// Drops counts the primary's log lines closing a client for its
	// output buffer.
	FullSyncs, Drops int64
	// PeakBuffer is the largest omem sampled for a replica connection.
	PeakBuffer int64
	// FirstUp is when the follower's link first came up, from its start
	// (-1: never during the load).
	FirstUp time.Duration
	// CaughtUp is whether it was up at the primary's final offset within
	// SettleTimeout after the load, and when.
	CaughtUp      bool
	CaughtUpAfter time.Duration
	// PeakRSS is the follower process's largest VmRSS sampled (for replsm,
	// this process's).
	PeakRSS int64
	// Writes is how many SETs the load made during its run.
	Writes int
	// Digest is "equal", "DIFFERENT", or why it was not compared.
	Digest string
}

// Result is a run's figures.
type Result struct {
	Config       Config
	Machine      string
	RedisVersion string
	Keys         int64
	PopulateTook time.Duration
	SoftLimit    int64 // the primary's soft limit for replicas, bytes
	Followers    []Follower
}

// Missed lists the targets the run missed: replsm must complete with one
// full sync, never dropped, its buffer under the soft limit, caught up with
// an equal digest.
func (r Result) Missed() []string {
	soft := r.SoftLimit
	var out []string
	for _, f := range r.Followers {
		if f.Name != followerReplsm {
			continue
		}
		if f.FullSyncs != 1 {
			out = append(out, fmt.Sprintf("replsm made %d full syncs, want 1", f.FullSyncs))
		}
		if f.Drops > 0 {
			out = append(out, fmt.Sprintf("the primary dropped replsm %d times", f.Drops))
		}
		if f.PeakBuffer >= soft {
			out = append(out, fmt.Sprintf("replsm's output buffer peaked at %d bytes, soft limit %d", f.PeakBuffer, soft))
		}
		if !f.CaughtUp {
			out = append(out, "replsm did not catch up")
		}
		if r.Config.Digest && f.Digest != "equal" {
			out = append(out, "replsm's digest: "+f.Digest)
		}
	}
	return out
}

// Follower names, in run order.
const (
	followerStock  = "redis-server replica (disk load)"
	followerSwapDB = "redis-server replica (swapdb)"
	followerReplsm = "replsm replica"
)

// followerNames maps Config.Followers' words to the names.
var followerNames = map[string]string{"stock": followerStock, "swapdb": followerSwapDB, "replsm": followerReplsm}

// harness is the primary and what reads it.
type harness struct {
	cfg  Config
	dir  string
	bin  string
	prim *redisproc.Server
	pc   *redis.Client
}

func (h *harness) progress(format string, args ...any) {
	if h.cfg.Progress != nil {
		fmt.Fprintf(h.cfg.Progress, "benchcobloop: "+format+"\n", args...)
	}
}

// Run starts the primary, fills it, and runs each follower in turn under
// the write load. The error is non-nil when the run could not be carried
// out; missed targets are the Result's business.
func Run(ctx context.Context, cfg Config) (res Result, err error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	res = Result{Config: cfg, Machine: benchkit.Machine()}
	h := &harness{cfg: cfg}
	defer func() { err = errors.Join(err, h.close()) }()
	if h.dir, err = os.MkdirTemp("", "benchcobloop-"); err != nil {
		return res, err
	}
	if h.bin, err = redisproc.LookPath(cfg.RedisServer); err != nil {
		return res, err
	}
	h.prim, err = redisproc.Start(ctx, redisproc.Options{
		Binary: h.bin, Dir: filepath.Join(h.dir, "primary"), Name: "primary",
		Args: []string{"--client-output-buffer-limit", "replica " + cfg.Limit},
	})
	if err != nil {
		return res, err
	}
	h.pc = newClient(h.prim.Addr())
	res.RedisVersion = h.infoField(ctx, "server", "redis_version")
	limits, err := h.pc.ConfigGet(ctx, "client-output-buffer-limit").Result()
	if err != nil {
		return res, err
	}
	if res.SoftLimit, err = softLimit(limits["client-output-buffer-limit"]); err != nil {
		return res, err
	}
	start := time.Now()
	h.progress("primary %s: filling %d sorted sets of %d members and %d strings of %d bytes", h.prim.Addr(), cfg.ZSets, cfg.ZMembers, cfg.Strings, cfg.StringSize)
	if err := populate(ctx, h.pc, cfg); err != nil {
		return res, err
	}
	res.PopulateTook = time.Since(start)
	res.Keys, _ = h.pc.DBSize(ctx).Result()
	h.progress("filled %d keys in %s", res.Keys, res.PopulateTook.Round(time.Millisecond))

	for _, word := range cfg.Followers {
		name := followerNames[word]
		f, err := h.follow(ctx, name)
		res.Followers = append(res.Followers, f)
		if err != nil {
			return res, fmt.Errorf("%s: %w", name, err)
		}
	}
	return res, nil
}

// follower is one running follower: its read address and how to stop it
// and read its RSS.
type follower struct {
	addr string
	rss  func() int64
	stop func() error
}

// start starts the named follower of the primary.
func (h *harness) start(ctx context.Context, name string) (*follower, error) {
	switch name {
	case followerReplsm:
		rcfg := redisreplica.DefaultConfig()
		rcfg.Shards = map[slot.ID]string{0: h.prim.Addr()}
		rcfg.ListenAddr = "127.0.0.1:0"
		rcfg.SpoolDir = h.dir
		logf, err := os.Create(filepath.Join(h.dir, "replsm.log"))
		if err != nil {
			return nil, err
		}
		rcfg.Logger = slog.New(slog.NewTextHandler(logf, nil))
		r, err := redisreplica.New(rcfg, clock.New())
		if err == nil {
			err = r.Start()
		}
		if err != nil {
			_ = logf.Close()
			return nil, err
		}
		return &follower{addr: r.Addr(), rss: func() int64 { return rssOf(os.Getpid()) },
			stop: func() error { return errors.Join(r.Close(), logf.Close()) }}, nil
	default:
		args := redisproc.ReplicaOfArgs(h.prim.Port())
		dir := filepath.Join(h.dir, "stock")
		if name == followerSwapDB {
			args = append(args, "--repl-diskless-load", "swapdb")
			dir = filepath.Join(h.dir, "swapdb")
		}
		s, err := redisproc.Start(ctx, redisproc.Options{Binary: h.bin, Dir: dir, Name: name, Args: args})
		if err != nil {
			return nil, err
		}
		return &follower{addr: s.Addr(), rss: func() int64 { return rssOf(s.PID()) }, stop: s.Close}, nil
	}
}

func (h *harness) close() error {
	var errs []error
	if h.pc != nil {
		_ = h.pc.Close()
	}
	if h.prim != nil {
		errs = append(errs, h.prim.Close())
	}
	if h.dir != "" {
		if h.cfg.KeepDir {
			h.progress("kept %s", h.dir)
		} else {
			errs = append(errs, os.RemoveAll(h.dir))
		}
	}
	return errors.Join(errs...)
}

// infoField reads one field of an INFO section of the primary ("" on error).
func (h *harness) infoField(ctx context.Context, section, field string) string {
	text, err := h.pc.Info(ctx, section).Result()
	if err != nil {
		return ""
	}
	return fieldOf(text, field)
}

// fieldOf is one "field:value" of an INFO reply ("" when absent).
func fieldOf(text, field string) string {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), field+":"); ok {
			return v
		}
	}
	return ""
}

func (h *harness) infoInt(ctx context.Context, section, field string) (int64, error) {
	v := h.infoField(ctx, section, field)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("primary INFO %s %s = %q", section, field, v)
	}
	return n, nil
}

// rssOf is a process's VmRSS in bytes (0 when unknown).
func rssOf(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// newClient is a client for calls that take long on a big dataset and a
// busy machine (a whole 1M-member sorted set for the digest, a filling
// EVAL, a pipeline of writes caught up after a stall).
func newClient(addr string) *redis.Client {
	opts := redisview.ClientOptions(addr, 0)
	opts.ReadTimeout, opts.WriteTimeout = time.Minute, time.Minute
	return redis.NewClient(opts)
}
