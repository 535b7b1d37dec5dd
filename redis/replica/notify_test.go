package replica

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/faultproxy"
	"github.com/replsm/replsm/internal/milestonetest"
	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/milestone"
	"github.com/replsm/replsm/outbox"
	"github.com/replsm/replsm/slot"
	"github.com/replsm/replsm/timeouts"
)

// notifyConfig adds an HTTP sink posting to recv.
func notifyConfig(t testing.TB, cfg *Config, recv *milestonetest.Receiver) {
	sink, err := outbox.NewHTTPSink(recv.URL(), &http.Client{Timeout: 2 * time.Second})
	require.NoError(t, err)
	cfg.Notify = sink
}

// TestOutboxMilestonesThroughReplica: a full sync against a real primary
// yields full_sync_completed (with the +FULLRESYNC offset) and
// shard_connected, delivered to an HTTP receiver, with nothing left
// pending. Without a state dir the outbox lives in memory.
func TestOutboxMilestonesThroughReplica(t *testing.T) {
	for _, durable := range []bool{true, false} {
		t.Run(fmt.Sprintf("state dir %t", durable), func(t *testing.T) {
			ctx := testCtx(t, 60*time.Second)
			p := startPrimary(t, "primary")
			require.NoError(t, redistest.FillAllTypes(ctx, p.Client(), "pre", 50))
			recv := milestonetest.New(t)
			log := &recordLog{}
			cfg, _ := durableConfig(t, map[slot.ID]string{0: p.Addr()}, t.TempDir())
			if !durable {
				cfg.StateDir = ""
			}
			cfg.Observers = append(cfg.Observers, log.observe)
			notifyConfig(t, &cfg, recv)
			r := newReplica(t, cfg)
			require.NoError(t, r.Start())
			require.NoError(t, r.Instance().WaitSynced(ctx))
			redistest.RequireEventually(t, 10*time.Second, "milestones delivered", func(context.Context) error {
				if n := len(recv.Unique()); n < 2 {
					return fmt.Errorf("%d delivered", n)
				}
				if info := r.Info(); info.Outbox.Pending != 0 {
					return fmt.Errorf("%d pending", info.Outbox.Pending)
				}
				return nil
			})
			got := recv.Unique()
			require.Len(t, got, 2)
			assert.Equal(t, milestone.KindFullSyncCompleted, got[0].Kind)
			assert.Equal(t, milestone.KindShardConnected, got[1].Kind)
			assert.Equal(t, "slot/0", got[0].Slot)
			started := log.find(0, slot.EvDBSyncStarted)
			require.Len(t, started, 1)
			fields := strings.Fields(started[0].Reason) // +FULLRESYNC <id> <offset>
			require.Len(t, fields, 3)
			assert.Equal(t, fields[1], got[0].Attrs["cursor_id"])
			assert.Equal(t, fields[2], got[0].Attrs["offset"], "the full-sync milestone carries the offset it ended at")
			assert.Less(t, got[0].Seq, got[1].Seq)
			info := r.Info()
			assert.Equal(t, outbox.BreakerClosed, info.Outbox.Breaker)
			assert.Empty(t, info.OutboxWarning)
			assert.Contains(t, info.String(), "outbox_pending:0\noutbox_breaker:closed\n")
		})
	}
}

// TestOutboxSinkOutageThroughReplica: the receiver is down while the
// replica keeps producing milestones (every cut of its link to the primary
// ends in a reconnect, and a shard_connected milestone). Deliveries fail
// with the policy's spacing (backoff, then the breaker's cooldown between
// probes), INFO shows the open breaker and the backlog warning, and nothing
// is dropped: once the receiver is back the backlog drains in order, each
// milestone once.
func TestOutboxSinkOutageThroughReplica(t *testing.T) {
	ctx := testCtx(t, 90*time.Second)
	p := startPrimary(t, "primary")
	require.NoError(t, redistest.FillAllTypes(ctx, p.Client(), "pre", 50))
	proxy, err := faultproxy.New("127.0.0.1:0", p.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = proxy.Close() })
	recv := milestonetest.New(t)
	recv.SetDown(true)

	cfg, _ := durableConfig(t, map[slot.ID]string{0: proxy.Addr()}, t.TempDir())
	cfg.SlotConfig.RecoveryCap = 20
	notifyConfig(t, &cfg, recv)
	const (
		initial  = 50 * time.Millisecond
		cooldown = 400 * time.Millisecond
		breakAt  = 3
		warnAt   = 3
	)
	cfg.Outbox = outbox.Config{
		Backoff:         timeouts.Backoff{Initial: initial, Multiplier: 2, Max: time.Second},
		BreakerFailures: breakAt,
		BreakerCooldown: cooldown,
		BacklogWarn:     warnAt,
	}
	r := newReplica(t, cfg)
	require.NoError(t, r.Start())
	require.NoError(t, r.Instance().WaitSynced(ctx))

	const cuts = 5
	var last slot.Session
	for i := 0; i <= cuts; i++ { // wait for a new session, cut it; the last one stays
		redistest.RequireEventually(t, 20*time.Second, "reconnected", func(context.Context) error {
			st, _ := r.Stats(0)
			if st.State != slot.Connected || st.Session == last {
				return fmt.Errorf("shard %s session %d", st.State, st.Session)
			}
			last = st.Session
			return nil
		})
		if i < cuts {
			proxy.Cut()
		}
	}
	// full_sync_completed, then shard_connected after the full sync and
	// after every +CONTINUE (each cut's reconnect).
	// (The counter moves just after the slot's sync_ok.)
	var want int
	redistest.RequireEventually(t, 5*time.Second, "partial syncs counted", func(context.Context) error {
		st, _ := r.Stats(0)
		if st.PartialSyncs < cuts {
			return fmt.Errorf("%d partial syncs", st.PartialSyncs)
		}
		want = 2 + int(st.PartialSyncs)
		return nil
	})
	redistest.RequireEventually(t, 10*time.Second, "backlog and open breaker", func(context.Context) error {
		info := r.Info()
		if info.Outbox.Pending != want || info.Outbox.Breaker == outbox.BreakerClosed || len(recv.Attempts()) < breakAt+2 {
			return fmt.Errorf("pending %d of %d, breaker %s, %d attempts", info.Outbox.Pending, want, info.Outbox.Breaker, len(recv.Attempts()))
		}
		return nil
	})
	info := r.Info()
	assert.True(t, info.Outbox.BacklogWarning)
	assert.Contains(t, info.OutboxWarning, strconv.Itoa(want)+" milestones waiting for delivery, above the threshold of 3")
	assert.Contains(t, info.OutboxWarning, "503")
	text, err := unionClient(t, r).Info(ctx, "replsm").Result()
	require.NoError(t, err)
	for _, line := range []string{"outbox_pending:" + strconv.Itoa(want), "outbox_backlog_warning:1", "outbox_warning:", "outbox_last_error:"} {
		assert.Contains(t, text, line)
	}
	assert.Regexp(t, `outbox_breaker:(open|half-open)`, text)

	// Every attempt so far was for the head of the backlog, spaced by the
	// policy: Initial*2^k after the (k+1)th failure, the cooldown once the
	// breaker opened. The receiver notes an attempt's arrival; the outbox
	// measures the wait from when it saw the failure, which is later, so
	// the gap between arrivals is never shorter than the wait.
	attempts := recv.Attempts()
	head := attempts[0].Key
	for i, a := range attempts {
		require.Equal(t, http.StatusServiceUnavailable, a.Status)
		require.Equal(t, head, a.Key, "head of line: nothing overtakes the first milestone")
		if i == 0 {
			continue
		}
		wait := cooldown
		if i < breakAt {
			wait = initial << (i - 1)
		}
		gap := a.At.Sub(attempts[i-1].At)
		assert.GreaterOrEqual(t, gap, wait, "gap before attempt %d", i+1)
		t.Logf("attempt %d after %v (policy %v)", i+1, gap.Round(time.Millisecond), wait)
	}

	recv.SetDown(false)
	redistest.RequireEventually(t, 10*time.Second, "backlog drained", func(context.Context) error {
		if info := r.Info(); info.Outbox.Pending != 0 || info.Outbox.Breaker != outbox.BreakerClosed {
			return fmt.Errorf("pending %d, breaker %s", info.Outbox.Pending, info.Outbox.Breaker)
		}
		return nil
	})
	got := recv.Unique()
	require.Len(t, got, want, "nothing dropped")
	assert.Equal(t, head, got[0].Key)
	for i := 1; i < len(got); i++ {
		assert.Less(t, got[i-1].Seq, got[i].Seq, "in creation order")
		assert.Equal(t, 1, recv.Deliveries(got[i].Key), "each once")
	}
	kinds := map[string]int{}
	for _, m := range got {
		kinds[m.Kind]++
	}
	assert.Equal(t, map[string]int{milestone.KindFullSyncCompleted: 1, milestone.KindShardConnected: want - 1}, kinds)
	info = r.Info()
	assert.False(t, info.Outbox.BacklogWarning)
	assert.Empty(t, info.OutboxWarning)
}

// TestOutboxReplayAfterRunWithoutSink: milestones left in the store by a run
// with a sink are kept (and the log says so) by a run without one, and
// delivered by the next run with one.
func TestOutboxReplayAfterRunWithoutSink(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	p := startPrimary(t, "primary")
	recv := milestonetest.New(t)
	recv.SetDown(true)
	dir := t.TempDir()

	cfg, _ := durableConfig(t, map[slot.ID]string{0: p.Addr()}, dir)
	notifyConfig(t, &cfg, recv)
	cfg.Outbox.BreakerCooldown = time.Hour
	r1 := newReplica(t, cfg)
	require.NoError(t, r1.Start())
	require.NoError(t, r1.Instance().WaitSynced(ctx))
	redistest.RequireEventually(t, 10*time.Second, "two pending", func(context.Context) error {
		if n := r1.Info().Outbox.Pending; n != 2 {
			return fmt.Errorf("%d pending", n)
		}
		return nil
	})
	require.NoError(t, r1.Close())

	cfg2, logs := durableConfig(t, map[slot.ID]string{0: p.Addr()}, dir)
	r2 := newReplica(t, cfg2)
	assert.Contains(t, logs.String(), "milestones are waiting in the state store but no notify sink is configured")
	assert.Nil(t, r2.Info().Outbox)
	require.NoError(t, r2.Close())

	recv.SetDown(false)
	cfg3, logs := durableConfig(t, map[slot.ID]string{0: p.Addr()}, dir)
	notifyConfig(t, &cfg3, recv)
	r3 := newReplica(t, cfg3)
	assert.Contains(t, logs.String(), "milestones left undelivered by an earlier run; replaying them at start")
	require.NoError(t, r3.Start())
	redistest.RequireEventually(t, 10*time.Second, "replayed and new ones delivered", func(context.Context) error {
		// 2 from the first run, shard_connected from this one.
		if n, pending := len(recv.Unique()), r3.Info().Outbox.Pending; n < 3 || pending != 0 {
			return fmt.Errorf("%d delivered, %d pending", n, pending)
		}
		return nil
	})
	got := recv.Unique()
	assert.Equal(t, milestone.KindFullSyncCompleted, got[0].Kind)
	assert.Equal(t, milestone.KindShardConnected, got[1].Kind)
	assert.True(t, strings.HasPrefix(got[0].Key, "inc/1/"), got[0].Key)
	assert.True(t, strings.HasPrefix(got[2].Key, "inc/2/"), "a later run's keys never collide with an earlier run's: %s", got[2].Key)
	require.NoError(t, r3.Close())
}
