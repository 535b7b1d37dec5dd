package replica

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/fsm"
	"github.com/replsm/replsm/slot"
)

// scripted answers nothing by itself; the test replies.
type scripted struct {
	mu      sync.Mutex
	metas   []MetaRequest
	syncs   []slot.Request
	closed  []slot.Session
	metaErr error
}

func (d *scripted) Sync(r slot.Request) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.syncs = append(d.syncs, r)
	return nil
}
func (d *scripted) Close(_ slot.ID, s slot.Session, _ string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = append(d.closed, s)
}
func (d *scripted) MetaSync(r MetaRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.metas = append(d.metas, r)
	return d.metaErr
}
func (d *scripted) MetaClose(slot.Session, string) {}

func newInstance(t *testing.T, mutate func(*Options)) (*Instance, *scripted, *clock.Mock) {
	t.Helper()
	clk, drv := clock.NewMock(), &scripted{}
	opts := Options{Slot: slot.Options{Clock: clk, Driver: drv, Seed: 1}, Driver: drv, Config: DefaultConfig(), SlotConfig: slot.DefaultConfig()}
	if mutate != nil {
		mutate(&opts)
	}
	in, err := New(opts)
	require.NoError(t, err)
	return in, drv, clk
}

func advance(in *Instance, clk *clock.Mock, d time.Duration) {
	end := clk.Now().Add(d)
	for {
		next, ok := in.Runtime().Next()
		if !ok || next.After(end) {
			break
		}
		clk.Set(next)
		in.Runtime().RunDue()
	}
	clk.Set(end)
}

func TestBadInput(t *testing.T) {
	in, drv, _ := newInstance(t, nil)
	_, err := in.SlaveOf("  ")
	require.ErrorIs(t, err, ErrNoMaster)
	_, err = in.AddSlot(1, "")
	require.NoError(t, err)
	_, err = in.AddSlot(1, "")
	require.ErrorIs(t, err, ErrSlotExists)
	require.ErrorIs(t, in.RemoveSlot(9), ErrUnknownSlot)
	_, err = in.Deliver(9, 1, slot.EvSyncOK, "")
	require.ErrorIs(t, err, ErrUnknownSlot)
	_, err = in.Reset("not in error")
	require.ErrorIs(t, err, fsm.ErrNotAllowed)

	_, err = in.SlaveOf("m:1")
	require.NoError(t, err)
	require.Len(t, drv.metas, 1)
	require.ErrorIs(t, in.MetaOK(drv.metas[0].Session+1), ErrStaleSession)
	assert.Equal(t, Connecting, in.State())

	cfg := DefaultConfig()
	cfg.MetaTimeout = 0
	_, err = New(Options{Slot: slot.Options{Clock: clock.NewMock(), Driver: drv}, Driver: drv, Config: cfg, SlotConfig: slot.DefaultConfig()})
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = New(Options{Slot: slot.Options{Clock: clock.NewMock(), Driver: drv}, Config: DefaultConfig(), SlotConfig: slot.DefaultConfig()})
	require.ErrorIs(t, err, slot.ErrMissingOption)
}

func TestLinkUpOnlyWhenEverySlotConnected(t *testing.T) {
	in, drv, _ := newInstance(t, nil)
	for i := 1; i <= 2; i++ {
		_, err := in.AddSlot(slot.ID(i), "")
		require.NoError(t, err)
	}
	_, _ = in.SlaveOf("m:1")
	require.NoError(t, in.MetaOK(drv.metas[0].Session))
	require.Len(t, drv.syncs, 2)
	assert.False(t, in.Info().LinkUp)
	_, err := in.Deliver(1, drv.syncs[0].Session, slot.EvSyncOK, "")
	require.NoError(t, err)
	assert.False(t, in.Info().LinkUp)
	s2, _ := in.Slot(2)
	_, err = s2.Detach("op")
	require.NoError(t, err)
	assert.True(t, in.Info().LinkUp, "detached slots do not hold the link down")
}

func TestRemoveSlotDuringFullSyncDetachesFirst(t *testing.T) {
	in, drv, _ := newInstance(t, nil)
	s, err := in.AddSlot(1, "")
	require.NoError(t, err)
	_, _ = in.SlaveOf("m:1")
	require.NoError(t, in.MetaOK(drv.metas[0].Session))
	sess := drv.syncs[0].Session
	require.NoError(t, s.DBSyncStarted(sess, "snapshot"))
	require.NoError(t, in.RemoveSlot(1))
	assert.Equal(t, slot.Detached, s.State())
	assert.Contains(t, drv.closed, sess, "the transfer session was closed")
	_, err = in.Deliver(1, sess, slot.EvDBSyncDone, "")
	require.ErrorIs(t, err, ErrUnknownSlot)
}

func TestInstanceErrorExhaustsThenReset(t *testing.T) {
	var exhausted []Record
	in, drv, clk := newInstance(t, func(o *Options) {
		o.Config.RecoveryCap = 1
		o.Config.ExhaustedRetry = 0 // opt-in: wait for the operator
		o.OnExhausted = func(r Record) { exhausted = append(exhausted, r) }
	})
	_, _ = in.SlaveOf("m:1")
	require.NoError(t, in.Fatal(drv.metas[0].Session, "auth failed"))
	require.Equal(t, Error, in.State())
	advance(in, clk, time.Minute)
	require.Equal(t, Connecting, in.State(), "recovered and reconnecting")
	require.NoError(t, in.Fatal(in.Session(), "auth failed again"))
	advance(in, clk, time.Hour)
	require.Equal(t, Error, in.State())
	require.Len(t, exhausted, 1)
	assert.True(t, in.Info().Exhausted)
	_, err := in.Reset("operator")
	require.NoError(t, err)
	assert.Equal(t, Connecting, in.State())
	assert.Equal(t, 1, in.Info().AttemptsLeft)
}

func TestMetaFailuresBackOff(t *testing.T) {
	in, drv, clk := newInstance(t, nil)
	drv.metaErr = assert.AnError
	_, _ = in.SlaveOf("m:1")
	assert.Equal(t, Connect, in.State())
	start := clk.Now()
	advance(in, clk, 10*time.Second)
	// initial 1s, then 1.6s, 2.56s, 4.1s (± jitter): about four tries in 10 s, not hundreds.
	assert.InDelta(t, 5, len(drv.metas), 1.5)
	assert.True(t, clk.Now().After(start))
}

func TestAddSlotReadyRunsBeforeTheSlotStarts(t *testing.T) {
	in, drv, _ := newInstance(t, nil)
	_, _ = in.SlaveOf("m:1")
	require.NoError(t, in.MetaOK(drv.metas[0].Session))
	// A refusal adds nothing.
	_, err := in.AddSlotReady(3, "", func(*slot.Slot) error { return errors.New("not now") })
	require.EqualError(t, err, "not now")
	_, err = in.Slot(3)
	require.ErrorIs(t, err, ErrUnknownSlot)
	// The instance is Connected: the slot starts at once, after ready.
	var syncsAtReady int
	s, err := in.AddSlotReady(3, "", func(*slot.Slot) error {
		syncsAtReady = len(drv.syncs)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 0, syncsAtReady, "ready ran before the slot asked for a sync")
	require.Len(t, drv.syncs, 1)
	assert.Equal(t, slot.ID(3), drv.syncs[0].Slot)
	assert.Equal(t, slot.WaitReply, s.State())
}
