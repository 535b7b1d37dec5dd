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
)

// fakeDriver records requests; replies are delivered by the test.
type fakeDriver struct {
	mu      sync.Mutex
	reqs    []Request
	closed  []Session
	syncErr error
}

func (d *fakeDriver) Sync(r Request) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reqs = append(d.reqs, r)
	return d.syncErr
}

func (d *fakeDriver) Close(_ ID, s Session, _ string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = append(d.closed, s)
}

func (d *fakeDriver) last() Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reqs[len(d.reqs)-1]
}

type harness struct {
	clk   *clock.Mock
	drv   *fakeDriver
	rt    *Runtime
	cfg   Config
	recs  []Record
	exh   []Exhaustion
	mu    sync.Mutex
	slot1 *Slot
}

func newHarness(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	h := &harness{clk: clock.NewMock(), drv: &fakeDriver{}, cfg: DefaultConfig()}
	if mutate != nil {
		mutate(&h.cfg)
	}
	var err error
	h.rt, err = NewRuntime(Options{
		Clock: h.clk, Driver: h.drv, Seed: 7,
		Observers:   []Observer{func(r Record) { h.mu.Lock(); h.recs = append(h.recs, r); h.mu.Unlock() }},
		OnExhausted: func(e Exhaustion) { h.mu.Lock(); h.exh = append(h.exh, e); h.mu.Unlock() },
	})
	require.NoError(t, err)
	h.slot1, err = h.rt.NewSlot(1, "127.0.0.1:7000", &h.cfg)
	require.NoError(t, err)
	return h
}

// advance moves the mock clock step by step through due deadlines.
func (h *harness) advance(d time.Duration) {
	end := h.clk.Now().Add(d)
	for {
		next, ok := h.rt.Next()
		if !ok || next.After(end) {
			break
		}
		h.clk.Set(next)
		h.rt.RunDue()
	}
	h.clk.Set(end)
	h.rt.RunDue()
}

func TestConfigValidation(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"reply":    func(c *Config) { c.ReplyTimeout = 0 },
		"transfer": func(c *Config) { c.TransferIdleTimeout = -time.Second },
		"keep":     func(c *Config) { c.KeepaliveTimeout = 0 },
		"stable":   func(c *Config) { c.StablePeriod = 0 },
		"cap":      func(c *Config) { c.RecoveryCap = 0 },
		"k":        func(c *Config) { c.FullSyncAfter = -1 },
		"backoff":  func(c *Config) { c.Backoff.Initial = 0 },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			mutate(&cfg)
			rt, err := NewRuntime(Options{Clock: clock.NewMock(), Driver: &fakeDriver{}})
			require.NoError(t, err)
			_, err = rt.NewSlot(1, "", &cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
	_, err := NewRuntime(Options{Driver: &fakeDriver{}})
	require.ErrorIs(t, err, ErrMissingOption)
}

func TestHappyPathAndStaleReplies(t *testing.T) {
	h := newHarness(t, nil)
	s := h.slot1
	s.LinkUp()
	require.Equal(t, WaitReply, s.State())
	req := h.drv.last()
	assert.Equal(t, Request{Slot: 1, Endpoint: "127.0.0.1:7000", Session: 1}, req)

	_, err := s.Deliver(req.Session+1, EvSyncOK, "")
	require.ErrorIs(t, err, ErrStaleSession)
	_, err = s.Deliver(req.Session, "bogus", "")
	require.ErrorIs(t, err, fsm.ErrUnknownEvent)
	_, err = s.Deliver(req.Session, EvRecover, "")
	require.ErrorIs(t, err, ErrNotDeliverable)
	_, err = s.Deliver(req.Session, EvDBSyncDone, "")
	require.ErrorIs(t, err, fsm.ErrNotAllowed)
	require.Equal(t, WaitReply, s.State(), "bad input changes nothing")

	require.NoError(t, s.SyncOK(req.Session))
	require.Equal(t, Connected, s.State())
	require.ErrorIs(t, s.SyncOK(req.Session), fsm.ErrNotAllowed)
	st := s.Status()
	assert.Equal(t, uint64(1), st.Stats.StaleDropped)
	assert.Equal(t, uint64(3), st.Seq)
}

func TestRecoveryAndExhaustion(t *testing.T) {
	// ExhaustedRetry 0 is the opt-in "wait for the operator" mode.
	h := newHarness(t, func(c *Config) { c.RecoveryCap = 2; c.ExhaustedRetry = 0 })
	s := h.slot1
	h.drv.syncErr = errors.New("connection refused")
	s.LinkUp()
	require.Equal(t, Error, s.State())
	h.advance(time.Hour)
	require.Equal(t, Error, s.State())
	st := s.Status()
	assert.True(t, st.Exhausted)
	assert.Equal(t, 0, st.AttemptsLeft)
	assert.Equal(t, uint64(2), st.Stats.Recoveries)
	assert.Equal(t, uint64(1), st.Stats.Exhaustions)
	require.Len(t, h.exh, 1)
	assert.Contains(t, h.exh[0].LastError, "connection refused")

	err := s.WaitSynced(context.Background())
	require.ErrorIs(t, err, ErrExhausted)

	h.drv.syncErr = nil
	_, err = s.Reset("operator")
	require.NoError(t, err)
	require.Equal(t, WaitReply, s.State())
	require.NoError(t, s.SyncOK(h.drv.last().Session))
	require.NoError(t, s.WaitSynced(context.Background()))
	assert.Equal(t, 2, s.Status().AttemptsLeft)
	_, err = s.Reset("again")
	require.ErrorIs(t, err, fsm.ErrNotAllowed)
}

func TestBudgetRefillsAfterStablePeriod(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RecoveryCap = 2; c.StablePeriod = time.Minute })
	s := h.slot1
	s.LinkUp()
	require.NoError(t, s.Fail(h.drv.last().Session, "boom"))
	h.advance(5 * time.Second)
	require.NoError(t, s.SyncOK(h.drv.last().Session))
	assert.Equal(t, 1, s.Status().AttemptsLeft)
	for i := 0; i < 7; i++ { // keep data flowing for 70 s
		h.advance(10 * time.Second)
		require.NoError(t, s.Data(h.drv.last().Session))
	}
	assert.Equal(t, 2, s.Status().AttemptsLeft, "stable for a minute: budget refilled")
}

func TestWaitSyncedManyWaitersAndDetach(t *testing.T) {
	h := newHarness(t, nil)
	s := h.slot1
	s.LinkUp()
	errs := make(chan error, 8)
	for i := 0; i < 4; i++ {
		go func() { errs <- s.WaitSynced(context.Background()) }()
	}
	require.NoError(t, s.SyncOK(h.drv.last().Session))
	for i := 0; i < 4; i++ {
		require.NoError(t, <-errs)
	}
	assert.Len(t, h.drv.reqs, 1, "waiters join the sync in flight; no extra request")

	_, err := s.Detach("op")
	require.NoError(t, err)
	require.ErrorIs(t, s.WaitSynced(context.Background()), ErrDetached)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.Resume("op")
	require.NoError(t, err)
	require.ErrorIs(t, s.WaitSynced(ctx), context.Canceled)
}

func TestLinkDownKeepsErrorAndDetached(t *testing.T) {
	h := newHarness(t, nil)
	s := h.slot1
	s.LinkUp()
	require.NoError(t, s.Fail(h.drv.last().Session, "boom"))
	s.LinkDown("instance down")
	assert.Equal(t, Error, s.State())
	h.advance(time.Minute)
	assert.Equal(t, NoConnect, s.State(), "recovers, then waits for the link")
	s.LinkUp()
	assert.Equal(t, WaitReply, s.State())
	s.LinkDown("instance down")
	assert.Equal(t, NoConnect, s.State())
	assert.Contains(t, h.drv.closed, h.drv.last().Session)
}

func TestDataUnderUnknownSessionResyncs(t *testing.T) {
	h := newHarness(t, nil)
	s := h.slot1
	s.LinkUp()
	sess := h.drv.last().Session
	require.NoError(t, s.SyncOK(sess))
	require.ErrorIs(t, s.Data(sess-1), ErrStaleSession)
	require.NoError(t, s.Data(sess+5))
	assert.Equal(t, WaitReply, s.State())
	assert.Equal(t, sess+1, h.drv.last().Session)
}

// TestExhaustedKeepsRetrying: with the default slow cadence an exhausted
// slot reports once per episode and keeps making one attempt every
// ExhaustedRetry, so it comes back by itself when the primary does.
func TestExhaustedKeepsRetrying(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RecoveryCap = 2 })
	s := h.slot1
	h.drv.syncErr = errors.New("connection refused")
	s.LinkUp()
	h.advance(time.Hour)
	st := s.Status()
	require.Equal(t, Error, st.State)
	assert.True(t, st.Exhausted)
	assert.Equal(t, uint64(1), st.Stats.Exhaustions, "reported once per episode")
	require.Len(t, h.exh, 1)
	assert.Equal(t, uint64(2+11), st.Stats.Recoveries, "2 budgeted, then one every 5 minutes")

	h.drv.syncErr = nil
	for i := 0; i < 300 && s.State() != WaitReply; i++ {
		h.advance(time.Second)
	}
	require.Equal(t, WaitReply, s.State(), "the slow cadence asked again within 5 minutes")
	require.NoError(t, s.SyncOK(h.drv.last().Session))
	st = s.Status()
	assert.False(t, st.Exhausted, "Connected ends the episode")
}
