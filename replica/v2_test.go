package replica

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/slot"
)

// SlaveOf to the master already followed changes nothing; to another one it
// re-points and refills every shard, exhausted ones included.
func TestSlaveOfSameMasterIsNoOpAndNewMasterRefills(t *testing.T) {
	in, drv, clk := newInstance(t, func(o *Options) {
		o.SlotConfig.RecoveryCap = 1
		o.SlotConfig.ExhaustedRetry = 0
	})
	s1, _ := in.AddSlot(1, "")
	s2, _ := in.AddSlot(2, "")
	_, err := in.SlaveOf("m:1")
	require.NoError(t, err)
	require.NoError(t, in.MetaOK(drv.metas[0].Session))
	require.NoError(t, s1.SyncOK(drv.syncs[0].Session))
	require.NoError(t, s2.DBSyncStarted(drv.syncs[1].Session, "+FULLRESYNC"))

	rec, err := in.SlaveOf("m:1")
	require.NoError(t, err)
	assert.Zero(t, rec.Seq, "no record")
	assert.Equal(t, Connected, in.State())
	assert.Equal(t, slot.Connected, s1.State())
	assert.Equal(t, slot.WaitDBSync, s2.State(), "transfer not aborted")
	assert.Empty(t, drv.closed)

	// Exhaust slot 1.
	require.NoError(t, s1.Fail(s1.Session(), "EOF"))
	advance(in, clk, 2*time.Second)
	require.NoError(t, s1.Fail(s1.Session(), "EOF"))
	require.True(t, s1.Status().Exhausted)

	n := len(drv.syncs)
	_, err = in.SlaveOf("m:2")
	require.NoError(t, err)
	assert.Equal(t, slot.NoConnect, s1.State(), "reset, but waiting for the new link")
	assert.Len(t, drv.syncs, n, "no handshake before the new meta handshake")
	require.NoError(t, in.MetaOK(in.Session()))
	st := s1.Status()
	assert.False(t, st.Exhausted)
	assert.Equal(t, 1, st.AttemptsLeft)
	assert.Equal(t, slot.WaitReply, st.State)

	_, err = in.SlaveOf("bad addr")
	require.ErrorIs(t, err, ErrNoMaster)
	assert.Equal(t, "m:2", in.Master())
}

// RemoveSlot then AddSlot of the same id: the new slot's sessions are new,
// so a late reply for the old incarnation is stale.
func TestReAddedSlotGetsNewSessions(t *testing.T) {
	in, drv, _ := newInstance(t, nil)
	_, _ = in.AddSlot(1, "")
	_, _ = in.SlaveOf("m:1")
	require.NoError(t, in.MetaOK(drv.metas[0].Session))
	old := drv.syncs[0].Session
	require.NoError(t, in.RemoveSlot(1))
	s, err := in.AddSlot(1, "")
	require.NoError(t, err)
	assert.NotEqual(t, old, s.Session())
	_, err = in.Deliver(1, old, slot.EvSyncOK, "")
	require.ErrorIs(t, err, slot.ErrStaleSession)
}

// A slot probing after an unreached failure recovers at once when a sibling
// on the same endpoint connects.
func TestSiblingConnectedRecoversProbingSlot(t *testing.T) {
	drv := &refusing{}
	in, _, _ := newInstance(t, func(o *Options) { o.Slot.Driver = drv; o.Driver = drv })
	s1, _ := in.AddSlot(1, "10.0.0.9:6379")
	s2, _ := in.AddSlot(2, "10.0.0.9:6379")
	drv.refuse(1)
	_, _ = in.SlaveOf("m:1")
	require.NoError(t, in.MetaOK(drv.metas[0].Session))
	require.Equal(t, slot.Error, s1.State())
	require.True(t, s1.Status().Probing)
	drv.refuse(0)
	require.NoError(t, s2.SyncOK(s2.Session()))
	assert.Equal(t, slot.WaitReply, s1.State(), "recovered through its sibling")
}

// WaitSynced on the instance returns promptly when the instance exhausts.
func TestInstanceWaitSyncedReturnsOnExhaustion(t *testing.T) {
	in, drv, clk := newInstance(t, func(o *Options) { o.Config.RecoveryCap = 1 })
	_, _ = in.AddSlot(1, "")
	_, _ = in.SlaveOf("m:1")
	done := make(chan error, 1)
	go func() { done <- in.WaitSynced(context.Background()) }()
	require.NoError(t, in.Fatal(drv.metas[0].Session, "auth"))
	advance(in, clk, time.Minute)
	require.NoError(t, in.Fatal(in.Session(), "auth again"))
	select {
	case err := <-done:
		require.ErrorIs(t, err, ErrExhausted)
	case <-time.After(10 * time.Second):
		t.Fatal("WaitSynced did not return")
	}
	// It keeps retrying at the slow cadence.
	advance(in, clk, 6*time.Minute)
	assert.NotEqual(t, Error, in.State())
}

// Shard data counts as activity of the instance link: an embedding that
// only reports shard data keeps its streaming shards.
func TestShardDataKeepsInstanceAlive(t *testing.T) {
	in, drv, clk := newInstance(t, nil)
	s, _ := in.AddSlot(1, "")
	_, _ = in.SlaveOf("m:1")
	require.NoError(t, in.MetaOK(drv.metas[0].Session))
	require.NoError(t, s.SyncOK(drv.syncs[0].Session))
	for i := 0; i < 10; i++ {
		advance(in, clk, 15*time.Second)
		require.NoError(t, s.Data(s.Session()))
	}
	assert.Equal(t, Connected, in.State(), "150 s of shard data, no instance activity")
	assert.Equal(t, slot.Connected, s.State())
}

func TestRepointSlot(t *testing.T) {
	in, drv, _ := newInstance(t, nil)
	s, _ := in.AddSlot(1, "10.0.0.1:6379")
	_, _ = in.SlaveOf("m:1")
	require.NoError(t, in.MetaOK(drv.metas[0].Session))
	rec, err := in.RepointSlot(1, "10.0.0.2:6379", "failover")
	require.NoError(t, err)
	assert.Equal(t, slot.EvRepoint, rec.Event)
	assert.Equal(t, "10.0.0.2:6379", s.Endpoint())
	_, err = in.RepointSlot(7, "x:1", "")
	require.ErrorIs(t, err, ErrUnknownSlot)
}

// refusing refuses sync requests of its slots while told to; it probes
// nothing (its Probe is a no-op), so recovery comes from a sibling.
type refusing struct {
	scripted
	rmu  sync.Mutex
	slot slot.ID
}

func (d *refusing) refuse(id slot.ID) { d.rmu.Lock(); d.slot = id; d.rmu.Unlock() }

func (d *refusing) Sync(r slot.Request) error {
	_ = d.scripted.Sync(r)
	d.rmu.Lock()
	defer d.rmu.Unlock()
	if r.Slot == d.slot {
		return errors.New("connection refused")
	}
	return nil
}

func (d *refusing) Probe(slot.ProbeRequest) {}
