package redistest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEventuallySucceeds(t *testing.T) {
	calls := 0
	err := Eventually(context.Background(), 5*time.Second, func(context.Context) error {
		calls++
		if calls < 3 {
			return fmt.Errorf("call %d", calls)
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 3, calls)
}

func TestEventuallyTimesOutWithLastReason(t *testing.T) {
	start := time.Now()
	err := Eventually(context.Background(), 50*time.Millisecond, func(context.Context) error {
		return errors.New("still waiting")
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrTimeout)
	assert.Contains(t, err.Error(), "still waiting")
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestEventuallyHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Eventually(ctx, time.Minute, func(context.Context) error { return errors.New("no") })
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, ErrTimeout)

	dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer dcancel()
	err = Eventually(dctx, 0, func(context.Context) error { return errors.New("no") })
	assert.ErrorIs(t, err, ErrTimeout)
}

func TestBoundedContextDefault(t *testing.T) {
	ctx, cancel := boundedContext(context.Background(), 0)
	defer cancel()
	dl, ok := ctx.Deadline()
	require.True(t, ok, "an unbounded wait must get a default deadline")
	assert.WithinDuration(t, time.Now().Add(DefaultWaitTimeout), dl, time.Second)
}
