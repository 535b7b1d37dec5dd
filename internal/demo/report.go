package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/replsm/replsm/internal/redisview"
	"github.com/replsm/replsm/redis/replica"
	"github.com/replsm/replsm/slot"
)

// statusLoop prints one line per StatusEvery with every shard's state and
// how far it is behind its primary. The returned func stops it.
func (c *cluster) statusLoop() func() {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := c.clk.Ticker(c.opts.StatusEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				c.printf("status %s", c.statusLine())
			}
		}
	}()
	return func() { close(done); <-stopped }
}

func (c *cluster) statusLine() string {
	var b strings.Builder
	for i, p := range c.primaries {
		id := slot.ID(i)
		st := c.slotStatus(id)
		rs, _ := c.replica.Stats(id)
		fmt.Fprintf(&b, "| %s %-10s lag=%-6d rec=%d full=%d ", id, st.State, p.Offset()-rs.Cursor.Offset, st.Stats.Recoveries, rs.FullSyncs)
		if st.State == slot.Error {
			fmt.Fprintf(&b, "left=%d/%d ", st.AttemptsLeft, st.Cap)
		}
	}
	return b.String() + "|"
}

// converge waits, with the load stopped, until every shard is Connected and
// has applied exactly what its primary wrote.
func (c *cluster) converge(ctx context.Context) error {
	c.printf("== load stopped after %d writes; waiting for every shard to catch up", c.load.writes.Load())
	return c.waitFor(ctx, "every shard caught up", func() (bool, string) {
		for i, p := range c.primaries {
			rs, err := c.replica.Stats(slot.ID(i))
			if err != nil || rs.State != slot.Connected || rs.Cursor.Offset != p.Offset() || rs.Cursor.ReplID != p.ReplID() {
				return false, fmt.Sprintf("shard %d %s at %d of %d", i, rs.State, rs.Cursor.Offset, p.Offset())
			}
		}
		return true, ""
	})
}

// summarize compares each shard with its primary: state, counters, offsets
// and the client-side digest of both, read the same way (SCAN/TYPE/reads).
func (c *cluster) summarize(ctx context.Context) Summary {
	sum := Summary{Elapsed: c.clk.Since(c.start), OK: true}
	if c.load != nil {
		sum.Writes = c.load.writes.Load()
	}
	for i, p := range c.primaries {
		id := slot.ID(i)
		st := c.slotStatus(id)
		rs, po := c.settledStats(ctx, id, p.Offset)
		s := ShardSummary{
			ID: id, Endpoint: p.Addr(), State: st.State, Transitions: st.Stats.Transitions,
			Recoveries: st.Stats.Recoveries, FullSyncs: rs.FullSyncs, PartialSyncs: rs.PartialSyncs,
			Exhaustions: st.Stats.Exhaustions, PrimaryOffset: po, ReplicaOffset: rs.Cursor.Offset, Keys: rs.Keys,
		}
		s.DigestMatch, s.Detail = c.compare(ctx, p.Addr(), id)
		if !s.DigestMatch || s.State != slot.Connected {
			sum.OK = false
		}
		sum.Shards = append(sum.Shards, s)
	}
	return sum
}

// settledStats reads a shard's stats once its offset has caught up with
// the primary's: the primary keeps sending pings after the load stops, so a
// single read can fall between a ping and its apply. It gives up after a few
// seconds and returns the last read.
func (c *cluster) settledStats(ctx context.Context, id slot.ID, primaryOffset func() int64) (replica.ShardStats, int64) {
	tick := c.clk.Ticker(20 * time.Millisecond)
	defer tick.Stop()
	po := primaryOffset()
	rs, _ := c.replica.Stats(id)
	for i := 0; i < 250 && rs.Cursor.Offset != po; i++ {
		select {
		case <-ctx.Done():
			return rs, po
		case <-tick.C:
		}
		po = primaryOffset()
		rs, _ = c.replica.Stats(id)
	}
	return rs, po
}

func (c *cluster) compare(ctx context.Context, primaryAddr string, id slot.ID) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	pc := redis.NewClient(redisview.ClientOptions(primaryAddr, 0))
	defer pc.Close()
	ropts := redisview.ClientOptions(c.replica.Addr(), 0)
	ropts.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		return cn.Do(ctx, "REPLSM.SHARD", int(id)).Err()
	}
	rc := redis.NewClient(ropts)
	defer rc.Close()
	equal, want, got, err := redisview.Compare(ctx, pc, rc, demoDBs)
	if err != nil {
		return false, err.Error()
	}
	if !equal {
		return false, strings.Join(want.Diff(got, 5), "; ")
	}
	return true, want.Digest[:12]
}

func (c *cluster) printSummary(s Summary) {
	var b strings.Builder
	fmt.Fprintf(&b, "\n== summary after %.1fs, %d writes\n", s.Elapsed.Seconds(), s.Writes)
	fmt.Fprintf(&b, "%-7s %-10s %11s %10s %9s %8s %9s %10s %10s  %s\n",
		"shard", "state", "transitions", "recoveries", "fullsyncs", "resumes", "exhausted", "offset", "keys", "digest")
	for _, sh := range s.Shards {
		match := "MISMATCH " + sh.Detail
		if sh.DigestMatch {
			match = "equal " + sh.Detail
		}
		fmt.Fprintf(&b, "%-7s %-10s %11d %10d %9d %8d %9d %10d %10d  %s\n",
			sh.ID, sh.State, sh.Transitions, sh.Recoveries, sh.FullSyncs, sh.PartialSyncs, sh.Exhaustions, sh.ReplicaOffset, sh.Keys, match)
	}
	if s.OK {
		b.WriteString("RESULT: every shard converged and every digest matches\n")
	} else {
		b.WriteString("RESULT: FAILED\n")
	}
	c.out.printf("%s", b.String())
}
