package replsmtest_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/replsmtest"
	"github.com/replsm/replsm/sim"
	"github.com/replsm/replsm/slot"
)

// countingDriver is an embedder's driver in miniature: it forwards to the
// scripted peer and counts what it was asked.
type countingDriver struct {
	replsmtest.Driver
	syncs atomic.Int64
}

func (d *countingDriver) Sync(req slot.Request) error {
	d.syncs.Add(1)
	return d.Driver.Sync(req)
}

func TestExploreAgainstCallersDriver(t *testing.T) {
	var drivers atomic.Int64
	var syncs atomic.Int64
	res := replsmtest.Explore(t, 1, 40, replsmtest.Options{
		Wrap: func(peer replsmtest.Driver) replsmtest.Driver {
			drivers.Add(1)
			d := &countingDriver{Driver: peer}
			return &syncCounter{countingDriver: d, total: &syncs}
		},
	})
	assert.Empty(t, res.Failures)
	assert.GreaterOrEqual(t, drivers.Load(), int64(40), "one driver per history")
	assert.Positive(t, syncs.Load(), "the caller's driver carried the requests")
}

type syncCounter struct {
	*countingDriver
	total *atomic.Int64
}

func (s *syncCounter) Sync(req slot.Request) error {
	s.total.Add(1)
	return s.countingDriver.Sync(req)
}

// A broken driver (it drops every request on the floor but says it sent
// it) is caught: the shards never sync, liveness fails.
func TestExploreCatchesBrokenDriver(t *testing.T) {
	f, ok := replsmtest.FirstFailure(1, 20, replsmtest.Property(replsmtest.Options{
		Wrap: func(peer replsmtest.Driver) replsmtest.Driver { return blackhole{peer} },
	}))
	require.True(t, ok)
	assert.Contains(t, f.Message, replsmtest.InvLiveness+": ")
}

type blackhole struct{ replsmtest.Driver }

func (blackhole) Sync(slot.Request) error { return nil }

// Advance fires each deadline at its own time across a long jump.
func TestAdvanceFiresEveryDeadlineInOrder(t *testing.T) {
	clk := sim.NewClock()
	epoch := clk.Now()
	var seen []string
	in, err := replica.New(replica.Options{
		Slot: slot.Options{Clock: clk, Driver: silent{}, Seed: 1, Observers: []slot.Observer{func(r slot.Record) {
			seen = append(seen, string(r.Event)+"@"+r.Time.Sub(epoch).String())
		}}},
		Driver: silent{}, Config: replica.DefaultConfig(), SlotConfig: slot.DefaultConfig(),
	})
	require.NoError(t, err)
	_, err = in.AddSlot(1, "")
	require.NoError(t, err)
	_, err = in.SlaveOf("10.0.0.1:9221")
	require.NoError(t, err)
	rt := in.Runtime()
	replsmtest.Settle(rt)
	replsmtest.Advance(clk, 0, rt)
	_, err = in.Deliver(1, 0, slot.EvSyncOK, "")
	require.Error(t, err) // the instance has not connected: no session
	assert.Empty(t, seen)
	require.NoError(t, in.MetaOK(in.Session()))
	replsmtest.Advance(clk, 15*time.Second, rt)
	// The request at 0, its reply timeout at 10 s, then Error's backoff
	// recovery (about 1 s later) and a new request: each at its own time.
	require.GreaterOrEqual(t, len(seen), 5)
	assert.Equal(t, "reply_timeout@10s", seen[2])
	assert.Equal(t, "recover", seen[3][:len("recover")])
	assert.NotEqual(t, "recover@15s", seen[3], "fired at its own time, not at the end of the jump")
}

type silent struct{}

func (silent) Sync(slot.Request) error             { return nil }
func (silent) Close(slot.ID, slot.Session, string) {}
func (silent) MetaSync(replica.MetaRequest) error  { return nil }
func (silent) MetaClose(slot.Session, string)      {}
