package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/replsm/replsm/slot"
)

// play walks through the faults, one shard each, and waits after each for
// the framework to heal it on its own: exhaustion included, which it
// reports once and then outlasts by probing.
func (c *cluster) play(ctx context.Context) error {
	c.printf("== phase 1: every shard syncs")
	if err := c.waitFor(ctx, "all shards Connected", func() (bool, string) { return c.allConnected() }); err != nil {
		return err
	}

	c.steady(ctx)
	c.printf("== phase 2: cut shard 0's link; it recovers by itself with +CONTINUE")
	before := c.stats(0)
	c.proxies[0].Cut()
	if err := c.waitFor(ctx, "shard 0 resumed", func() (bool, string) {
		now := c.stats(0)
		return now.State == slot.Connected && now.PartialSyncs > before.PartialSyncs, string(now.State)
	}); err != nil {
		return err
	}

	c.steady(ctx)
	c.printf("== phase 3: stall shard 1's link past the keepalive timeout, then let it flow")
	before = c.stats(1)
	c.proxies[1].Stall()
	if err := c.waitFor(ctx, "shard 1 noticed the silence", func() (bool, string) {
		st := c.slotStatus(1)
		return st.Stats.Transitions > before.transitions, string(st.State)
	}); err != nil {
		return err
	}
	c.proxies[1].Unstall()
	if err := c.waitFor(ctx, "shard 1 resumed", func() (bool, string) {
		now := c.stats(1)
		return now.State == slot.Connected && now.PartialSyncs > before.PartialSyncs, string(now.State)
	}); err != nil {
		return err
	}

	c.steady(ctx)
	c.printf("== phase 4: restart primary 2 without its backlog; shard 2 needs a full sync")
	before = c.stats(2)
	if err := c.primaries[2].ForgetHistory(); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "shard 2 full sync", func() (bool, string) {
		now := c.stats(2)
		return now.State == slot.Connected && now.FullSyncs > before.FullSyncs, string(now.State)
	}); err != nil {
		return err
	}

	c.steady(ctx)
	c.printf("== phase 5: take primary 0 down past the retry cap; it comes back by itself")
	c.proxies[0].Down()
	if err := c.waitFor(ctx, "shard 0 exhausted", func() (bool, string) {
		st := c.slotStatus(0)
		return st.Exhausted, fmt.Sprintf("%s %d/%d left", st.State, st.AttemptsLeft, st.Cap)
	}); err != nil {
		return err
	}
	// Exhausted, it spends no more sync handshakes: it probes the endpoint
	// (connect + PING) about once a second while the primary is down.
	ex := c.slotStatus(0)
	if err := c.waitFor(ctx, "shard 0 probing primary 0", func() (bool, string) {
		st := c.slotStatus(0)
		return st.State == slot.Error && st.Stats.Probes >= ex.Stats.Probes+2, fmt.Sprintf("%s, %d probes", st.State, st.Stats.Probes)
	}); err != nil {
		return err
	}
	if st := c.slotStatus(0); st.State != slot.Error || st.Stats.Recoveries != ex.Stats.Recoveries {
		return fmt.Errorf("demo: exhausted shard 0 tried a sync while primary 0 was down (%s, %d recoveries)", st.State, st.Stats.Recoveries)
	}
	c.printf("shard 0 is exhausted, said so once and probes; bring primary 0 back (no operator reset)")
	if err := c.proxies[0].Up(); err != nil {
		return err
	}
	back := c.clk.Now()
	if err := c.waitFor(ctx, "shard 0 back by itself", func() (bool, string) {
		st := c.slotStatus(0)
		return st.State == slot.Connected, string(st.State)
	}); err != nil {
		return err
	}
	c.printf("shard 0 Connected %.2fs after primary 0 answered again", c.clk.Since(back).Seconds())
	return nil
}

// steady lets the load run for a while between faults, so every phase
// starts from shards that are streaming and the status lines show it.
func (c *cluster) steady(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-c.clk.After(c.opts.Steady):
	}
}

type shardView struct {
	State        slot.State
	FullSyncs    uint64
	PartialSyncs uint64
	transitions  uint64
}

func (c *cluster) stats(id slot.ID) shardView {
	st, err := c.replica.Stats(id)
	if err != nil {
		return shardView{}
	}
	return shardView{State: st.State, FullSyncs: st.FullSyncs, PartialSyncs: st.PartialSyncs, transitions: c.slotStatus(id).Stats.Transitions}
}

func (c *cluster) slotStatus(id slot.ID) slot.Status {
	s, err := c.replica.Instance().Slot(id)
	if err != nil {
		return slot.Status{}
	}
	return s.Status()
}

func (c *cluster) allConnected() (bool, string) {
	info := c.replica.Info()
	return info.LinkUp, fmt.Sprintf("instance %s", info.State)
}

// waitFor polls cond until it holds, the phase time runs out, or ctx ends.
func (c *cluster) waitFor(ctx context.Context, what string, cond func() (bool, string)) error {
	deadline := c.clk.Now().Add(c.opts.PhaseWait)
	tick := c.clk.Ticker(50 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		ok, state := cond()
		if ok {
			c.printf("ok: %s", what)
			return nil
		}
		last = state
		if c.clk.Now().After(deadline) {
			return fmt.Errorf("demo: %s: not within %s (last: %s)", what, c.opts.PhaseWait, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("demo: %s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
}
