package redisproc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redisproc"
)

// TestStartSentinelMonitorsPrimary: a real sentinel comes up on its own
// config file and names the primary it was given.
func TestStartSentinelMonitorsPrimary(t *testing.T) {
	p := start(t, redisproc.Options{})
	s, err := redisproc.StartSentinel(context.Background(), redisproc.SentinelOptions{
		Dir: t.TempDir(), Master: "m1", MasterPort: p.Port(), Quorum: 1,
	})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	c := client(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr, err := c.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "m1").StringSlice()
	require.NoError(t, err)
	assert.Equal(t, []string{"127.0.0.1", p.Args()[1]}, addr)
}

func TestStartSentinelBadOptions(t *testing.T) {
	for _, o := range []redisproc.SentinelOptions{
		{Master: "m", MasterPort: 6379},
		{Dir: t.TempDir(), MasterPort: 6379},
		{Dir: t.TempDir(), Master: "m"},
		{Dir: t.TempDir(), Master: "a b", MasterPort: 6379},
	} {
		_, err := redisproc.StartSentinel(context.Background(), o)
		assert.True(t, errors.Is(err, redisproc.ErrInvalidArgument), "%+v: %v", o, err)
	}
}
