package main

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"go.uber.org/goleak"

	"github.com/replsm/replsm/internal/redisproc"
)

// TestMain checks that a run leaves no goroutine behind (sampler, our
// replica's sessions, process waiters, clients).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// smallConfig is the machinery with a tiny, slow load: 5k unpipelined SETs
// from two clients, sampled every 20 ms so the window holds samples. No
// performance target is checked by the tests.
func smallConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.Requests, cfg.Clients, cfg.Keyspace, cfg.Pipeline = 5000, 2, 1000, 1
	cfg.SampleEvery = 20 * time.Millisecond
	cfg.LoadTimeout = time.Minute
	cfg.StartTimeout = 30 * time.Second
	cfg.CatchUpTimeout = 15 * time.Second // ACKs come once a second; -race is slow
	cfg.Warmup, cfg.MinSamples = 0, 2
	cfg.Clock = clock.New()
	cfg.Progress = testWriter{t}
	return cfg
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestRunSmallLoad runs the whole code path of `make bench-interop` with a
// tiny load and checks what it measured: both followers sampled and online
// throughout, lag computed, every SET applied, both caught up, digests equal.
func TestRunSmallLoad(t *testing.T) {
	cfg := smallConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	rep := res.Evaluate()
	md := res.Markdown(rep)
	t.Logf("report:\n%s", md)

	if len(res.Samples) == 0 {
		t.Fatalf("no periodic sample in a %v load window", res.LoadEnd.Sub(res.LoadStart))
	}
	if !res.LoadEnd.After(res.LoadStart) || res.BenchmarkRPS <= 0 {
		t.Errorf("load window %v..%v, benchmark %v SET/s", res.LoadStart, res.LoadEnd, res.BenchmarkRPS)
	}
	if res.End.Primary <= res.Start.Primary {
		t.Errorf("primary offset did not grow: %d -> %d", res.Start.Primary, res.End.Primary)
	}
	win := res.window()
	for i, f := range rep.Followers {
		if f.Lag.N != len(win) || f.OwnLag.N != len(win) || f.Offline != 0 {
			t.Errorf("%s: lag over %d (own %d) of %d samples, offline in %d", f.Name, f.Lag.N, f.OwnLag.N, len(win), f.Offline)
		}
		if f.Lag.NFirst == 0 || f.Lag.NSecond == 0 || f.Lag.Max < f.Lag.P50 || f.Lag.Max <= 0 {
			t.Errorf("%s: lag stats %+v", f.Name, f.Lag)
		}
		if f.AppliedTotal != uint64(cfg.Requests) {
			t.Errorf("%s applied %d SETs, want %d", f.Name, f.AppliedTotal, cfg.Requests)
		}
		if f.Rate <= 0 {
			t.Errorf("%s: apply rate %v", f.Name, f.Rate)
		}
		if f.CaughtUp < 0 {
			t.Errorf("%s did not acknowledge the final offset", f.Name)
		}
		if res.Digests[i] == "" || res.Digests[i] != res.DigestPrimary {
			t.Errorf("%s digest %q, primary %q", f.Name, res.Digests[i], res.DigestPrimary)
		}
		if !strings.Contains(md, "| "+f.Name+" |") {
			t.Errorf("report has no row for %s", f.Name)
		}
	}
	if res.DigestKeys == 0 || res.PrimarySyncs != 0 || res.OurSessions != 0 {
		t.Errorf("digest over %d keys; %d syncs and %d new sessions during the run", res.DigestKeys, res.PrimarySyncs, res.OurSessions)
	}
	if got := strings.Count(res.CSV(), "\n"); got != len(win)+1 {
		t.Errorf("CSV has %d lines, want %d", got, len(win)+1)
	}
}

// TestRunCancelledStopsEverything cancels a run in the middle of its load
// (as ctrl-C does) and checks that Run returns the cancellation and that
// none of the three servers answers any more.
func TestRunCancelledStopsEverything(t *testing.T) {
	cfg := smallConfig(t)
	cfg.Requests = 5_000_000 // far more than the test waits for
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg.Progress = &cancelOn{t: t, prefix: "load:", cancel: cancel}
	res, err := Run(ctx, cfg)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want context.Canceled", err)
	}
	if res.PrimaryAddr == "" || res.Ports[fReal] == 0 || res.Ports[fOurs] == 0 {
		t.Fatalf("servers not recorded: %q %v", res.PrimaryAddr, res.Ports)
	}
	addrs := []string{res.PrimaryAddr}
	for _, p := range res.Ports {
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(p))
	}
	for _, a := range addrs {
		if err := redisproc.Ping(a, time.Second); err == nil {
			t.Errorf("%s still answers PING after the run", a)
		}
	}
}

// cancelOn cancels when a progress line starts with prefix.
type cancelOn struct {
	t      *testing.T
	prefix string
	cancel context.CancelFunc
	once   sync.Once
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.t.Log(strings.TrimRight(string(p), "\n"))
	if bytes.HasPrefix(p, []byte(c.prefix)) {
		c.once.Do(c.cancel)
	}
	return len(p), nil
}

func TestParseReplicationInfo(t *testing.T) {
	text := "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n" +
		"slave0:ip=127.0.0.1,port=7001,state=online,offset=1234,lag=0\r\n" +
		"slave1:ip=127.0.0.1,port=7002,state=wait_bgsave,offset=0,lag=1\r\n" +
		"master_repl_offset:5678\r\n\r\n# Commandstats\r\n" +
		"cmdstat_set:calls=42,usec=10,usec_per_call=0.24,rejected_calls=0,failed_calls=0\r\n"
	info := parseInfo(text)
	if off, err := infoInt(info, "master_repl_offset"); err != nil || off != 5678 {
		t.Errorf("master_repl_offset = %d, %v", off, err)
	}
	if _, err := infoInt(info, "slave_repl_offset"); err == nil {
		t.Error("missing field read without error")
	}
	fs, err := followers(info)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]follower{7001: {7001, "online", 1234}, 7002: {7002, "wait_bgsave", 0}}
	if len(fs) != 2 || fs[7001] != want[7001] || fs[7002] != want[7002] {
		t.Errorf("followers = %+v, want %+v", fs, want)
	}
	if n, err := commandCalls(info, "set"); err != nil || n != 42 {
		t.Errorf("set calls = %d, %v", n, err)
	}
	if n, err := commandCalls(info, "get"); err != nil || n != 0 {
		t.Errorf("get calls = %d, %v (no line is 0 calls)", n, err)
	}
	if _, err := followers(parseInfo("slave0:ip=x,port=bad,offset=1")); err == nil {
		t.Error("bad port accepted")
	}
}

// synthetic builds a Result whose samples have follower lags given by
// lagAt(i, k) at sample k of n, 100 ms apart.
func synthetic(n int, rate [nFollowers]float64, lagAt func(i, k int) int64) *Result {
	cfg := DefaultConfig()
	cfg.Requests = 1000
	t0 := time.Unix(1000, 0)
	r := &Result{Config: cfg, LoadStart: t0, LoadEnd: t0.Add(time.Duration(n-1) * 100 * time.Millisecond),
		DigestPrimary: "d", Digests: [nFollowers]string{"d", "d"}}
	secs := r.LoadEnd.Sub(r.LoadStart).Seconds()
	for k := 0; k < n; k++ {
		s := sample{At: t0.Add(time.Duration(k) * 100 * time.Millisecond), Primary: int64(k) * 1000}
		for i := range nFollowers {
			s.Seen[i] = true
			s.Acked[i] = s.Primary - lagAt(i, k)
			s.Own[i] = s.Acked[i]
			s.Applied[i] = uint64(rate[i] * secs * float64(k) / float64(n-1))
		}
		switch k {
		case 0:
			r.Start = s
		case n - 1:
			r.End = s
		default:
			r.Samples = append(r.Samples, s)
		}
	}
	r.Final = r.End
	for i := range nFollowers {
		r.Final.Applied[i] = uint64(cfg.Requests)
	}
	return r
}

func TestEvaluateTargets(t *testing.T) {
	flat := func(i, k int) int64 { return 500_000 + int64(k%10)*100_000 } // a sawtooth
	t.Run("pass", func(t *testing.T) {
		r := synthetic(80, [nFollowers]float64{1000, 600}, flat)
		rep := r.Evaluate()
		if !rep.Pass {
			t.Fatalf("not pass: %s", r.Markdown(rep))
		}
		if got := rep.Followers[fOurs].Ratio; got < 0.59 || got > 0.61 {
			t.Errorf("ratio = %v, want 0.6", got)
		}
		if l := rep.Followers[fReal].Lag; l.P50 != 900_000 {
			t.Errorf("p50 = %d", l.P50)
		}
		if md := r.Markdown(rep); !strings.Contains(md, "Result: PASS") {
			t.Errorf("report:\n%s", md)
		}
	})
	t.Run("slow", func(t *testing.T) {
		r := synthetic(80, [nFollowers]float64{1000, 400}, flat)
		rep := r.Evaluate()
		if rep.Pass || len(rep.Followers[fOurs].Problems) != 1 || !strings.Contains(rep.Followers[fOurs].Problems[0], "apply rate") {
			t.Errorf("ours: %v", rep.Followers[fOurs].Problems)
		}
	})
	t.Run("growing lag", func(t *testing.T) {
		grow := func(i, k int) int64 {
			if i == fOurs {
				return int64(k) * 200_000
			}
			return flat(i, k)
		}
		r := synthetic(80, [nFollowers]float64{1000, 1000}, grow)
		rep := r.Evaluate()
		if rep.Pass || len(rep.Followers[fReal].Problems) != 0 || !strings.Contains(strings.Join(rep.Followers[fOurs].Problems, ";"), "lag grew") {
			t.Errorf("real %v, ours %v", rep.Followers[fReal].Problems, rep.Followers[fOurs].Problems)
		}
	})
	t.Run("short, lagging, diverged", func(t *testing.T) {
		r := synthetic(8, [nFollowers]float64{1000, 1000}, flat)
		r.CaughtUp = [nFollowers]time.Duration{-1, time.Second}
		r.Digests[fOurs] = "x"
		r.Final.Applied[fOurs] = 999
		r.PrimarySyncs = 1
		rep := r.Evaluate()
		all := strings.Join(append(rep.Followers[fReal].Problems, rep.Followers[fOurs].Problems...), ";")
		for _, want := range []string{"too few samples", "did not acknowledge", "digest differs", "applied 999 SETs"} {
			if !strings.Contains(all, want) {
				t.Errorf("problems %q lack %q", all, want)
			}
		}
		if rep.Pass || len(rep.Problems) != 1 {
			t.Errorf("pass %v, problems %v", rep.Pass, rep.Problems)
		}
	})
}

func TestLagHalvesSkipWarmup(t *testing.T) {
	// Lag 0 during a 1 s warm-up, then flat at 10: both halves mean 10.
	r := synthetic(51, [nFollowers]float64{1, 1}, func(i, k int) int64 {
		if k < 10 {
			return 0
		}
		return 10
	})
	st := lag(r.window(), fReal, false, r.LoadStart, r.LoadEnd, time.Second)
	if st.First != 10 || st.Second != 10 || st.NFirst+st.NSecond != 41 || st.N != 51 {
		t.Errorf("lag stats %+v", st)
	}
	if rank([]int64{1, 2, 3, 4}, 50) != 2 || rank([]int64{1, 2, 3, 4}, 99) != 4 || rank([]int64{7}, 90) != 7 {
		t.Error("rank")
	}
	if group(1234567) != "1,234,567" || group(-1000) != "-1,000" || group(12) != "12" {
		t.Error("group")
	}
}

func TestFlagsAndBadConfig(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-no-such-flag"}, &out, &errOut); code != 2 {
		t.Errorf("unknown flag: exit %d", code)
	}
	if code := run([]string{"extra"}, &out, &errOut); code != 2 {
		t.Errorf("extra argument: exit %d", code)
	}
	if code := run([]string{"-n", "0", "-q"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "requests 0") {
		t.Errorf("-n 0: exit %d, stderr %q", code, errOut.String())
	}
	if _, err := benchmark("10.1.2.3:6379", DefaultConfig()).Args(); !errors.Is(err, redisproc.ErrNotLoopback) {
		t.Errorf("non-loopback load address: %v", err)
	}
}
