package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/store"
	"github.com/replsm/replsm/timeouts"
)

// recorder is a Sink that records what it accepted and can be switched
// to fail.
type recorder struct {
	mu    sync.Mutex
	got   []store.Milestone
	calls []time.Time // clock time of every call
	clk   clock.Clock
	fail  error
}

func (r *recorder) Deliver(_ context.Context, m store.Milestone) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.clk != nil {
		r.calls = append(r.calls, r.clk.Now())
	}
	if r.fail != nil {
		return r.fail
	}
	r.got = append(r.got, m)
	return nil
}

func (r *recorder) setFail(err error) {
	r.mu.Lock()
	r.fail = err
	r.mu.Unlock()
}

func (r *recorder) seqs() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]uint64, len(r.got))
	for i, m := range r.got {
		out[i] = m.Seq
	}
	return out
}

func (r *recorder) keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.got))
	for i, m := range r.got {
		out[i] = m.Key
	}
	return out
}

func (r *recorder) callTimes() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.calls...)
}

// logBuf is a goroutine-safe log capture.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuf) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// noJitter is a deterministic policy: 1s, 2s, 4s, ... capped at 60s.
var noJitter = timeouts.Backoff{Initial: time.Second, Multiplier: 2, Jitter: 0, Max: time.Minute}

func milestone(i int) store.Milestone {
	return store.Milestone{
		Key:  fmt.Sprintf("slot/%d/full_sync_completed/session/%d", i%4, i),
		Kind: "full_sync_completed",
		Slot: fmt.Sprintf("slot/%d", i%4),
	}
}

func appendN(t testing.TB, ob *Outbox, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		_, err := ob.Append(milestone(i))
		require.NoError(t, err)
	}
}

func openBolt(t testing.TB, path string) *store.Bolt {
	t.Helper()
	st, err := store.OpenBolt(path, store.BoltOptions{})
	require.NoError(t, err)
	return st
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func TestDeliversInOrderAndAcks(t *testing.T) {
	clk := clock.NewMock()
	st := store.NewMemory()
	sink := &recorder{}
	ob, err := New(st, sink, clk, Config{Backoff: noJitter, BatchSize: 2})
	require.NoError(t, err)

	clk.Add(time.Hour)
	appendN(t, ob, 0, 5)
	assert.Empty(t, sink.seqs(), "Append never calls the sink")
	assert.Equal(t, 5, ob.Stats().Pending)

	n, err := ob.DeliverPending(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 5, n)
	assert.Equal(t, seqRange(1, 5), sink.seqs())
	assert.Equal(t, clk.Now().UTC(), sink.got[0].At, "zero At is taken from the clock")
	s := ob.Stats()
	assert.Equal(t, 0, s.Pending)
	assert.Equal(t, uint64(5), s.Delivered)
	assert.Equal(t, BreakerClosed, s.Breaker)
	assert.True(t, s.NextAttempt.IsZero())

	n, err = ob.DeliverPending(context.Background())
	require.NoError(t, err)
	assert.Zero(t, n)

	_, err = ob.Append(store.Milestone{Kind: "x"})
	assert.ErrorIs(t, err, store.ErrInvalidInput)
}

// crashOnAck simulates the process dying after the sink accepted
// milestones but before their ack reached the disk.
type crashOnAck struct {
	store.Store
	crash bool
}

var errCrash = errors.New("simulated crash before ack")

func (c *crashOnAck) AckMilestones(seqs []uint64) error {
	if c.crash {
		return errCrash
	}
	return c.Store.(store.BatchAcker).AckMilestones(seqs)
}

func (c *crashOnAck) AckMilestone(seq uint64) error { return c.AckMilestones([]uint64{seq}) }

func TestAtLeastOnceAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	clk := clock.NewMock()
	sink := &recorder{}

	// Run 1: three milestones delivered, then the process "dies" before
	// the ack transaction commits.
	st := openBolt(t, path)
	ob, err := New(&crashOnAck{Store: st, crash: true}, sink, clk, Config{Backoff: noJitter})
	require.NoError(t, err)
	appendN(t, ob, 0, 3)
	_, err = ob.DeliverPending(context.Background())
	require.ErrorIs(t, err, errCrash)
	require.NoError(t, st.Close())
	assert.Equal(t, []uint64{1, 2, 3}, sink.seqs())

	// Run 2: a new process replays all three, in order, and acks them.
	st = openBolt(t, path)
	n, err := st.PendingCount()
	require.NoError(t, err)
	assert.Equal(t, 3, n, "un-acked milestones survive the restart")
	ob, err = New(st, sink, clk, Config{Backoff: noJitter})
	require.NoError(t, err)
	appendN(t, ob, 3, 1)
	_, err = ob.DeliverPending(context.Background())
	require.NoError(t, err)
	require.NoError(t, st.Close())
	assert.Equal(t, []uint64{1, 2, 3, 1, 2, 3, 4}, sink.seqs(), "delivered again after restart, still in order")
	assert.Equal(t, sink.keys()[0], sink.keys()[3], "same idempotency key on redelivery")

	// Run 3: nothing is left.
	st = openBolt(t, path)
	defer st.Close()
	ob, err = New(st, sink, clk, Config{})
	require.NoError(t, err)
	n2, err := ob.DeliverPending(context.Background())
	require.NoError(t, err)
	assert.Zero(t, n2)
}

func TestAckGranularityIsOneBatch(t *testing.T) {
	// With BatchSize 1 every delivery is acked before the next one, so a
	// crash redelivers only the milestone whose ack was lost.
	path := filepath.Join(t.TempDir(), "state.db")
	clk := clock.NewMock()
	st := openBolt(t, path)
	cs := &crashOnAck{Store: st}
	var n int
	sink := FuncSink(func(context.Context, store.Milestone) error {
		n++
		if n == 2 {
			cs.crash = true // the ack of milestone 2 is lost
		}
		return nil
	})
	ob, err := New(cs, sink, clk, Config{Backoff: noJitter, BatchSize: 1})
	require.NoError(t, err)
	appendN(t, ob, 0, 3)
	_, err = ob.DeliverPending(context.Background())
	require.ErrorIs(t, err, errCrash)
	require.NoError(t, st.Close())

	st = openBolt(t, path)
	defer st.Close()
	page, err := st.PendingMilestones(0, 10)
	require.NoError(t, err)
	require.Len(t, page, 2)
	assert.Equal(t, []uint64{2, 3}, []uint64{page[0].Seq, page[1].Seq})
}

func TestLongOutageOpensBreakerAndDrainsAfter(t *testing.T) {
	clk := clock.NewMock()
	st := store.NewMemory()
	sink := &recorder{clk: clk}
	logs := &logBuf{}
	policy := timeouts.Backoff{Initial: time.Second, Multiplier: 2, Jitter: 0.2, Max: time.Minute}
	const seed1, seed2 = 7, 11
	ob, err := New(st, sink, clk, Config{
		Backoff:         policy,
		BreakerFailures: 4,
		BreakerCooldown: 30 * time.Second,
		BatchSize:       3,
		BacklogWarn:     5,
		Rand:            rand.New(rand.NewPCG(seed1, seed2)),
		Logger:          logs.logger(),
	})
	require.NoError(t, err)
	// The same seed gives the delays the outbox must use.
	want := rand.New(rand.NewPCG(seed1, seed2))
	wantDelays := []time.Duration{policy.Delay(0, want), policy.Delay(1, want), policy.Delay(2, want)}
	t.Logf("expected backoff delays: %v", wantDelays)

	down := errors.New("503 from control plane")
	sink.setFail(down)
	appendN(t, ob, 0, 10)
	assert.True(t, ob.Stats().BacklogWarning)
	assert.Equal(t, 1, strings.Count(logs.String(), "outbox backlog above threshold"), "warned once per crossing")

	ctx := context.Background()
	start := clk.Now()
	// Failures 1..3 back off per policy; failure 4 opens the breaker.
	_, err = ob.DeliverPending(ctx)
	require.ErrorIs(t, err, ErrDeliveryFailed)
	require.ErrorIs(t, err, down)
	for i, d := range wantDelays {
		s := ob.Stats()
		require.Equal(t, BreakerClosed, s.Breaker)
		require.Equal(t, clk.Now().Add(d), s.NextAttempt, "delay after failure %d", i+1)
		clk.Add(d - time.Nanosecond)
		_, err = ob.DeliverPending(ctx)
		require.ErrorIs(t, err, ErrNotDue, "not a nanosecond early")
		clk.Add(time.Nanosecond)
		_, err = ob.DeliverPending(ctx)
		require.ErrorIs(t, err, ErrDeliveryFailed)
	}
	s := ob.Stats()
	assert.Equal(t, BreakerOpen, s.Breaker)
	assert.Equal(t, 4, s.ConsecutiveFailures)
	assert.Equal(t, clk.Now().Add(30*time.Second), s.NextAttempt)
	assert.Contains(t, logs.String(), `msg="breaker open"`)
	assert.Contains(t, logs.String(), "503 from control plane")
	assert.Contains(t, logs.String(), "sink=*outbox.recorder")

	// An hour of outage: exactly one probe per cooldown, nothing dropped.
	for range 120 {
		clk.Add(30*time.Second - time.Nanosecond)
		_, err = ob.DeliverPending(ctx)
		require.ErrorIs(t, err, ErrBreakerOpen)
		clk.Add(time.Nanosecond)
		_, err = ob.DeliverPending(ctx)
		require.ErrorIs(t, err, ErrDeliveryFailed)
		require.Equal(t, BreakerOpen, ob.Stats().Breaker)
	}
	calls := sink.callTimes()
	require.Len(t, calls, 4+120)
	wantGaps := append(append([]time.Duration{}, wantDelays...), 30*time.Second)
	for i := 1; i < len(calls); i++ {
		gap := calls[i].Sub(calls[i-1])
		if i <= len(wantGaps) {
			require.Equal(t, wantGaps[i-1], gap, "gap before call %d", i)
		} else {
			require.Equal(t, 30*time.Second, gap, "gap before call %d", i)
		}
	}
	assert.Equal(t, start, calls[0])
	s = ob.Stats()
	assert.Equal(t, 10, s.Pending, "nothing dropped")
	assert.Equal(t, uint64(124), s.Failures)
	assert.Empty(t, sink.seqs())

	// More milestones during the outage: still one warning.
	appendN(t, ob, 10, 5)
	assert.Equal(t, 1, strings.Count(logs.String(), "outbox backlog above threshold"))

	// The sink comes back: the next probe succeeds, the breaker closes and
	// the whole backlog drains in order.
	sink.setFail(nil)
	clk.Add(30 * time.Second)
	n, err := ob.DeliverPending(ctx)
	require.NoError(t, err)
	assert.Equal(t, 15, n)
	assert.Equal(t, seqRange(1, 15), sink.seqs())
	s = ob.Stats()
	assert.Equal(t, BreakerClosed, s.Breaker)
	assert.Equal(t, 0, s.Pending)
	assert.Equal(t, 0, s.ConsecutiveFailures)
	assert.NoError(t, s.LastError)
	assert.False(t, s.BacklogWarning)
	assert.Contains(t, logs.String(), "breaker half-open")
	assert.Contains(t, logs.String(), "breaker closed")
	assert.Contains(t, logs.String(), "outbox backlog back under threshold")

	// Backoff restarts from attempt 0 after a success.
	sink.setFail(down)
	appendN(t, ob, 15, 1)
	_, err = ob.DeliverPending(ctx)
	require.ErrorIs(t, err, ErrDeliveryFailed)
	assert.Equal(t, BreakerClosed, ob.Stats().Breaker)
	assert.Equal(t, 1, ob.Stats().ConsecutiveFailures)
}

func TestHeadOfLineBlocking(t *testing.T) {
	clk := clock.NewMock()
	var got []uint64
	sink := FuncSink(func(_ context.Context, m store.Milestone) error {
		if m.Seq == 2 && clk.Now().Before(time.Unix(5, 0)) {
			return errors.New("receiver rejects milestone 2 for now")
		}
		got = append(got, m.Seq)
		return nil
	})
	ob, err := New(store.NewMemory(), sink, clk, Config{Backoff: noJitter})
	require.NoError(t, err)
	appendN(t, ob, 0, 4)
	n, err := ob.DeliverPending(context.Background())
	require.ErrorIs(t, err, ErrDeliveryFailed)
	assert.Equal(t, 1, n)
	assert.Equal(t, []uint64{1}, got, "3 and 4 wait behind 2")
	assert.Equal(t, 3, ob.Stats().Pending, "1 was acked before backing off")
	for ob.Stats().Pending > 0 {
		clk.Add(time.Second)
		_, _ = ob.DeliverPending(context.Background())
	}
	assert.Equal(t, []uint64{1, 2, 3, 4}, got)
}

func TestSinkPanicAndCancel(t *testing.T) {
	clk := clock.NewMock()
	ob, err := New(store.NewMemory(), FuncSink(func(context.Context, store.Milestone) error { panic("boom") }), clk, Config{Backoff: noJitter})
	require.NoError(t, err)
	appendN(t, ob, 0, 1)
	_, err = ob.DeliverPending(context.Background())
	require.ErrorIs(t, err, ErrDeliveryFailed)
	assert.Contains(t, err.Error(), "sink panicked: boom")

	// A cancelled pass is our shutdown, not a sink failure.
	ctx, cancel := context.WithCancel(context.Background())
	ob2, err := New(store.NewMemory(), FuncSink(func(ctx context.Context, _ store.Milestone) error {
		cancel()
		return ctx.Err()
	}), clk, Config{})
	require.NoError(t, err)
	appendN(t, ob2, 0, 2)
	_, err = ob2.DeliverPending(ctx)
	require.ErrorIs(t, err, context.Canceled)
	s := ob2.Stats()
	assert.Zero(t, s.Failures)
	assert.Equal(t, 2, s.Pending)
}

func TestConfigValidation(t *testing.T) {
	clk := clock.NewMock()
	st := store.NewMemory()
	sink := &recorder{}
	_, err := New(nil, sink, clk, Config{})
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = New(st, nil, clk, Config{})
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = New(st, sink, nil, Config{})
	assert.ErrorIs(t, err, ErrInvalidConfig)
	for name, cfg := range map[string]Config{
		"bad backoff":       {Backoff: timeouts.Backoff{Initial: -1, Multiplier: 2, Max: time.Second}},
		"negative failures": {BreakerFailures: -1},
		"negative cooldown": {BreakerCooldown: -time.Second},
		"negative batch":    {BatchSize: -1},
		"huge batch":        {BatchSize: MaxBatchSize + 1},
		"negative backlog":  {BacklogWarn: -5},
	} {
		_, err := New(st, sink, clk, cfg)
		assert.ErrorIs(t, err, ErrInvalidConfig, name)
	}
	_, err = New(st, sink, clk, Config{Backoff: timeouts.Backoff{Initial: time.Second, Multiplier: 0.5, Max: time.Second}})
	assert.ErrorIs(t, err, timeouts.ErrInvalidConfig, "the policy's own error is kept")

	ob, err := New(st, sink, clk, Config{})
	require.NoError(t, err)
	assert.Equal(t, DefaultConfig().Backoff, ob.cfg.Backoff)
	assert.Equal(t, DefaultBreakerFailures, ob.cfg.BreakerFailures)
	assert.Equal(t, DefaultBatchSize, ob.cfg.BatchSize)
	assert.Equal(t, "half-open", BreakerHalfOpen.String())
}

// limitSpy records the largest page the outbox asked the store for.
type limitSpy struct {
	store.Store
	mu       sync.Mutex
	maxLimit int
	maxPage  int
}

func (s *limitSpy) PendingMilestones(after uint64, limit int) ([]store.Milestone, error) {
	page, err := s.Store.PendingMilestones(after, limit)
	s.mu.Lock()
	s.maxLimit = max(s.maxLimit, limit)
	s.maxPage = max(s.maxPage, len(page))
	s.mu.Unlock()
	return page, err
}

func (s *limitSpy) AckMilestones(seqs []uint64) error {
	return s.Store.(store.BatchAcker).AckMilestones(seqs)
}

func TestStartReplaysThenDeliversNewAndStops(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st := openBolt(t, path)
	backlog := make([]store.Milestone, 1000)
	for i := range backlog {
		backlog[i] = milestone(i)
	}
	_, err := st.AppendMilestones(backlog)
	require.NoError(t, err)
	require.NoError(t, st.Close())

	st = openBolt(t, path) // the "restart"
	defer st.Close()
	spy := &limitSpy{Store: st}
	clk := clock.NewMock()
	sink := &recorder{}
	ob, err := New(spy, sink, clk, Config{Backoff: noJitter, BatchSize: 100, BreakerFailures: 3, BreakerCooldown: 10 * time.Second})
	require.NoError(t, err)
	ob.Start()
	ob.Start() // no-op
	defer ob.Stop()

	require.Eventually(t, func() bool { return len(sink.seqs()) == 1000 }, 10*time.Second, time.Millisecond, "replay")
	assert.Equal(t, seqRange(1, 1000), sink.seqs())
	spy.mu.Lock()
	assert.Equal(t, 100, spy.maxLimit, "replay reads BatchSize at a time")
	assert.LessOrEqual(t, spy.maxPage, 100)
	spy.mu.Unlock()

	// New milestones are delivered without touching the clock: Append wakes
	// the deliverer.
	appendN(t, ob, 1000, 5)
	require.Eventually(t, func() bool { return len(sink.seqs()) == 1005 }, 10*time.Second, time.Millisecond, "new ones")

	// An outage: the goroutine waits on the mock clock; advancing it lets
	// the retries (and after 3 failures, the breaker probe) happen.
	sink.setFail(errors.New("down"))
	appendN(t, ob, 1005, 2)
	require.Eventually(t, func() bool { return ob.Stats().Failures >= 1 }, 10*time.Second, time.Millisecond)
	require.Eventually(t, func() bool {
		clk.Add(time.Second)
		return ob.Stats().Breaker == BreakerOpen
	}, 10*time.Second, time.Millisecond, "breaker opens after retries")
	sink.setFail(nil)
	require.Eventually(t, func() bool {
		clk.Add(time.Second)
		return len(sink.seqs()) == 1007
	}, 10*time.Second, time.Millisecond, "drains after the cooldown")
	assert.Equal(t, seqRange(1, 1007), sink.seqs())
	assert.Equal(t, BreakerClosed, ob.Stats().Breaker)

	ob.Stop()
	ob.Stop() // no-op
	appendN(t, ob, 1007, 1)
	assert.Equal(t, 1, ob.Stats().Pending, "stays pending while stopped")
	ob.Start()
	require.Eventually(t, func() bool { return len(sink.seqs()) == 1008 }, 10*time.Second, time.Millisecond, "restart")
}

func TestStopCancelsBlockedDelivery(t *testing.T) {
	clk := clock.NewMock()
	entered := make(chan struct{}, 1)
	sink := FuncSink(func(ctx context.Context, _ store.Milestone) error {
		entered <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})
	ob, err := New(store.NewMemory(), sink, clk, Config{})
	require.NoError(t, err)
	ob.Start()
	appendN(t, ob, 0, 1)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("sink never called")
	}
	ob.Stop() // must not hang on the blocked sink
	s := ob.Stats()
	assert.Equal(t, 1, s.Pending)
	assert.Zero(t, s.Failures, "shutdown is not a sink failure")
}
