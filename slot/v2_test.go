package slot

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/fsm"
	"github.com/replsm/replsm/timeouts"
)

// probingDriver is a fakeDriver that is also a Prober; the test answers.
type probingDriver struct {
	fakeDriver
	pmu    sync.Mutex
	probes []ProbeRequest
}

func (d *probingDriver) Probe(r ProbeRequest) {
	d.pmu.Lock()
	defer d.pmu.Unlock()
	d.probes = append(d.probes, r)
}

func (d *probingDriver) lastProbe(t *testing.T) ProbeRequest {
	d.pmu.Lock()
	defer d.pmu.Unlock()
	require.NotEmpty(t, d.probes, "no probe asked")
	return d.probes[len(d.probes)-1]
}

func newProbing(t *testing.T, mutate func(*Config)) (*harness, *probingDriver) {
	t.Helper()
	h := &harness{clk: clock.NewMock(), cfg: DefaultConfig()}
	if mutate != nil {
		mutate(&h.cfg)
	}
	pd := &probingDriver{}
	var err error
	h.rt, err = NewRuntime(Options{Clock: h.clk, Driver: pd, Seed: 7,
		OnExhausted: func(e Exhaustion) { h.mu.Lock(); h.exh = append(h.exh, e); h.mu.Unlock() }})
	require.NoError(t, err)
	h.drv = &pd.fakeDriver
	h.slot1, err = h.rt.NewSlot(1, "127.0.0.1:7000", &h.cfg)
	require.NoError(t, err)
	return h, pd
}

// An unreached failure makes the slot probe; the first probe that answers
// recovers it at once, long before its backoff, and spends no handshake
// while the peer is down.
func TestUnreachedFailureProbesAndRecovers(t *testing.T) {
	h, pd := newProbing(t, func(c *Config) { c.Backoff.Initial = time.Minute; c.Backoff.Max = time.Minute })
	s := h.slot1
	pd.syncErr = errors.New("connection refused")
	s.LinkUp()
	require.Equal(t, Error, s.State())
	st := s.Status()
	assert.True(t, st.Probing)
	handshakes := len(pd.reqs)

	h.advance(5 * time.Second)
	assert.Equal(t, uint64(5), s.Status().Stats.Probes, "one probe a second")
	assert.Equal(t, handshakes, len(pd.reqs), "probes are not handshakes")

	// A failed probe changes nothing; a stale answer is refused.
	require.NoError(t, s.ProbeResult(pd.lastProbe(t).Probe, errors.New("refused")))
	require.Equal(t, Error, s.State())
	require.ErrorIs(t, s.ProbeResult(pd.lastProbe(t).Probe+100, nil), ErrStaleSession)
	require.Equal(t, Error, s.State())

	pd.syncErr = nil
	h.advance(time.Second)
	require.NoError(t, s.ProbeResult(pd.lastProbe(t).Probe, nil))
	require.Equal(t, WaitReply, s.State(), "recovered and asking at once")
	require.NoError(t, s.SyncOK(pd.last().Session))
	assert.False(t, s.Status().Probing)
	assert.Equal(t, int64(0), h.rt.probing.Load())
}

// A failure after the primary answered is not cured by reachability.
func TestReachedFailureDoesNotProbe(t *testing.T) {
	h, pd := newProbing(t, nil)
	s := h.slot1
	s.LinkUp()
	require.NoError(t, s.Fail(pd.last().Session, "-ERR nope"))
	require.Equal(t, Error, s.State())
	assert.False(t, s.Status().Probing)
	h.advance(500 * time.Millisecond)
	assert.Empty(t, pd.probes)
	s.Reachable("sibling")
	assert.Equal(t, Error, s.State(), "a sibling connecting does not cure an answered failure")
}

// A driver without the Prober capability gets no probes and still recovers
// on its backoff.
func TestNoProberNoProbes(t *testing.T) {
	h := newHarness(t, nil)
	s := h.slot1
	h.drv.syncErr = errors.New("connection refused")
	s.LinkUp()
	st := s.Status()
	require.Equal(t, Error, st.State)
	assert.False(t, st.Probing)
	h.drv.syncErr = nil
	h.advance(2 * time.Second)
	assert.Equal(t, WaitReply, s.State())
}

// Busy replies re-ask on the poll without spending budget, however long the
// primary stays busy.
func TestBusyIsNotFailed(t *testing.T) {
	h := newHarness(t, nil)
	s := h.slot1
	s.LinkUp()
	for i := 0; i < 30; i++ {
		require.NoError(t, s.Busy(h.drv.last().Session, "-LOADING"))
		require.Equal(t, TryConnect, s.State())
		h.advance(s.cfg.BusyPoll)
		require.Equal(t, WaitReply, s.State())
	}
	st := s.Status()
	assert.Equal(t, st.Cap, st.AttemptsLeft, "no budget spent")
	assert.Equal(t, uint64(30), st.Stats.BusyRetries)
	assert.Equal(t, uint64(0), st.Stats.Failures)
	require.NoError(t, s.SyncOK(h.drv.last().Session))

	// A busy answer to a full-sync request asks for a full sync again.
	s.RequestFullSync()
	s.LinkDown("x")
	s.LinkUp()
	require.True(t, h.drv.last().Full)
	require.NoError(t, s.Busy(h.drv.last().Session, "-LOADING"))
	assert.Equal(t, TryDBSync, s.State())
	h.advance(s.cfg.BusyPoll)
	assert.True(t, h.drv.last().Full)

	// Busy is a reply: only the live session, only in WaitReply.
	require.ErrorIs(t, s.Busy(h.drv.last().Session+9, "-LOADING"), ErrStaleSession)
	require.NoError(t, s.DBSyncStarted(h.drv.last().Session, ""))
	require.ErrorIs(t, s.Busy(h.drv.last().Session, "-LOADING"), fsm.ErrNotAllowed)
}

// An aborted transfer leaves a full sync due, unless the load is atomic.
func TestAbortedFullSyncLeavesFullSyncDue(t *testing.T) {
	for _, atomic := range []bool{false, true} {
		h := newHarness(t, func(c *Config) { c.AtomicLoad = atomic })
		s := h.slot1
		s.LinkUp()
		sess := h.drv.last().Session
		require.NoError(t, s.DBSyncStarted(sess, "+FULLRESYNC"))
		require.NoError(t, s.Fail(sess, "EOF mid-transfer"))
		assert.Equal(t, !atomic, s.Status().FullSyncDue, "atomic=%v", atomic)
		h.advance(2 * time.Second)
		require.Equal(t, WaitReply, s.State())
		assert.Equal(t, !atomic, h.drv.last().Full, "atomic=%v: the next request", atomic)
	}
}

// Re-pointing: the same endpoint is a no-op; another one closes the session,
// refills the budget and asks again; an invalid one changes nothing.
func TestSetEndpoint(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RecoveryCap = 1; c.ExhaustedRetry = 0 })
	s := h.slot1
	s.LinkUp()
	sess := h.drv.last().Session
	require.NoError(t, s.SyncOK(sess))
	rec, err := s.SetEndpoint("127.0.0.1:7000", "same")
	require.NoError(t, err)
	assert.Zero(t, rec.Seq, "no record")
	assert.Equal(t, Connected, s.State())
	assert.Empty(t, h.drv.closed)

	for _, bad := range []string{"", "a b", "x\n"} {
		_, err = s.SetEndpoint(bad, "bad")
		require.ErrorIs(t, err, ErrInvalidEndpoint)
	}
	assert.Equal(t, Connected, s.State())

	// Exhaust it, then re-point: fresh budget, a new handshake to the new one.
	require.NoError(t, s.Fail(sess, "EOF"))
	h.advance(2 * time.Second)
	require.NoError(t, s.Fail(h.drv.last().Session, "EOF"))
	require.True(t, s.Status().Exhausted)
	rec, err = s.SetEndpoint("127.0.0.1:7001", "failover")
	require.NoError(t, err)
	assert.Equal(t, EvRepoint, rec.Event)
	st := s.Status()
	assert.Equal(t, WaitReply, st.State)
	assert.False(t, st.Exhausted)
	assert.Equal(t, 1, st.AttemptsLeft)
	assert.Equal(t, "127.0.0.1:7001", h.drv.last().Endpoint)

	// A re-point the machine refuses (a detached slot) changes nothing:
	// the endpoint and the budget stay as they were.
	_, err = s.Detach("operator")
	require.NoError(t, err)
	before := s.Status()
	_, err = s.SetEndpoint("127.0.0.1:7002", "refused")
	require.ErrorIs(t, err, fsm.ErrNotAllowed)
	assert.Equal(t, "127.0.0.1:7001", s.Endpoint())
	assert.Equal(t, before, s.Status())
}

// Sessions never repeat within a runtime, across slots and re-created ids.
func TestSessionsNeverRepeat(t *testing.T) {
	h := newHarness(t, nil)
	seen := map[Session]bool{}
	for i := 0; i < 3; i++ {
		s, err := h.rt.NewSlot(9, "", &h.cfg)
		require.NoError(t, err)
		s.LinkUp()
		sess := h.drv.last().Session
		require.False(t, seen[sess], "session %d handed out twice", sess)
		seen[sess] = true
	}
}

// Counters: a Pika-style completion is a full sync; data under the live
// session in WaitReply is not stale.
func TestCountersTellTheTruth(t *testing.T) {
	h := newHarness(t, nil)
	s := h.slot1
	s.LinkUp()
	sess := h.drv.last().Session
	require.NoError(t, s.Data(sess))
	require.NoError(t, s.DBSyncStarted(sess, ""))
	_, err := s.Deliver(sess, EvDBSyncLoaded, "")
	require.NoError(t, err)
	st := s.Status()
	assert.Equal(t, uint64(1), st.Stats.FullSyncs)
	assert.Equal(t, uint64(0), st.Stats.StaleDropped)
	require.NoError(t, s.SyncOK(h.drv.last().Session))
	assert.Equal(t, uint64(1), s.Status().Stats.PartialSyncs)
}

// WaitSynced returns promptly with ErrExhausted once the budget is spent,
// even while the slot keeps retrying at the slow cadence.
func TestWaitSyncedReturnsOnExhaustion(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RecoveryCap = 1 })
	s := h.slot1
	h.drv.syncErr = errors.New("refused")
	done := make(chan error, 1)
	go func() { done <- s.WaitSynced(context.Background()) }()
	s.LinkUp()
	h.advance(5 * time.Second)
	select {
	case err := <-done:
		require.ErrorIs(t, err, ErrExhausted)
	case <-time.After(10 * time.Second):
		t.Fatal("WaitSynced did not return on exhaustion")
	}
}

func TestConfigRejectsBadRecoverySettings(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"ExhaustedRetry<0": func(c *Config) { c.ExhaustedRetry = -time.Second },
		"ProbeInterval=0":  func(c *Config) { c.ProbeInterval = 0 },
		"BusyPoll<0":       func(c *Config) { c.BusyPoll = -1 },
	} {
		c := DefaultConfig()
		mutate(&c)
		require.ErrorIs(t, c.Validate(), timeouts.ErrInvalidConfig, name)
	}
	c := DefaultConfig()
	c.ExhaustedRetry = 0
	require.NoError(t, c.Validate(), "0 is the opt-in operator mode")
}

// Two runtimes without a seed retry at different instants.
func TestZeroSeedDiffersBetweenRuntimes(t *testing.T) {
	a, err := NewRuntime(Options{Clock: clock.NewMock(), Driver: &fakeDriver{}})
	require.NoError(t, err)
	b, err := NewRuntime(Options{Clock: clock.NewMock(), Driver: &fakeDriver{}})
	require.NoError(t, err)
	assert.NotEqual(t, a.Host().Seed(), b.Host().Seed())
	c, err := NewRuntime(Options{Clock: clock.NewMock(), Driver: &fakeDriver{}, Seed: 42})
	require.NoError(t, err)
	assert.Equal(t, uint64(42), c.Host().Seed())
}

// A primary that fails again soon after the shard came back (inside the
// stable period, budget still spent) is retried after a backoff, not at the
// slow cadence: reaching Connected gives the budget one attempt back.
func TestFailingAgainSoonAfterComingBackIsRetriedPromptly(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RecoveryCap = 1 })
	s := h.slot1
	s.LinkUp()
	require.NoError(t, s.Fail(h.drv.last().Session, "EOF"))
	h.advance(2 * time.Second)
	require.NoError(t, s.Fail(h.drv.last().Session, "EOF"))
	require.True(t, s.Status().Exhausted)
	h.advance(s.cfg.ExhaustedRetry)
	require.NoError(t, s.SyncOK(h.drv.last().Session))
	require.Equal(t, 1, s.Status().AttemptsLeft, "coming back credits one attempt")

	require.NoError(t, s.Fail(h.drv.last().Session, "EOF again, 1s later"))
	st := s.Status()
	require.False(t, st.Exhausted)
	h.advance(10 * time.Second)
	assert.Equal(t, WaitReply, s.State(), "retried after its backoff, not in 5 minutes")
}
