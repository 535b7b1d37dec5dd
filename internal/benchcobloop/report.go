package main

import (
	"fmt"
	"strings"
	"time"
)

// Markdown renders the run as a header and one table, a row per follower.
func (r Result) Markdown() string {
	c := r.Config
	var b strings.Builder
	fmt.Fprintf(&b, "## Full-sync loop: %d sorted sets of %d members + %d strings of %d B (%d keys), client-output-buffer-limit replica %s, %d SET/s of %d B for %s\n\n",
		c.ZSets, c.ZMembers, c.Strings, c.StringSize, r.Keys, c.Limit, c.Rate, c.ValueSize, c.LoadFor)
	fmt.Fprintf(&b, "redis-server %s, %s; filled in %s\n\n", r.RedisVersion, r.Machine, r.PopulateTook.Round(time.Second))
	b.WriteString("| follower | full syncs | dropped for its buffer | peak output buffer | link first up | caught up after the load | peak RSS | digest |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, f := range r.Followers {
		up := "never during the load"
		if f.FirstUp >= 0 {
			up = f.FirstUp.Round(100 * time.Millisecond).String()
		}
		caught := fmt.Sprintf("not within %s", c.SettleTimeout)
		if f.CaughtUp {
			caught = f.CaughtUpAfter.Round(100 * time.Millisecond).String()
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %s | %s | %s | %s |\n",
			f.Name, f.FullSyncs, f.Drops, mb(f.PeakBuffer), up, caught, mb(f.PeakRSS), f.Digest)
	}
	ranReplsm := false
	for _, f := range r.Followers {
		ranReplsm = ranReplsm || f.Name == followerReplsm
	}
	if !ranReplsm {
		b.WriteString("\nNo replsm follower in this run: no target to check.\n")
	} else if missed := r.Missed(); len(missed) > 0 {
		b.WriteString("\nTargets missed: " + strings.Join(missed, "; ") + "\n")
	} else {
		b.WriteString("\nTarget met: replsm completed with one full sync, its output buffer below the soft limit.\n")
	}
	return b.String()
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }
