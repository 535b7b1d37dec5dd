package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/redis/go-redis/v9"

	"github.com/replsm/replsm/internal/benchkit"
	"github.com/replsm/replsm/internal/redisproc"
	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/internal/redisview"
)

// Config is one run.
type Config struct {
	Keys, Backlog int
	Settle        time.Duration
	Timeout       time.Duration
	Replsm        string // empty: build ./cmd/replsm
	Profile       string // directory for profiles and the RDB; empty: none
	SkipDigest    bool
	Progress      io.Writer
}

// DefaultConfig is `make bench-fullsync`.
func DefaultConfig() Config {
	return Config{Keys: 1_000_000, Backlog: 600_000, Settle: 3 * time.Second, Timeout: 5 * time.Minute}
}

// Targets, replsm / redis-server (docs/fullsync.md).
const (
	maxSyncRatio = 1.0
	maxRSSRatio  = 1.5
	minRateRatio = 1.0
)

// The two followers, in table order.
const (
	fReal = iota
	fOurs
	nFollowers
)

var followerNames = [nFollowers]string{"redis-server replica", "replsm replica"}

// Result is what a run measured.
type Result struct {
	Config       Config
	RedisVersion string
	Machine      string
	Keys         int64 // the primary's dbsize after the fill
	BacklogBytes int64

	Sync    [nFollowers]time.Duration
	RSS     [nFollowers]int64 // bytes
	CatchUp [nFollowers]time.Duration

	DigestChecked bool
	DigestEqual   bool
	DigestNote    string
}

type harness struct {
	cfg   Config
	clk   clock.Clock
	dir   string
	prim  *redisproc.Server
	real  *redisproc.Server
	ours  *exec.Cmd
	oDone chan struct{}
	pc    *redis.Client
	fc    [nFollowers]*redis.Client
	pprof string // replsm's --pprof-listen address
}

func (h *harness) progress(format string, args ...any) {
	if h.cfg.Progress != nil {
		fmt.Fprintf(h.cfg.Progress, "benchfullsync: "+format+"\n", args...)
	}
}

func newClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 30 * time.Second, PoolSize: 4})
}

// Run carries out the measurement. The error is non-nil when the run could
// not be carried out; Pass judges the targets.
func Run(ctx context.Context, cfg Config) (res *Result, err error) {
	if cfg.Keys < 1 || cfg.Backlog < 1 || cfg.Timeout <= 0 {
		return nil, fmt.Errorf("--keys %d and --backlog %d must be >= 1, --timeout > 0", cfg.Keys, cfg.Backlog)
	}
	h := &harness{cfg: cfg, clk: clock.New()}
	defer func() { err = errors.Join(err, h.close()) }()
	if h.dir, err = os.MkdirTemp("", "benchfullsync-"); err != nil {
		return nil, err
	}
	res = &Result{Config: cfg, Machine: benchkit.Machine()}
	replsm := cfg.Replsm
	if replsm == "" {
		replsm = filepath.Join(h.dir, "replsm")
		h.progress("building %s", replsm)
		if err := benchkit.BuildReplsm(ctx, replsm); err != nil {
			return nil, err
		}
	}
	// No output-buffer limit and a backlog that holds the paused stream:
	// the catch-up measures applying, not a re-sync.
	h.prim, err = redisproc.Start(ctx, redisproc.Options{
		Dir: filepath.Join(h.dir, "primary"), Name: "primary", Clock: h.clk,
		Args: []string{"--client-output-buffer-limit", "replica", "0", "0", "0", "--repl-backlog-size", "512mb", "--enable-debug-command", "local"},
	})
	if err != nil {
		return nil, err
	}
	h.pc = newClient(h.prim.Addr())
	if err := h.fill(ctx, res); err != nil {
		return res, err
	}
	if err := h.syncReal(ctx, res); err != nil {
		return res, err
	}
	if err := h.syncOurs(ctx, replsm, res); err != nil {
		return res, err
	}
	if err := h.catchUp(ctx, res); err != nil {
		return res, err
	}
	if !cfg.SkipDigest {
		if err := h.digests(ctx, res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (h *harness) fill(ctx context.Context, res *Result) error {
	h.progress("filling the primary: DEBUG POPULATE %d key 100, and every collection type", h.cfg.Keys)
	if err := h.pc.Do(ctx, "DEBUG", "POPULATE", h.cfg.Keys, "key", 100).Err(); err != nil {
		return fmt.Errorf("DEBUG POPULATE: %w", err)
	}
	if err := redistest.FillAllTypes(ctx, h.pc, "fs", 300); err != nil {
		return err
	}
	text, err := h.pc.Info(ctx, "server").Result()
	if err != nil {
		return err
	}
	res.RedisVersion = infoField(text, "redis_version")
	res.Keys, err = h.pc.DBSize(ctx).Result()
	if err != nil {
		return err
	}
	if h.cfg.Profile != "" {
		// The primary's own RDB, for BenchmarkLoad (redis/rdb).
		if err := h.pc.Save(ctx).Err(); err != nil {
			return fmt.Errorf("SAVE: %w", err)
		}
		if err := os.MkdirAll(h.cfg.Profile, 0o755); err != nil {
			return err
		}
		if err := copyFile(filepath.Join(h.prim.Dir(), "dump.rdb"), filepath.Join(h.cfg.Profile, "dump.rdb")); err != nil {
			return err
		}
	}
	return nil
}

// waitLink polls f's INFO replication every 10 ms until master_link_status
// is up, and returns when it saw it.
func (h *harness) waitLink(ctx context.Context, f int, exited func() error) (time.Time, error) {
	var at time.Time
	err := redisproc.Poll(ctx, h.clk, h.cfg.Timeout, func() error {
		if exited != nil {
			if err := exited(); err != nil {
				return redisproc.Permanent(err)
			}
		}
		text, err := h.fc[f].Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if infoField(text, "master_link_status") != "up" {
			return errors.New("link not up")
		}
		at = h.clk.Now()
		return nil
	})
	if err != nil {
		return at, fmt.Errorf("%s: %w", followerNames[f], err)
	}
	return at, nil
}

func (h *harness) syncReal(ctx context.Context, res *Result) error {
	h.progress("starting the redis-server replica")
	start := h.clk.Now()
	var err error
	h.real, err = redisproc.Start(ctx, redisproc.Options{
		Dir: filepath.Join(h.dir, "replica"), Name: "redis-replica", Clock: h.clk,
		Args: append(redisproc.ReplicaOfArgs(h.prim.Port()), "--enable-debug-command", "local"), StartTimeout: h.cfg.Timeout,
	})
	if err != nil {
		return err
	}
	h.fc[fReal] = newClient(h.real.Addr())
	up, err := h.waitLink(ctx, fReal, nil)
	if err != nil {
		return err
	}
	res.Sync[fReal] = up.Sub(start)
	h.progress("redis-server replica synced in %s", res.Sync[fReal].Round(time.Millisecond))
	h.sleep(ctx, h.cfg.Settle)
	res.RSS[fReal], err = vmRSS(h.real.PID())
	return err
}

func (h *harness) syncOurs(ctx context.Context, replsm string, res *Result) error {
	port, err := redisproc.FreePort()
	if err != nil {
		return err
	}
	pport, err := redisproc.FreePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	h.pprof = "127.0.0.1:" + strconv.Itoa(pport)
	logf, err := os.Create(filepath.Join(h.dir, "replsm.log"))
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own descriptor
	h.progress("starting the replsm replica (log %s)", logf.Name())
	start := h.clk.Now()
	h.ours = exec.Command(replsm, "replica", "--shard", "0="+h.prim.Addr(), "--listen", addr, "--pprof-listen", h.pprof)
	h.ours.Stdout, h.ours.Stderr = logf, logf
	h.ours.SysProcAttr = childAttr()
	if err := h.ours.Start(); err != nil {
		return err
	}
	h.oDone = make(chan struct{})
	go func() { _ = h.ours.Wait(); close(h.oDone) }()
	exited := func() error {
		select {
		case <-h.oDone:
			return fmt.Errorf("replsm exited: %v (log %s)", h.ours.ProcessState, logf.Name())
		default:
			return nil
		}
	}
	h.fc[fOurs] = newClient(addr)
	up, err := h.waitLink(ctx, fOurs, exited)
	if err != nil {
		return err
	}
	res.Sync[fOurs] = up.Sub(start)
	h.progress("replsm replica synced in %s", res.Sync[fOurs].Round(time.Millisecond))
	// A forced GC (the heap profile's gc=1), then the same settle.
	heap := io.Discard
	if h.cfg.Profile != "" {
		f, err := os.Create(filepath.Join(h.cfg.Profile, "heap-after-sync.pprof"))
		if err != nil {
			return err
		}
		defer f.Close()
		heap = f
	}
	if err := h.pprofGet(ctx, "/debug/pprof/heap?gc=1", heap); err != nil {
		return err
	}
	h.sleep(ctx, h.cfg.Settle)
	res.RSS[fOurs], err = vmRSS(h.ours.Process.Pid)
	return err
}

// catchUp stops both followers, writes the backlog, and resumes them one at
// a time, timing each until its own offset reaches the primary's.
func (h *harness) catchUp(ctx context.Context, res *Result) error {
	if err := h.real.Stop(); err != nil {
		return err
	}
	if err := h.ours.Process.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	before, err := h.primaryOffset(ctx)
	if err != nil {
		return err
	}
	h.progress("both followers stopped; writing %d SETs", h.cfg.Backlog)
	if _, err := redisproc.RunBenchmark(ctx, redisproc.Benchmark{
		Addr: h.prim.Addr(), Requests: h.cfg.Backlog, Clients: 50, Keyspace: h.cfg.Keys,
		Pipeline: 16, DataSize: 100, Timeout: h.cfg.Timeout, Clock: h.clk,
	}); err != nil {
		return err
	}
	target, err := h.primaryOffset(ctx)
	if err != nil {
		return err
	}
	res.BacklogBytes = target - before
	resume := [nFollowers]func() error{
		fReal: h.real.Cont,
		fOurs: func() error { return h.ours.Process.Signal(syscall.SIGCONT) },
	}
	for f := range nFollowers {
		var prof chan error
		if f == fOurs && h.cfg.Profile != "" {
			prof = make(chan error, 1)
			go func() {
				pf, err := os.Create(filepath.Join(h.cfg.Profile, "cpu-catchup.pprof"))
				if err != nil {
					prof <- err
					return
				}
				defer pf.Close()
				prof <- h.pprofGet(ctx, "/debug/pprof/profile?seconds=3", pf)
			}()
			h.sleep(ctx, 200*time.Millisecond) // the profile has started
		}
		start := h.clk.Now()
		if err := resume[f](); err != nil {
			return err
		}
		if err := h.waitOffset(ctx, f, target); err != nil {
			return err
		}
		res.CatchUp[f] = h.clk.Now().Sub(start)
		h.progress("%s caught up %d bytes in %s", followerNames[f], res.BacklogBytes, res.CatchUp[f].Round(time.Millisecond))
		if prof != nil {
			if err := <-prof; err != nil {
				return err
			}
		}
	}
	return nil
}

func (h *harness) primaryOffset(ctx context.Context) (int64, error) {
	text, err := h.pc.Info(ctx, "replication").Result()
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(infoField(text, "master_repl_offset"), 10, 64)
}

func (h *harness) waitOffset(ctx context.Context, f int, target int64) error {
	return redisproc.Poll(ctx, h.clk, h.cfg.Timeout, func() error {
		text, err := h.fc[f].Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		off, err := strconv.ParseInt(infoField(text, "slave_repl_offset"), 10, 64)
		if err != nil {
			return err
		}
		if off < target {
			return fmt.Errorf("%s at offset %d of %d", followerNames[f], off, target)
		}
		return nil
	})
}

// digests compares replsm's keyspace with the primary's (a client-side
// digest of every key) and the stock replica's DEBUG DIGEST with the
// primary's.
func (h *harness) digests(ctx context.Context, res *Result) error {
	h.progress("comparing digests (reads every key)")
	want, err := h.pc.Do(ctx, "DEBUG", "DIGEST").Text()
	if err != nil {
		return err
	}
	got, err := h.fc[fReal].Do(ctx, "DEBUG", "DIGEST").Text()
	if err != nil {
		return err
	}
	dbs := redistest.FillDBs()
	equal, rp, ro, err := redisview.Compare(ctx, h.pc, h.fc[fOurs], dbs)
	if err != nil {
		return err
	}
	res.DigestChecked = true
	res.DigestEqual = equal && got == want
	res.DigestNote = fmt.Sprintf("primary %s (%d keys); redis-server replica DEBUG DIGEST %s; replsm %s", rp.Digest[:12], rp.TotalKeys(), map[bool]string{true: "equal", false: "DIFFERS"}[got == want], ro.Digest[:12])
	if !equal {
		res.DigestNote += "; differences: " + strings.Join(rp.Diff(ro, 5), "; ")
	}
	return nil
}

func (h *harness) pprofGet(ctx context.Context, path string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+h.pprof+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("pprof %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof %s: %s", path, resp.Status)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

func (h *harness) sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-h.clk.After(d):
	}
}

func (h *harness) close() error {
	var errs []error
	if h.ours != nil && h.ours.Process != nil {
		_ = h.ours.Process.Signal(syscall.SIGCONT)
		_ = h.ours.Process.Signal(syscall.SIGTERM)
		select {
		case <-h.oDone:
		case <-time.After(10 * time.Second):
			_ = h.ours.Process.Kill()
			<-h.oDone
		}
	}
	for _, c := range append(h.fc[:], h.pc) {
		if c != nil {
			_ = c.Close()
		}
	}
	for _, s := range []*redisproc.Server{h.real, h.prim} {
		if s != nil {
			_ = s.Cont()
			errs = append(errs, s.Close())
		}
	}
	if h.dir != "" {
		errs = append(errs, os.RemoveAll(h.dir))
	}
	return errors.Join(errs...)
}

// vmRSS reads a process's resident set size.
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// infoField is one field of an INFO reply, "" when absent.
func infoField(text, field string) string {
	m, _ := redistest.ParseInfo(text)
	return m[field]
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}
