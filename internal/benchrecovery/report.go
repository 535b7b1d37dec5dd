package main

import (
	"fmt"
	"strings"
	"time"
)

// Missed lists the targets replsm's figures miss (empty: all met).
func (r Result) Missed() []string {
	var out []string
	for i, sc := range r.Scenarios {
		back := sc.Back[fOurs]
		if back < 0 || back > r.Config.MaxBack {
			out = append(out, fmt.Sprintf("%s: replsm back %s after the primary was ready, want <= %s", sc.Name, fmtBack(back), r.Config.MaxBack))
		}
		switch i {
		case 0:
			if sc.Handshakes[fOurs] > r.Config.MaxHandshakes {
				out = append(out, fmt.Sprintf("%s: replsm made %d sync handshakes, want <= %d", sc.Name, sc.Handshakes[fOurs], r.Config.MaxHandshakes))
			}
		case 1:
			if sc.Exhausted > 0 {
				out = append(out, fmt.Sprintf("%s: replsm exhausted its retries (%d reports), want never", sc.Name, sc.Exhausted))
			}
			if !sc.SawLoading {
				out = append(out, fmt.Sprintf("%s: the primary was never seen answering -LOADING: the scenario did not happen", sc.Name))
			}
		}
	}
	return out
}

// Markdown renders the run as one table and the targets.
func (r Result) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Recovery after the primary was away (make bench-recovery)\n\n")
	fmt.Fprintf(&b, "redis-server %s primary on loopback; followers: `replsm replica` (default config) and `redis-server --replicaof`; %s.\n\n", orDash(r.RedisVersion), r.Machine)
	fmt.Fprintf(&b, "| scenario | follower | sync handshakes while away | back after the primary is ready | exhausted |\n")
	fmt.Fprintf(&b, "|---|---|---:|---:|---|\n")
	for _, sc := range r.Scenarios {
		for f := range nFollowers {
			hs := fmt.Sprint(sc.Handshakes[f])
			ex := "—"
			if f == fOurs {
				ex = "no"
				if sc.Exhausted > 0 {
					ex = fmt.Sprintf("yes (%d report)", sc.Exhausted)
				}
				if sc.Busy > 0 {
					hs += fmt.Sprintf(" (%d busy)", sc.Busy)
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", sc.Name, followerNames[f], hs, fmtBack(sc.Back[f]), ex)
		}
	}
	fmt.Fprintf(&b, "\n\"Ready\": answering PING again after the outage; the load's end (first PONG) after the restart. ")
	fmt.Fprintf(&b, "Handshakes: replsm's send_try_sync/send_db_sync records, redis-server's \"Connecting to MASTER\" lines, while the primary was down or loading.\n\n")
	missed := r.Missed()
	fmt.Fprintf(&b, "Targets: after the outage replsm back <= %s with <= %d handshakes; after the -LOADING restart back <= %s, never exhausted: ",
		r.Config.MaxBack, r.Config.MaxHandshakes, r.Config.MaxBack)
	if len(missed) == 0 {
		fmt.Fprintf(&b, "**met**.\n")
	} else {
		fmt.Fprintf(&b, "**missed**:\n")
		for _, m := range missed {
			fmt.Fprintf(&b, "- %s\n", m)
		}
	}
	return b.String()
}

func fmtBack(d time.Duration) string {
	if d < 0 {
		return "not back"
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func orDash(s string) string {
	if s == "" {
		return "?"
	}
	return s
}
