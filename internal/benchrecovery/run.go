package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/redis/go-redis/v9"

	"github.com/replsm/replsm/internal/benchkit"
	"github.com/replsm/replsm/internal/redisproc"
)

// Config is one run's scenarios, targets and binaries.
type Config struct {
	// Outage is how long the primary stays down in scenario 1.
	Outage time.Duration
	// Loading is about how long the restarted primary loads in scenario 2
	// (it holds Loading / KeyLoadDelay keys); 0 skips the scenario.
	Loading time.Duration
	// KeyLoadDelay is the primary's key-load-delay, in microseconds per key.
	KeyLoadDelay int

	// Targets: replsm's link is up within MaxBack of the primary answering
	// (scenario 1) or of the load's end (scenario 2), with at most
	// MaxHandshakes sync handshakes during the outage, and no exhaustion
	// in scenario 2.
	MaxBack       time.Duration
	MaxHandshakes int

	// BackTimeout bounds the wait for a follower's link once the primary
	// is back; StartTimeout bounds starting everything and the first syncs.
	BackTimeout, StartTimeout time.Duration

	// Replsm is the replsm binary; empty builds ./cmd/replsm.
	Replsm string
	// RedisServer is the redis-server binary (looked up on PATH).
	RedisServer string
	// KeepDir keeps the run's directory (every log) instead of removing it.
	KeepDir bool

	// Clock drives every wait and measurement.
	Clock clock.Clock
	// Progress gets one line per step; nil discards.
	Progress io.Writer
}

// DefaultConfig is `make bench-recovery`: a 90 s outage and a 30 s -LOADING restart, the targets of docs/DESIGN.md ("Error is never a dead end").
func DefaultConfig() Config {
	return Config{
		Outage:        90 * time.Second,
		Loading:       30 * time.Second,
		KeyLoadDelay:  100_000,
		MaxBack:       3 * time.Second,
		MaxHandshakes: 12,
		BackTimeout:   60 * time.Second,
		StartTimeout:  30 * time.Second,
		RedisServer:   "redis-server",
	}
}

// maxKeys bounds scenario 2's dataset (memory and fill time).
const maxKeys = 200_000

// Validate reports the first unusable field.
func (c Config) Validate() error {
	switch {
	case c.Outage <= 0:
		return fmt.Errorf("--outage must be > 0, got %s", c.Outage)
	case c.Loading < 0:
		return fmt.Errorf("--loading must be >= 0, got %s", c.Loading)
	case c.Loading > 0 && (c.KeyLoadDelay < 1 || c.KeyLoadDelay > 1_000_000):
		return fmt.Errorf("--key-load-delay must be in 1..1000000 microseconds, got %d", c.KeyLoadDelay)
	case c.Loading > 0 && c.keys() > maxKeys:
		return fmt.Errorf("--loading %s at --key-load-delay %dµs needs %d keys, more than %d", c.Loading, c.KeyLoadDelay, c.keys(), maxKeys)
	case c.MaxBack <= 0 || c.BackTimeout <= 0 || c.StartTimeout <= 0:
		return errors.New("--max-back, --back-timeout and the start timeout must be > 0")
	case c.MaxHandshakes < 0:
		return fmt.Errorf("--max-handshakes must be >= 0, got %d", c.MaxHandshakes)
	}
	return nil
}

// keys is scenario 2's dataset size.
func (c Config) keys() int {
	if c.KeyLoadDelay <= 0 {
		return 0
	}
	return int(c.Loading / (time.Duration(c.KeyLoadDelay) * time.Microsecond))
}

// The two followers, in table order.
const (
	fOurs = iota // `replsm replica`
	fReal        // `redis-server --replicaof`
	nFollowers
)

var followerNames = [nFollowers]string{"replsm replica", "redis-server --replicaof"}

// Scenario is what one scenario measured.
type Scenario struct {
	Name string
	// Away is how long the primary was away: down (outage) or loading.
	Away time.Duration
	// Handshakes made by each follower while the primary was away.
	Handshakes [nFollowers]int
	// Back is how long after the primary was ready again (answering PING;
	// the load's end) each follower's link was up; -1: not within
	// BackTimeout.
	Back [nFollowers]time.Duration
	// Exhausted counts replsm's exhaustion reports during the scenario;
	// Busy its busy replies (-LOADING answered by a re-ask).
	Exhausted, Busy int
	// SawLoading: the primary was seen answering -LOADING (scenario 2).
	SawLoading bool
	Keys       int
}

// Result is a whole run.
type Result struct {
	Config       Config
	RedisVersion string
	Machine      string
	Scenarios    []Scenario
}

// harness is the primary, the two followers and what reads them.
type harness struct {
	cfg  Config
	clk  clock.Clock
	dir  string
	bin  string // redis-server
	prim *redisproc.Server
	real *redisproc.Server
	ours *child
	// replsm is the binary, oursAddr where the replsm replica serves.
	replsm, oursAddr string
	pc               *redis.Client
	fc               [nFollowers]*redis.Client
}

// Run carries out both scenarios and returns what they measured. The
// error is non-nil when the run could not be carried out; missed targets
// are the Result's business (Missed).
func Run(ctx context.Context, cfg Config) (res Result, err error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.New()
	}
	h := &harness{cfg: cfg, clk: cfg.Clock}
	defer func() { err = errors.Join(err, h.close()) }()
	if err := h.start(ctx); err != nil {
		return Result{}, err
	}
	res = Result{Config: cfg, Machine: benchkit.Machine()}
	res.RedisVersion, _ = h.redisVersion(ctx)

	s1, err := h.outage(ctx)
	if err != nil {
		return res, fmt.Errorf("outage scenario: %w", err)
	}
	res.Scenarios = append(res.Scenarios, s1)
	if cfg.Loading > 0 {
		s2, err := h.loading(ctx)
		if err != nil {
			return res, fmt.Errorf("loading scenario: %w", err)
		}
		res.Scenarios = append(res.Scenarios, s2)
	}
	return res, nil
}

func (h *harness) progress(format string, args ...any) {
	if h.cfg.Progress != nil {
		fmt.Fprintf(h.cfg.Progress, "benchrecovery: "+format+"\n", args...)
	}
}

// start builds replsm if needed and starts the primary and both followers,
// and waits for both links.
func (h *harness) start(ctx context.Context) error {
	var err error
	if h.dir, err = os.MkdirTemp("", "benchrecovery-"); err != nil {
		return err
	}
	if h.bin, err = redisproc.LookPath(h.cfg.RedisServer); err != nil {
		return err
	}
	replsm := h.cfg.Replsm
	if replsm == "" {
		replsm = filepath.Join(h.dir, "replsm")
		h.progress("building %s", replsm)
		if err := benchkit.BuildReplsm(ctx, replsm); err != nil {
			return err
		}
	}
	// The primary's key-load-delay and a short events interval only act
	// while it loads a dump: a few hundred keys that load slowly (a long
	// sleep per key keeps the load's length independent of the machine's
	// scheduling latency) and answer clients (-LOADING) after every key
	// (values above the 1 KiB interval, saved uncompressed), as a big
	// dataset does every 2 MB.
	var extra []string
	if h.cfg.Loading > 0 {
		extra = []string{"--key-load-delay", strconv.Itoa(h.cfg.KeyLoadDelay),
			"--loading-process-events-interval-bytes", "1024", "--rdbcompression", "no"}
	}
	h.prim, err = redisproc.Start(ctx, redisproc.Options{
		Binary: h.bin, Dir: filepath.Join(h.dir, "primary"), Args: extra, Name: "primary",
		StartTimeout: h.cfg.StartTimeout + 5*h.cfg.Loading, Clock: h.clk,
	})
	if err != nil {
		return err
	}
	h.pc = newClient(h.prim.Addr())
	h.real, err = redisproc.Start(ctx, redisproc.Options{
		Binary: h.bin, Dir: filepath.Join(h.dir, "redis-replica"), Args: redisproc.ReplicaOfArgs(h.prim.Port()),
		Name: "redis-replica", StartTimeout: h.cfg.StartTimeout, Clock: h.clk,
	})
	if err != nil {
		return err
	}
	h.fc[fReal] = newClient(h.real.Addr())
	h.replsm = replsm
	if err := h.startOurs(ctx, "replsm.log"); err != nil {
		return err
	}
	h.progress("primary %s, redis-server replica %s, replsm replica %s (log %s)", h.prim.Addr(), h.real.Addr(), h.oursAddr, h.ours.log)
	return h.waitUp(ctx, "both followers synced")
}

// startOurs starts a `replsm replica` process (default configuration)
// following the primary, logging to log in the run's directory, and waits
// until it serves.
func (h *harness) startOurs(ctx context.Context, log string) error {
	if h.fc[fOurs] != nil {
		_ = h.fc[fOurs].Close()
	}
	port, err := redisproc.FreePort()
	if err != nil {
		return err
	}
	h.oursAddr = "127.0.0.1:" + strconv.Itoa(port)
	h.ours, err = startChild(h.replsm, filepath.Join(h.dir, log),
		"replica", "--shard", "0="+h.prim.Addr(), "--listen", h.oursAddr)
	if err != nil {
		return err
	}
	h.fc[fOurs] = newClient(h.oursAddr)
	if err := redisproc.Poll(ctx, h.clk, h.cfg.StartTimeout, func() error {
		if err := h.ours.exited(); err != nil {
			return redisproc.Permanent(err)
		}
		return redisproc.Ping(h.oursAddr, time.Second)
	}); err != nil {
		return fmt.Errorf("replsm replica: %w\nlog tail:\n%s", err, h.ours.tail())
	}
	return nil
}

// waitUp waits for both links, within StartTimeout.
func (h *harness) waitUp(ctx context.Context, what string) error {
	err := redisproc.Poll(ctx, h.clk, h.cfg.StartTimeout, func() error {
		for f := range nFollowers {
			if up, err := h.linkUp(ctx, f); !up {
				return fmt.Errorf("%s link not up (%v)", followerNames[f], err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	h.progress("%s", what)
	return nil
}

// linkUp reports a follower's master_link_status:up.
func (h *harness) linkUp(ctx context.Context, f int) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	text, err := h.fc[f].Info(cctx, "replication").Result()
	if err != nil {
		return false, err
	}
	return infoField(text, "master_link_status") == "up", nil
}

// counts are the log-derived counters at one moment.
type counts struct {
	handshakes [nFollowers]int
	exhausted  int
	busy       int
}

func (h *harness) counts() (counts, error) {
	var c counts
	var err error
	if c.handshakes[fOurs], c.exhausted, c.busy, err = countReplsm(h.ours.log); err != nil {
		return c, err
	}
	if c.handshakes[fReal], err = countLines(h.real.LogPath(), isRedisHandshake); err != nil {
		return c, err
	}
	return c, nil
}

// outage is scenario 1.
func (h *harness) outage(ctx context.Context) (Scenario, error) {
	sc := Scenario{Name: fmt.Sprintf("primary down %s, restarted empty", h.cfg.Outage)}
	before, err := h.counts()
	if err != nil {
		return sc, err
	}
	h.progress("scenario 1: killing the primary for %s", h.cfg.Outage)
	if err := h.prim.Kill(); err != nil {
		return sc, err
	}
	down := h.clk.Now()
	select {
	case <-ctx.Done():
		return sc, ctx.Err()
	case <-h.clk.After(h.cfg.Outage):
	}
	during, err := h.counts()
	if err != nil {
		return sc, err
	}
	// A dump left by a disk-based full sync would be loaded: come back
	// empty, as a primary without persistence does.
	_ = os.Remove(filepath.Join(h.prim.Dir(), "dump.rdb"))
	if err := h.prim.Restart(ctx); err != nil { // returns at its first PONG
		return sc, err
	}
	ready := h.clk.Now()
	sc.Away = ready.Sub(down)
	h.progress("scenario 1: the primary answers again after %s", sc.Away.Round(time.Millisecond))
	sc.Back = h.waitBack(ctx, ready)
	after, err := h.counts()
	if err != nil {
		return sc, err
	}
	for f := range nFollowers {
		sc.Handshakes[f] = during.handshakes[f] - before.handshakes[f]
	}
	sc.Exhausted, sc.Busy = after.exhausted-before.exhausted, after.busy-before.busy
	return sc, nil
}

// loading is scenario 2.
func (h *harness) loading(ctx context.Context) (Scenario, error) {
	sc := Scenario{Keys: h.cfg.keys()}
	// A fresh replsm process, so that the scenario starts from a full
	// retry budget: the outage spent it, and it refills only after a
	// stable period (60 s) Connected. (A second crash inside that period
	// finds the shard exhausted at once; see the package comment.)
	if err := h.ours.stop(); err != nil {
		return sc, err
	}
	if err := h.startOurs(ctx, "replsm-2.log"); err != nil {
		return sc, err
	}
	if err := h.waitUp(ctx, "both followers up before scenario 2 (a fresh replsm process)"); err != nil {
		return sc, err
	}
	h.progress("scenario 2: writing %d keys", sc.Keys)
	if err := fill(ctx, h.pc, sc.Keys); err != nil {
		return sc, err
	}
	if err := h.waitKeys(ctx, sc.Keys); err != nil {
		return sc, err
	}
	// SAVE refuses while a full sync's RDB child still runs.
	if err := redisproc.Poll(ctx, h.clk, h.cfg.StartTimeout, func() error { return h.pc.Save(ctx).Err() }); err != nil {
		return sc, fmt.Errorf("SAVE: %w", err)
	}
	before, err := h.counts()
	if err != nil {
		return sc, err
	}
	h.progress("scenario 2: restarting the primary; it loads %d keys at %dµs each", sc.Keys, h.cfg.KeyLoadDelay)
	start := h.clk.Now()
	done := make(chan error, 1)
	go func() { done <- h.prim.Restart(ctx) }() // returns at its first PONG: the load's end
	tick := h.clk.Ticker(100 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case err := <-done:
			if err != nil {
				return sc, err
			}
			break wait
		case <-tick.C:
			if err := redisproc.Ping(h.prim.Addr(), time.Second); err != nil && strings.Contains(err.Error(), "LOADING") {
				sc.SawLoading = true
			}
		}
	}
	ready := h.clk.Now()
	sc.Away = ready.Sub(start)
	sc.Name = fmt.Sprintf("primary restarted, %s of -LOADING", sc.Away.Round(100*time.Millisecond))
	h.progress("scenario 2: the load ended after %s", sc.Away.Round(time.Millisecond))
	during, err := h.counts()
	if err != nil {
		return sc, err
	}
	sc.Back = h.waitBack(ctx, ready)
	after, err := h.counts()
	if err != nil {
		return sc, err
	}
	for f := range nFollowers {
		sc.Handshakes[f] = during.handshakes[f] - before.handshakes[f]
	}
	sc.Exhausted, sc.Busy = after.exhausted-before.exhausted, after.busy-before.busy
	return sc, nil
}

// waitBack polls both followers every 10 ms until their links are up and
// returns how long after ready each was (-1: not within BackTimeout).
func (h *harness) waitBack(ctx context.Context, ready time.Time) [nFollowers]time.Duration {
	var back [nFollowers]time.Duration
	left := nFollowers
	for f := range back {
		back[f] = -1
	}
	tick := h.clk.Ticker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := h.clk.Timer(h.cfg.BackTimeout)
	defer deadline.Stop()
	for left > 0 {
		for f := range nFollowers {
			if back[f] >= 0 {
				continue
			}
			if up, _ := h.linkUp(ctx, f); up {
				back[f] = max(0, h.clk.Since(ready))
				left--
				h.progress("%s link up %.2fs after the primary was ready", followerNames[f], back[f].Seconds())
			}
		}
		select {
		case <-ctx.Done():
			return back
		case <-deadline.C:
			return back
		case <-tick.C:
		}
	}
	return back
}

// waitKeys waits until both followers hold n keys.
func (h *harness) waitKeys(ctx context.Context, n int) error {
	err := redisproc.Poll(ctx, h.clk, h.cfg.StartTimeout+h.cfg.Loading, func() error {
		for f := range nFollowers {
			got, err := h.fc[f].DBSize(ctx).Result()
			if err != nil || got != int64(n) {
				return fmt.Errorf("%s holds %d keys of %d (%v)", followerNames[f], got, n, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("followers catching up: %w", err)
	}
	return nil
}

// fill writes n keys k:<i> with values just above the primary's 1 KiB
// loading-process-events-interval-bytes, pipelined.
func fill(ctx context.Context, c *redis.Client, n int) error {
	val := strings.Repeat("v", 1100)
	const batch = 1000
	for i := 0; i < n; i += batch {
		pipe := c.Pipeline()
		for j := i; j < min(n, i+batch); j++ {
			pipe.Set(ctx, "k:"+strconv.Itoa(j), val, 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("fill: %w", err)
		}
	}
	return nil
}

func (h *harness) redisVersion(ctx context.Context) (string, error) {
	text, err := h.pc.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	return infoField(text, "redis_version"), nil
}

func (h *harness) close() error {
	var errs []error
	if h.pc != nil {
		_ = h.pc.Close()
	}
	for _, c := range h.fc {
		if c != nil {
			_ = c.Close()
		}
	}
	if h.ours != nil {
		errs = append(errs, h.ours.stop())
	}
	for _, p := range []*redisproc.Server{h.real, h.prim} {
		if p != nil {
			errs = append(errs, p.Close())
		}
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

func newClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 2 * time.Second, PoolSize: 2})
}

// infoField is one "field:value" of an INFO reply ("" when absent).
func infoField(text, field string) string {
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(strings.TrimRight(line, "\r"), ":"); ok && k == field {
			return v
		}
	}
	return ""
}
