package milestone

import (
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/slot"
	"github.com/replsm/replsm/store"
)

type driver struct {
	mu    sync.Mutex
	syncs []slot.Request
	metas []replica.MetaRequest
	fail  bool
}

func (d *driver) Sync(r slot.Request) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.syncs = append(d.syncs, r)
	if d.fail {
		return assert.AnError
	}
	return nil
}
func (d *driver) Close(slot.ID, slot.Session, string) {}
func (d *driver) MetaSync(r replica.MetaRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.metas = append(d.metas, r)
	return nil
}
func (d *driver) MetaClose(slot.Session, string) {}

func TestMilestonesFromTransitions(t *testing.T) {
	st := store.NewMemory()
	inc, err := NextIncarnation(st)
	require.NoError(t, err)
	require.Equal(t, uint64(1), inc)
	inc, err = NextIncarnation(st)
	require.NoError(t, err)
	require.Equal(t, uint64(2), inc, "every start is a new incarnation")

	var batches [][]string
	appendAll := func(ms []store.Milestone) ([]store.Milestone, error) {
		var kinds []string
		for _, m := range ms {
			kinds = append(kinds, m.Kind)
		}
		batches = append(batches, kinds)
		return st.AppendMilestones(ms)
	}
	j := &Journal{Append: appendAll, Incarnation: inc, Attrs: func(id slot.ID) map[string]string {
		return map[string]string{"cursor_id": "abc", "offset": "1234"}
	}}
	clk, drv := clock.NewMock(), &driver{}
	cfg := slot.DefaultConfig()
	cfg.RecoveryCap = 1
	icfg := replica.DefaultConfig()
	icfg.RecoveryCap = 1
	icfg.IdleTimeout = 0 // the fake master sends nothing
	in, err := replica.New(replica.Options{
		Slot:   slot.Options{Clock: clk, Driver: drv, Journal: j.Slot},
		Driver: drv, Config: icfg, SlotConfig: cfg, Journal: j.Instance,
	})
	require.NoError(t, err)
	s, err := in.AddSlot(3, "")
	require.NoError(t, err)
	_, err = in.SlaveOf("m:1")
	require.NoError(t, err)
	require.NoError(t, in.MetaOK(drv.metas[0].Session))
	sess := drv.syncs[0].Session
	require.NoError(t, s.DBSyncStarted(sess, "+FULLRESYNC"))
	require.NoError(t, s.DBSyncDone(sess))

	// Fail twice: one recovery, then exhausted.
	drv.fail = true
	require.NoError(t, s.Fail(sess, "EOF"))
	clk.Add(time.Minute)
	in.Runtime().RunDue()
	require.Equal(t, slot.Error, s.State())

	require.NoError(t, in.Fatal(in.Session(), "replication id mismatch"))
	clk.Add(time.Minute)
	in.Runtime().RunDue()

	ms, err := st.PendingMilestones(0, 100)
	require.NoError(t, err)
	var got []string
	for _, m := range ms {
		got = append(got, m.Kind+" "+m.Key)
	}
	assert.Equal(t, []string{
		"full_sync_completed inc/2/slot/3/4/full_sync_completed",
		"shard_connected inc/2/slot/3/4/shard_connected",
		"shard_exhausted inc/2/slot/3/9/shard_exhausted",
		"instance_error inc/2/instance/4/instance_error",
		"instance_recovered inc/2/instance/5/instance_recovered",
	}, got)
	assert.Equal(t, []string{"full_sync_completed", "shard_connected"}, batches[0], "one transition's milestones are durable together")
	assert.Equal(t, "1234", ms[0].Attrs["offset"])
	assert.Equal(t, "abc", ms[0].Attrs["cursor_id"])
	assert.Equal(t, "slot/3", ms[0].Slot)
}
