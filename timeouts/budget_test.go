package timeouts

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Unix(0, 0) // clock.NewMock's start

func newBudget(t *testing.T, capacity int, stable time.Duration) Budget {
	t.Helper()
	b, err := NewBudget(capacity, stable)
	require.NoError(t, err)
	return b
}

func TestNewBudgetValidates(t *testing.T) {
	for _, c := range []struct {
		capacity int
		stable   time.Duration
		msg      string
	}{
		{0, time.Minute, "Budget cap must be >= 1, got 0"},
		{-1, time.Minute, "Budget cap must be >= 1, got -1"},
		{5, 0, "Budget stable period must be > 0, got 0s"},
		{5, -time.Second, "Budget stable period must be > 0, got -1s"},
	} {
		_, err := NewBudget(c.capacity, c.stable)
		require.Error(t, err)
		assert.True(t, errors.Is(err, ErrInvalidConfig))
		assert.EqualError(t, err, "timeouts: invalid configuration: "+c.msg)
	}
	b := newBudget(t, 5, time.Minute)
	assert.Equal(t, 5, b.Cap())
	assert.Equal(t, time.Minute, b.Stable())
}

func TestBudgetTakeUntilExhausted(t *testing.T) {
	b := newBudget(t, 3, time.Minute)
	assert.Equal(t, 3, b.Remaining())
	assert.False(t, b.Exhausted())
	for want := 1; want <= 3; want++ {
		attempt, ok := b.Take()
		require.True(t, ok)
		assert.Equal(t, want, attempt)
		assert.Equal(t, want, b.Used())
		assert.Equal(t, 3-want, b.Remaining())
	}
	assert.True(t, b.Exhausted())

	attempt, ok := b.Take()
	assert.False(t, ok)
	assert.Zero(t, attempt)
	assert.Equal(t, 3, b.Used(), "a failed Take changes nothing")
	assert.Zero(t, b.Remaining())

	b.Refill()
	assert.Zero(t, b.Used())
	assert.False(t, b.Exhausted())
	attempt, ok = b.Take()
	assert.True(t, ok)
	assert.Equal(t, 1, attempt, "numbering restarts after a refill")
}

func TestBudgetZeroValueIsExhausted(t *testing.T) {
	var b Budget
	assert.True(t, b.Exhausted())
	_, ok := b.Take()
	assert.False(t, ok)
	assert.Zero(t, b.Remaining())
}

func TestBudgetRefillsAfterStablePeriod(t *testing.T) {
	b := newBudget(t, 2, time.Minute)
	b.Take()
	b.Take()
	require.True(t, b.Exhausted())

	b.Connected(t0)
	assert.False(t, b.Settle(t0.Add(59*time.Second)), "not stable long enough")
	assert.True(t, b.Exhausted())
	assert.True(t, b.Settle(t0.Add(time.Minute)), "stable for exactly the period")
	assert.Zero(t, b.Used())
	assert.False(t, b.Settle(t0.Add(2*time.Minute)), "nothing left to refill")
}

func TestBudgetDisconnectBeforeStableKeepsUsage(t *testing.T) {
	b := newBudget(t, 5, time.Minute)
	b.Take()
	b.Take()
	b.Connected(t0)
	assert.False(t, b.Disconnected(t0.Add(30*time.Second)), "healthy for only 30s")
	assert.Equal(t, 2, b.Used())

	// The stable clock restarts on the next Connected; the earlier 30s do not count.
	b.Connected(t0.Add(40 * time.Second))
	assert.False(t, b.Settle(t0.Add(90*time.Second)))
	assert.True(t, b.Disconnected(t0.Add(100*time.Second)), "refills before leaving healthy")
	assert.Zero(t, b.Used())

	// Disconnected ends the healthy period: no refill while disconnected.
	b.Take()
	assert.False(t, b.Settle(t0.Add(time.Hour)))
	assert.False(t, b.Disconnected(t0.Add(time.Hour)))
	assert.Equal(t, 1, b.Used())
}

func TestBudgetConnectedIsIdempotent(t *testing.T) {
	b := newBudget(t, 1, time.Minute)
	b.Take()
	b.Connected(t0)
	b.Connected(t0.Add(50 * time.Second)) // must not restart the stable clock
	assert.True(t, b.Settle(t0.Add(time.Minute)))
}

func TestBudgetRecoveryCycle(t *testing.T) {
	// A link that flaps faster than the stable period exhausts the budget;
	// one that stays up long enough earns it back.
	b := newBudget(t, 3, time.Minute)
	now := t0
	for i := 1; i <= 3; i++ {
		attempt, ok := b.Take()
		require.True(t, ok)
		require.Equal(t, i, attempt)
		b.Connected(now)
		now = now.Add(10 * time.Second)
		require.False(t, b.Disconnected(now))
	}
	_, ok := b.Take()
	require.False(t, ok, "exhausted after 3 flaps")

	b.Refill() // operator reset
	b.Take()
	b.Connected(now)
	now = now.Add(5 * time.Minute)
	assert.True(t, b.Disconnected(now))
	assert.Equal(t, 3, b.Remaining())
}

func TestBudgetCreditGivesOneBackWhenSpent(t *testing.T) {
	b, err := NewBudget(2, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	b.Credit()
	if b.Remaining() != 2 {
		t.Fatalf("credit on a full budget changed it: %d left", b.Remaining())
	}
	b.Take()
	b.Credit()
	if b.Remaining() != 1 {
		t.Fatalf("credit on a budget with some left changed it: %d left", b.Remaining())
	}
	b.Take()
	b.Credit()
	if b.Remaining() != 1 {
		t.Fatalf("credit on a spent budget: %d left, want 1", b.Remaining())
	}
}
