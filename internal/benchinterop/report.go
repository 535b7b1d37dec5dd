package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/replsm/replsm/internal/benchkit"
)

// lagStats summarise one follower's lag over the load window.
type lagStats struct {
	N                  int     // samples with the follower online
	P50, P90, P99, Max int64   // bytes, over the whole window
	First, Second      float64 // means over the two halves of the window after the warm-up
	NFirst, NSecond    int
}

// FollowerReport is one row of the table.
type FollowerReport struct {
	Name          string
	Rate          float64 // SETs applied per second over the load window
	Ratio         float64 // Rate / the real replica's Rate
	AppliedWindow uint64  // SETs applied during the load window
	AppliedTotal  uint64  // SETs applied from the load start to after catch-up
	Lag           lagStats
	OwnLag        lagStats // primary offset - the follower's own offset
	Offline       int      // samples in which the primary did not list it online
	CaughtUp      time.Duration
	Problems      []string
}

// Report is the evaluation of a Result against its targets.
type Report struct {
	Followers [nFollowers]FollowerReport
	Problems  []string // not tied to one follower
	Pass      bool
}

// window returns the samples of the load window: start, periodic, end.
func (r *Result) window() []sample {
	out := make([]sample, 0, len(r.Samples)+2)
	out = append(out, r.Start)
	for _, s := range r.Samples {
		if !s.At.Before(r.LoadStart) && !s.At.After(r.LoadEnd) {
			out = append(out, s)
		}
	}
	return append(out, r.End)
}

// lag computes follower i's lag statistics over ss, whose halves are
// taken after the warm-up; own selects the follower's own offset instead of
// the acknowledged one.
func lag(ss []sample, i int, own bool, start, end time.Time, warmup time.Duration) lagStats {
	from := start.Add(warmup)
	mid := from.Add(end.Sub(from) / 2)
	var all []int64
	var st lagStats
	var sum1, sum2 float64
	for _, s := range ss {
		if !s.Seen[i] {
			continue
		}
		off := s.Acked[i]
		if own {
			off = s.Own[i]
		}
		l := max(s.Primary-off, 0)
		all = append(all, l)
		switch {
		case s.At.Before(from):
		case s.At.Before(mid):
			sum1 += float64(l)
			st.NFirst++
		default:
			sum2 += float64(l)
			st.NSecond++
		}
	}
	st.N = len(all)
	if st.N == 0 {
		return st
	}
	slices.Sort(all)
	st.P50, st.P90, st.P99, st.Max = rank(all, 50), rank(all, 90), rank(all, 99), all[len(all)-1]
	if st.NFirst > 0 {
		st.First = sum1 / float64(st.NFirst)
	}
	if st.NSecond > 0 {
		st.Second = sum2 / float64(st.NSecond)
	}
	return st
}

// rank is the nearest-rank p-th percentile of sorted v (len(v) > 0).
func rank(v []int64, p float64) int64 {
	i := int(math.Ceil(p/100*float64(len(v)))) - 1
	return v[min(max(i, 0), len(v)-1)]
}

// Evaluate computes the table and checks the targets.
func (r *Result) Evaluate() Report {
	cfg := r.Config
	var rep Report
	win := r.window()
	secs := r.LoadEnd.Sub(r.LoadStart).Seconds()
	for i := range nFollowers {
		f := &rep.Followers[i]
		f.Name = followerNames[i]
		f.AppliedWindow = r.End.Applied[i] - r.Start.Applied[i]
		f.AppliedTotal = r.Final.Applied[i] - r.Start.Applied[i]
		if secs > 0 {
			f.Rate = float64(f.AppliedWindow) / secs
		}
		f.Lag = lag(win, i, false, r.LoadStart, r.LoadEnd, cfg.Warmup)
		f.OwnLag = lag(win, i, true, r.LoadStart, r.LoadEnd, cfg.Warmup)
		f.Offline = len(win) - f.Lag.N
		f.CaughtUp = r.CaughtUp[i]

		if n := f.Lag.NFirst + f.Lag.NSecond; n < cfg.MinSamples || f.Lag.NFirst == 0 || f.Lag.NSecond == 0 {
			f.Problems = append(f.Problems, fmt.Sprintf("too few samples after the %v warm-up to judge the lag (%d, need %d): make the load longer",
				cfg.Warmup, n, cfg.MinSamples))
		} else if bound := cfg.LagGrowth*f.Lag.First + float64(cfg.LagSlack); f.Lag.Second > bound {
			f.Problems = append(f.Problems, fmt.Sprintf("lag grew: second-half mean %s > %.3g x %s + %s",
				group(int64(f.Lag.Second)), cfg.LagGrowth, group(int64(f.Lag.First)), group(cfg.LagSlack)))
		}
		if f.Offline > 0 {
			f.Problems = append(f.Problems, fmt.Sprintf("not listed online by the primary in %d samples", f.Offline))
		}
		if f.CaughtUp < 0 {
			f.Problems = append(f.Problems, fmt.Sprintf("did not acknowledge the final offset within %v", cfg.CatchUpTimeout))
		}
		if f.AppliedTotal != uint64(cfg.Requests) {
			f.Problems = append(f.Problems, fmt.Sprintf("applied %d SETs, want %d", f.AppliedTotal, cfg.Requests))
		}
		if r.Digests[i] == "" || r.Digests[i] != r.DigestPrimary {
			f.Problems = append(f.Problems, "digest differs from the primary's")
		}
	}
	if theirs := rep.Followers[fReal].Rate; theirs > 0 {
		for i := range nFollowers {
			rep.Followers[i].Ratio = rep.Followers[i].Rate / theirs
		}
	}
	if o := &rep.Followers[fOurs]; o.Ratio < cfg.MinRatio {
		o.Problems = append(o.Problems, fmt.Sprintf("apply rate %.2fx the real replica's < %.2fx", o.Ratio, cfg.MinRatio))
	}
	if r.OurSessions > 0 {
		o := &rep.Followers[fOurs]
		o.Problems = append(o.Problems, fmt.Sprintf("reconnected %d times", r.OurSessions))
	}
	if r.PrimarySyncs > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the primary served %d syncs during the run (a link dropped)", r.PrimarySyncs))
	}
	if r.DigestPrimary == "" {
		rep.Problems = append(rep.Problems, "no digest of the primary")
	}
	rep.Pass = len(rep.Problems) == 0
	for _, f := range rep.Followers {
		rep.Pass = rep.Pass && len(f.Problems) == 0
	}
	return rep
}

// Markdown renders the run's parameters, the table and the verdict.
func (r *Result) Markdown(rep Report) string {
	cfg := r.Config
	var b strings.Builder
	dur := r.LoadEnd.Sub(r.LoadStart)
	grew := r.End.Primary - r.Start.Primary
	args, _ := benchmark(r.PrimaryAddr, cfg).Args()
	fmt.Fprintf(&b, "### bench-interop: redis-benchmark SET load on one primary, two followers\n\n")
	fmt.Fprintf(&b, "- load: `redis-benchmark %s` against a real redis-server %s primary; followers: a real `redis-server --replicaof` and replsm's redis/replica (one shard, in-process)\n",
		strings.Join(args, " "), r.RedisVersion)
	fmt.Fprintf(&b, "- load window %.2f s; redis-benchmark reported %s SET/s; the primary's offset grew %s bytes (%s B/s)\n",
		dur.Seconds(), group(int64(r.BenchmarkRPS)), group(grew), group(int64(float64(grew)/max(dur.Seconds(), 1e-9))))
	fmt.Fprintf(&b, "- sampled every %v: %d samples in the window (+ start and end), %d sample errors; %s\n",
		cfg.SampleEvery, len(r.Samples), r.SampleErrs, benchkit.Machine())
	fmt.Fprintf(&b, "- targets: our apply rate >= %.2fx the real replica's; lag bounded (after a %v warm-up, second-half mean <= %.3gx first-half mean + %s B, >= %d samples); both acknowledge the final offset within %v; digests equal\n\n",
		cfg.MinRatio, cfg.Warmup, cfg.LagGrowth, group(cfg.LagSlack), cfg.MinSamples, cfg.CatchUpTimeout)

	b.WriteString("| follower | applied ops/s | ratio vs real | lag p50 / p90 / p99 / max (bytes) | lag first half vs second half (mean, after warm-up) | verdict |\n")
	b.WriteString("|---|---:|---:|---|---|---|\n")
	for _, f := range rep.Followers {
		verdict := "ok"
		if len(f.Problems) > 0 {
			verdict = "FAIL: " + strings.Join(f.Problems, "; ")
		}
		fmt.Fprintf(&b, "| %s | %s | %.2f | %s / %s / %s / %s | %s vs %s | %s |\n", f.Name,
			group(int64(f.Rate)), f.Ratio, group(f.Lag.P50), group(f.Lag.P90), group(f.Lag.P99), group(f.Lag.Max),
			group(int64(f.Lag.First)), group(int64(f.Lag.Second)), verdict)
	}
	b.WriteString("\nLag = the primary's master_repl_offset - the offset the follower last acknowledged (offset= of its slaveN line in the primary's INFO replication). Both followers ACK once a second, so up to a second of stream shows as lag; the own-offset lag below (slave_repl_offset / Stats().Cursor.Offset, read just before the primary) has no such delay.\n\n")
	b.WriteString("| follower | SETs applied (window / total) | own-offset lag p50 / p90 / p99 / max (bytes) | acknowledged the final offset after | digest (db 0) |\n")
	b.WriteString("|---|---:|---|---:|---|\n")
	for i, f := range rep.Followers {
		caught := "not within " + cfg.CatchUpTimeout.String()
		if f.CaughtUp >= 0 {
			caught = fmt.Sprintf("%.2f s", f.CaughtUp.Seconds())
		}
		dg := short(r.Digests[i])
		if r.Digests[i] != "" && r.Digests[i] == r.DigestPrimary {
			dg += " = primary"
		} else {
			dg += " != primary " + short(r.DigestPrimary)
		}
		fmt.Fprintf(&b, "| %s | %s / %s | %s / %s / %s / %s | %s | %s |\n", f.Name,
			group(int64(f.AppliedWindow)), group(int64(f.AppliedTotal)),
			group(f.OwnLag.P50), group(f.OwnLag.P90), group(f.OwnLag.P99), group(f.OwnLag.Max), caught, dg)
	}
	fmt.Fprintf(&b, "\nPrimary digest %s over %s keys.", short(r.DigestPrimary), group(int64(r.DigestKeys)))
	if r.LastErr != nil {
		fmt.Fprintf(&b, " Last sample error: %v.", r.LastErr)
	}
	b.WriteString("\n\n")
	if rep.Pass {
		b.WriteString("Result: PASS\n")
	} else {
		var all []string
		all = append(all, rep.Problems...)
		for _, f := range rep.Followers {
			for _, p := range f.Problems {
				all = append(all, f.Name+": "+p)
			}
		}
		b.WriteString("Result: FAIL (" + strings.Join(all, "; ") + ")\n")
	}
	return b.String()
}

// CSV renders the window's samples, one line each: milliseconds since the
// load start, the primary offset, then per follower the acknowledged lag,
// the own-offset lag and the SETs applied since the load start (-1 lags
// when the primary did not list it online).
func (r *Result) CSV() string {
	var b strings.Builder
	b.WriteString("ms,primary_offset,real_lag,real_own_lag,real_applied,ours_lag,ours_own_lag,ours_applied\n")
	for _, s := range r.window() {
		fmt.Fprintf(&b, "%d,%d", s.At.Sub(r.LoadStart).Milliseconds(), s.Primary)
		for i := range nFollowers {
			l, ol := int64(-1), int64(-1)
			if s.Seen[i] {
				l, ol = s.Primary-s.Acked[i], s.Primary-s.Own[i]
			}
			fmt.Fprintf(&b, ",%d,%d,%d", l, ol, s.Applied[i]-r.Start.Applied[i])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func short(d string) string {
	if d == "" {
		return "(none)"
	}
	return d[:min(12, len(d))]
}

// group renders n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
