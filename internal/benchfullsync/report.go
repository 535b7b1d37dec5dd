package main

import (
	"fmt"
	"strings"
	"time"
)

func (r *Result) ratios() (sync, rss, rate float64) {
	sync = ratio(r.Sync[fOurs].Seconds(), r.Sync[fReal].Seconds())
	rss = ratio(float64(r.RSS[fOurs]), float64(r.RSS[fReal]))
	// A rate is bytes per second: ours / theirs = their time / ours.
	rate = ratio(r.CatchUp[fReal].Seconds(), r.CatchUp[fOurs].Seconds())
	return
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// Pass reports whether every target is met and the digests agree.
func (r *Result) Pass() bool {
	s, m, c := r.ratios()
	return s > 0 && s <= maxSyncRatio && m > 0 && m <= maxRSSRatio && c >= minRateRatio && (!r.DigestChecked || r.DigestEqual)
}

// Markdown is the run's one table.
func (r *Result) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "benchfullsync: redis %s primary, %d keys (DEBUG POPULATE %d + collections), backlog %d SETs (%.1f MB); %s\n\n",
		r.RedisVersion, r.Keys, r.Config.Keys, r.Config.Backlog, float64(r.BacklogBytes)/1e6, r.Machine)
	fmt.Fprintf(&b, "| follower | full sync (start → link up) | RSS after sync | catch-up of the backlog |\n|---|---:|---:|---:|\n")
	for f := range nFollowers {
		fmt.Fprintf(&b, "| %s | %s | %.0f MB | %s |\n", followerNames[f], dur(r.Sync[f]), float64(r.RSS[f])/1e6, dur(r.CatchUp[f]))
	}
	s, m, c := r.ratios()
	fmt.Fprintf(&b, "| **ratio** replsm / redis-server | **%.2f×** (target ≤ %.1f×) | **%.2f×** (target ≤ %.1f×) | apply rate **%.2f×** (target ≥ %.1f×) |\n\n",
		s, maxSyncRatio, m, maxRSSRatio, c, minRateRatio)
	switch {
	case !r.DigestChecked:
		b.WriteString("digests: not compared\n")
	case r.DigestEqual:
		fmt.Fprintf(&b, "digests: equal (%s)\n", r.DigestNote)
	default:
		fmt.Fprintf(&b, "digests: DIFFER (%s)\n", r.DigestNote)
	}
	verdict := "all targets met"
	if !r.Pass() {
		verdict = "a target is missed"
	}
	fmt.Fprintf(&b, "verdict: %s\n", verdict)
	return b.String()
}

func dur(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}
