package follower

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSnapshotsShareOne(t *testing.T) {
	var c Snapshots[int, string]
	release := make(chan struct{})
	builds := 0
	build := func(context.Context) (string, error) { <-release; builds++; return "snap", nil }
	type res struct {
		v      string
		shared bool
	}
	out := make(chan res, 3)
	for i := 0; i < 3; i++ {
		go func() { v, sh, _ := c.Acquire(context.Background(), 1, build); out <- res{v, sh} }()
	}
	require.Eventually(t, func() bool { s, j := c.Counts(); return s+j == 3 }, 5*time.Second, time.Millisecond)
	close(release)
	shared := 0
	for i := 0; i < 3; i++ {
		r := <-out
		assert.Equal(t, "snap", r.v)
		if r.shared {
			shared++
		}
	}
	assert.Equal(t, 1, builds)
	assert.Equal(t, 2, shared)
}
