package replsmtest

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// SeedFailure is one seed whose history broke an invariant.
type SeedFailure struct {
	Seed    uint64
	Message string // the violations and the minimized history as a scenario script
}

// Result is what RunSeeds found.
type Result struct {
	Seeds    int
	Failures []SeedFailure
	Elapsed  time.Duration
}

// PerMinute is the throughput in seeds per minute.
func (r Result) PerMinute() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Seeds) / r.Elapsed.Minutes()
}

// Summary is the one line `make explore` ends with.
func (r Result) Summary() string {
	line := fmt.Sprintf("explore: %d seeds, %d failures, %.0f seeds/min", r.Seeds, len(r.Failures), r.PerMinute())
	if len(r.Failures) > 0 {
		seeds := make([]string, len(r.Failures))
		for i, f := range r.Failures {
			seeds[i] = strconv.FormatUint(f.Seed, 10)
		}
		line += " (failing seeds: " + strings.Join(seeds, " ") + ")"
	}
	return line
}

// rapidFlags serializes RunSeeds: rapid reads its seed and check count from
// the process's command-line flags.
var rapidFlags sync.Mutex

// RunSeeds runs n histories of prop, seeds base, base+1, ...: each its own
// rapid check, so every failing seed is found, shrunk and reported on its
// own, and `-rapid.seed=S` (or RunSeeds(S, 1, ...)) replays it. It must not
// run in parallel with other rapid checks of the process.
func RunSeeds(base uint64, n int, prop func(*rapid.T)) Result { return runSeeds(base, n, prop, false) }

// FirstFailure runs seeds base, base+1, ... up to n of them and stops at
// the first that fails.
func FirstFailure(base uint64, n int, prop func(*rapid.T)) (SeedFailure, bool) {
	res := runSeeds(base, n, prop, true)
	if len(res.Failures) == 0 {
		return SeedFailure{}, false
	}
	return res.Failures[0], true
}

func runSeeds(base uint64, n int, prop func(*rapid.T), stop bool) Result {
	rapidFlags.Lock()
	defer rapidFlags.Unlock()
	testing.Init() // rapid reads testing's flags (-short); a no-op in tests
	restore := setFlags(map[string]string{"rapid.checks": "1", "rapid.nofailfile": "true"})
	defer restore()
	res := Result{Seeds: n}
	start := time.Now()
	for i := 0; i < n; i++ {
		seed := base + uint64(i)
		_ = flag.Set("rapid.seed", strconv.FormatUint(seed, 10))
		c := &capture{name: "explore"}
		rapid.Check(c, prop)
		if c.failed {
			res.Failures = append(res.Failures, SeedFailure{Seed: seed, Message: render(seed, c.msg.String())})
			if stop {
				res.Seeds = i + 1
				break
			}
		}
	}
	res.Elapsed = time.Since(start)
	_ = flag.Set("rapid.seed", "0")
	return res
}

func setFlags(kv map[string]string) func() {
	old := map[string]string{}
	for k, v := range kv {
		if f := flag.Lookup(k); f != nil {
			old[k] = f.Value.String()
			_ = flag.Set(k, v)
		}
	}
	return func() {
		for k, v := range old {
			_ = flag.Set(k, v)
		}
	}
}

// capture is a rapid.TB that keeps what a failed check says.
type capture struct {
	name   string
	failed bool
	msg    strings.Builder
}

func (c *capture) Helper()                           {}
func (c *capture) Name() string                      { return c.name }
func (c *capture) Logf(string, ...any)               {}
func (c *capture) Log(...any)                        {}
func (c *capture) Skipf(format string, args ...any)  {}
func (c *capture) Skip(...any)                       {}
func (c *capture) SkipNow()                          {}
func (c *capture) Error(args ...any)                 { c.Errorf("%s", fmt.Sprint(args...)) }
func (c *capture) Fatal(args ...any)                 { c.Errorf("%s", fmt.Sprint(args...)) }
func (c *capture) Fatalf(format string, args ...any) { c.Errorf(format, args...) }
func (c *capture) FailNow()                          { c.failed = true }
func (c *capture) Fail()                             { c.failed = true }
func (c *capture) Failed() bool                      { return c.failed }
func (c *capture) Errorf(format string, args ...any) {
	c.failed = true
	fmt.Fprintf(&c.msg, format, args...)
	c.msg.WriteByte('\n')
}

// Explore runs n seeded histories against the driver opts.Wrap builds (the
// scripted peer alone when nil) and fails t with each failing seed, its
// violations and its minimized history.
func Explore(t testing.TB, base uint64, n int, opts Options) Result {
	t.Helper()
	res := RunSeeds(base, n, Property(opts))
	for _, f := range res.Failures {
		t.Errorf("seed %d:\n%s", f.Seed, f.Message)
	}
	t.Log(res.Summary())
	return res
}

// render turns a failure message (violations, the history's commands, and
// rapid's reproduction hint) into the violations and the history as a
// scenario file with its output.
func render(seed uint64, msg string) string {
	i := strings.Index(msg, historyMark)
	if i < 0 {
		return msg
	}
	head, rest := msg[:i], msg[i+len(historyMark):]
	plain, tail := rest, ""
	if j := strings.Index(rest, "\nTo reproduce"); j >= 0 {
		plain, tail = rest[:j], rest[j+1:]
		if k := strings.Index(tail, "\n"); k >= 0 {
			tail = tail[:k]
		}
	}
	head = strings.TrimPrefix(head, "[rapid] ")
	hdr := fmt.Sprintf("explore seed %d: %s", seed, strings.TrimSpace(head))
	return strings.TrimSpace(head) + "\n" + RenderScript(plain+"\n", hdr) + tail + "\n"
}
