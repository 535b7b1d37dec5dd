package follower

import (
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/host"
)

type closer struct {
	mu     sync.Mutex
	closed []string
}

func (c *closer) Close(id string, _ Session, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = append(c.closed, id+": "+reason)
}

func newSet(t *testing.T) (*Set, *closer, *clock.Mock, *host.Runtime) {
	clk := clock.NewMock()
	rt := host.NewRuntime(clk, nil, 1)
	c := &closer{}
	fs, err := NewSet(Options{Runtime: rt, Driver: c, Config: Config{SyncTimeout: 30 * time.Second, AckTimeout: 20 * time.Second}})
	require.NoError(t, err)
	return fs, c, clk, rt
}

func step(clk *clock.Mock, rt *host.Runtime, d time.Duration) {
	clk.Add(d)
	rt.RunDue()
}

// The sync timeout is an idle limit: a transfer that keeps moving for longer
// than it is never cut; once progress stops, the follower is removed and
// the driver closes its connection.
func TestSyncTimeoutIsIdle(t *testing.T) {
	fs, c, clk, rt := newSet(t)
	f := fs.Add("r1")
	require.NoError(t, f.FullSyncRequested("psync ?"))
	for i := 0; i < 12; i++ { // 120 s of transfer, 10 s apart
		step(clk, rt, 10*time.Second)
		f.Progress()
	}
	assert.Equal(t, DBSync, f.State())
	assert.Empty(t, c.closed)
	step(clk, rt, 30*time.Second)
	assert.Equal(t, Removed, f.State())
	require.Len(t, c.closed, 1)
	assert.Contains(t, c.closed[0], "sync_timeout")
	_, ok := fs.Get("r1")
	assert.False(t, ok)
}

// A reconnect replaces the old follower: the old connection is closed
// through the driver and its acks are stale.
func TestReconnectReplacesAndOldAcksAreStale(t *testing.T) {
	fs, c, _, _ := newSet(t)
	old := fs.Add("r1")
	f := fs.Add("r1")
	assert.NotEqual(t, old.Session(), f.Session())
	assert.Equal(t, Removed, old.State())
	require.Len(t, c.closed, 1)
	require.ErrorIs(t, f.Ack(old.Session(), 10), ErrStaleSession)
	require.NoError(t, f.Continue("+CONTINUE"))
	require.NoError(t, f.Ack(f.Session(), 10))
	assert.Equal(t, int64(10), f.Status().Offset)
}

func TestNewSetRejectsBadOptions(t *testing.T) {
	_, err := NewSet(Options{})
	require.ErrorIs(t, err, ErrMissingOption)
	_, err = NewSet(Options{Runtime: host.NewRuntime(clock.NewMock(), nil, 1), Driver: &closer{}})
	require.ErrorIs(t, err, ErrInvalidConfig)
}
