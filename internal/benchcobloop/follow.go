package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/replsm/replsm/internal/redisview"
)

// dropLine is what a Redis 7.0 primary logs when it closes a client over
// its output buffer limit.
const dropLine = "scheduled to be closed ASAP for overcoming of output buffer limits"

// fillBatch is how many keys or members one filling EVAL writes.
const fillBatch = 50_000

// Server-side fill: one EVAL writes a batch without a round trip per key.
const (
	zaddScript = `local from, n = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = from, from + n - 1, 500 do
  local args = {}
  for j = i, math.min(i + 499, from + n - 1) do
    args[#args + 1] = j * 1.5
    args[#args + 1] = 'member:' .. j
  end
  redis.call('ZADD', KEYS[1], unpack(args))
end
return n`
	setScript = `local from, n, v = tonumber(ARGV[1]), tonumber(ARGV[2]), string.rep('s', tonumber(ARGV[3]))
for i = from, from + n - 1 do redis.call('SET', 'str:' .. i, v) end
return n`
)

// populate writes the dataset: ZSets sorted sets "zset:<i>" of ZMembers
// members and Strings strings "str:<i>".
func populate(ctx context.Context, c *redis.Client, cfg Config) error {
	for z := 0; z < cfg.ZSets; z++ {
		for from := 0; from < cfg.ZMembers; from += fillBatch {
			n := min(fillBatch, cfg.ZMembers-from)
			if err := c.Eval(ctx, zaddScript, []string{"zset:" + strconv.Itoa(z)}, from, n).Err(); err != nil {
				return fmt.Errorf("fill zset:%d: %w", z, err)
			}
		}
	}
	for from := 0; from < cfg.Strings; from += fillBatch {
		n := min(fillBatch, cfg.Strings-from)
		if err := c.Eval(ctx, setScript, nil, from, n, cfg.StringSize).Err(); err != nil {
			return fmt.Errorf("fill strings: %w", err)
		}
	}
	return nil
}

// follow runs one follower: start it, load the primary for LoadFor while
// sampling, wait for it to catch up, compare digests, stop it.
func (h *harness) follow(ctx context.Context, name string) (f Follower, err error) {
	cfg := h.cfg
	f = Follower{Name: name, FirstUp: -1, Digest: "not compared"}
	full0, err := h.infoInt(ctx, "stats", "sync_full")
	if err != nil {
		return f, err
	}
	drops0, err := h.drops()
	if err != nil {
		return f, err
	}
	h.progress("%s: starting, then %d SET/s of %d bytes for %s", name, cfg.Rate, cfg.ValueSize, cfg.LoadFor)
	started := time.Now()
	fl, err := h.start(ctx, name)
	if err != nil {
		return f, err
	}
	defer func() { err = errors.Join(err, fl.stop()) }()
	fc := newClient(fl.addr)
	defer fc.Close()

	sample := func() {
		if bufs, err := redisview.ReplicaOutputBuffers(ctx, h.pc); err == nil {
			for _, b := range bufs {
				f.PeakBuffer = max(f.PeakBuffer, b)
			}
		}
		f.PeakRSS = max(f.PeakRSS, fl.rss())
		if f.FirstUp < 0 && linkUp(ctx, fc) {
			f.FirstUp = time.Since(started)
			h.progress("%s: link up after %s", name, f.FirstUp.Round(time.Millisecond))
		}
	}
	type loadEnd struct {
		writes int
		err    error
	}
	done := make(chan loadEnd, 1)
	go func() {
		n, err := writeLoad(ctx, h.pc, cfg, time.Now().Add(cfg.LoadFor))
		done <- loadEnd{n, err}
	}()
	tick := time.NewTicker(cfg.SampleEvery)
	defer tick.Stop()
	var end loadEnd
sampling:
	for {
		select {
		case end = <-done:
			break sampling
		case <-tick.C:
			sample()
		}
	}
	if end.err != nil {
		return f, fmt.Errorf("write load: %w", end.err)
	}
	f.Writes = end.writes
	h.progress("%s: %d writes done; waiting up to %s for it to catch up", name, f.Writes, cfg.SettleTimeout)

	loadEnded := time.Now()
	deadline := time.NewTimer(cfg.SettleTimeout)
	defer deadline.Stop()
settle:
	for {
		sample()
		if h.caughtUp(ctx, fc) {
			f.CaughtUp, f.CaughtUpAfter = true, time.Since(loadEnded)
			break
		}
		select {
		case <-ctx.Done():
			return f, ctx.Err()
		case <-deadline.C:
			break settle
		case <-tick.C:
		}
	}
	full1, err := h.infoInt(ctx, "stats", "sync_full")
	if err != nil {
		return f, err
	}
	drops1, err := h.drops()
	if err != nil {
		return f, err
	}
	f.FullSyncs, f.Drops = full1-full0, drops1-drops0
	if cfg.Digest && f.CaughtUp {
		h.progress("%s: comparing digests", name)
		equal, _, _, err := redisview.Compare(ctx, h.pc, fc, []int{0})
		switch {
		case err != nil:
			f.Digest = "error: " + err.Error()
		case equal:
			f.Digest = "equal"
		default:
			f.Digest = "DIFFERENT"
		}
	}
	h.progress("%s: %d full syncs, %d drops, peak output buffer %d bytes, peak RSS %d MB, digest %s",
		name, f.FullSyncs, f.Drops, f.PeakBuffer, f.PeakRSS>>20, f.Digest)
	return f, nil
}

// writeLoad sends cfg.Rate SETs a second (paced every 10 ms, pipelined)
// until until, and returns how many it sent. (The end is a time, not a
// context deadline: a socket deadline taken from it would fail the last
// pipeline.)
func writeLoad(ctx context.Context, c *redis.Client, cfg Config, until time.Time) (int, error) {
	pad := strings.Repeat("x", cfg.ValueSize)
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	for {
		select {
		case <-ctx.Done():
			return sent, ctx.Err()
		case <-tick.C:
		}
		if !time.Now().Before(until) {
			return sent, nil
		}
		// Behind after a stall: catch up, but in bounded pipelines.
		due := min(int(time.Since(start).Seconds()*float64(cfg.Rate)), sent+cfg.Rate)
		if due <= sent {
			continue
		}
		pipe := c.Pipeline()
		for i := sent; i < due; i++ {
			v := strconv.Itoa(i) + ":"
			pipe.Set(ctx, "load:"+strconv.Itoa(i%cfg.Keyspace), v+pad[len(v):], 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return sent, err
		}
		sent = due
	}
}

// linkUp reports a follower's master_link_status:up.
func linkUp(ctx context.Context, c *redis.Client) bool {
	text, err := c.Info(ctx, "replication").Result()
	return err == nil && fieldOf(text, "master_link_status") == "up"
}

// caughtUp reports the follower up at the primary's offset (read first).
func (h *harness) caughtUp(ctx context.Context, fc *redis.Client) bool {
	want, err := h.infoInt(ctx, "replication", "master_repl_offset")
	if err != nil {
		return false
	}
	text, err := fc.Info(ctx, "replication").Result()
	if err != nil || fieldOf(text, "master_link_status") != "up" {
		return false
	}
	got, err := strconv.ParseInt(fieldOf(text, "slave_repl_offset"), 10, 64)
	return err == nil && got >= want
}

// drops counts the primary's output-buffer drops in its log.
func (h *harness) drops() (int64, error) {
	b, err := os.ReadFile(h.prim.LogPath())
	if err != nil {
		return 0, err
	}
	return int64(strings.Count(string(b), dropLine)), nil
}
