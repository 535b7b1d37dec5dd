package redisproc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redisproc"
)

func TestPoll(t *testing.T) {
	ctx := context.Background()
	mock := clock.NewMock()

	calls := 0
	require.NoError(t, redisproc.Poll(ctx, mock, time.Second, func() error { calls++; return nil }))
	assert.Equal(t, 1, calls, "a condition that holds is checked once, without waiting")

	boom := errors.New("boom")
	err := redisproc.Poll(ctx, mock, time.Second, func() error { return redisproc.Permanent(boom) })
	assert.Same(t, boom, err, "a permanent error ends the poll as it is")
	assert.NoError(t, redisproc.Permanent(nil))

	done := make(chan error, 1)
	go func() {
		n := 0
		done <- redisproc.Poll(ctx, mock, time.Second, func() error {
			if n++; n == 3 {
				return nil
			}
			return errors.New("not yet")
		})
	}()
	require.NoError(t, advanceUntil(mock, done), "held on the third check")

	go func() {
		done <- redisproc.Poll(ctx, mock, time.Second, func() error { return errors.New("still down") })
	}()
	err = advanceUntil(mock, done)
	require.ErrorIs(t, err, redisproc.ErrTimeout)
	assert.Contains(t, err.Error(), "still down")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err = redisproc.Poll(cctx, mock, time.Second, func() error { return errors.New("down") })
	require.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, redisproc.ErrTimeout)
	assert.Contains(t, err.Error(), "down")
}
