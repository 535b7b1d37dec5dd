package timeouts

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultBackoffIsGRPC(t *testing.T) {
	b := DefaultBackoff()
	assert.Equal(t, Backoff{Initial: time.Second, Multiplier: 1.6, Jitter: 0.2, Max: 120 * time.Second}, b)
	require.NoError(t, b.Validate())
}

func TestBackoffDelayWithoutJitter(t *testing.T) {
	b := DefaultBackoff()
	want := []time.Duration{
		1 * time.Second,
		1600 * time.Millisecond,
		2560 * time.Millisecond,
		4096 * time.Millisecond,
		6553600 * time.Microsecond,
		10485760 * time.Microsecond,
		16777216 * time.Microsecond,
		26843545600 * time.Nanosecond,
		42949672960 * time.Nanosecond,
		68719476736 * time.Nanosecond,
		109951162777 * time.Nanosecond, // 1.6^10 s, truncated to the nanosecond
		120 * time.Second,              // capped from here on
		120 * time.Second,
	}
	for attempt, w := range want {
		assert.Equal(t, w, b.Delay(attempt, nil), "attempt %d", attempt)
	}
	assert.Equal(t, time.Second, b.Delay(-3, nil), "negative attempt counts as 0")

	noJitter := b
	noJitter.Jitter = 0
	r := rand.New(rand.NewPCG(1, 2))
	assert.Equal(t, 1600*time.Millisecond, noJitter.Delay(1, r), "Jitter 0 ignores r")
	assert.Equal(t, rand.New(rand.NewPCG(1, 2)).Uint64(), r.Uint64(), "Jitter 0 must not consume draws")
}

func TestBackoffDelaySeededJitterIsExact(t *testing.T) {
	b := DefaultBackoff()
	r := rand.New(rand.NewPCG(1, 2))
	// Golden values: one r.Float64 per call, factor 1 + 0.2*(2u-1).
	want := []time.Duration{
		1070582263 * time.Nanosecond,
		1575287179 * time.Nanosecond,
		2568752535 * time.Nanosecond,
		3980972431 * time.Nanosecond,
		7334270990 * time.Nanosecond,
		10017535103 * time.Nanosecond,
	}
	for attempt, w := range want {
		assert.Equal(t, w, b.Delay(attempt, r), "attempt %d", attempt)
	}

	// The same seed gives the same sequence.
	r1, r2 := rand.New(rand.NewPCG(7, 9)), rand.New(rand.NewPCG(7, 9))
	for attempt := range 50 {
		require.Equal(t, b.Delay(attempt, r1), b.Delay(attempt, r2))
	}
}

func TestBackoffDelayGrowsThenCaps(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Multiplier: 2, Max: 3 * time.Second}
	require.NoError(t, b.Validate())
	prev := time.Duration(0)
	for attempt := range 40 {
		d := b.Delay(attempt, nil)
		assert.GreaterOrEqual(t, d, prev, "non-decreasing at attempt %d", attempt)
		assert.LessOrEqual(t, d, b.Max)
		prev = d
	}
	assert.Equal(t, 1600*time.Millisecond, b.Delay(4, nil))
	assert.Equal(t, 3*time.Second, b.Delay(5, nil), "3.2s is capped to Max")

	flat := Backoff{Initial: time.Second, Multiplier: 1, Max: time.Second}
	require.NoError(t, flat.Validate())
	assert.Equal(t, time.Second, flat.Delay(1000, nil), "multiplier 1 is a constant delay")
}

func TestBackoffJitterBounds(t *testing.T) {
	b := DefaultBackoff()
	r := rand.New(rand.NewPCG(3, 4))
	for _, attempt := range []int{0, 3, 11, 1 << 20} {
		base := b.Delay(attempt, nil)
		lo := time.Duration(float64(base) * (1 - b.Jitter))
		hi := time.Duration(float64(base) * (1 + b.Jitter))
		minSeen, maxSeen := time.Duration(math.MaxInt64), time.Duration(0)
		for range 20000 {
			d := b.Delay(attempt, r)
			if d < lo || d > hi {
				require.Failf(t, "jitter out of bounds", "attempt %d: %v not in [%v, %v]", attempt, d, lo, hi)
			}
			minSeen, maxSeen = min(minSeen, d), max(maxSeen, d)
		}
		// The draws spread over the whole band, not a corner of it.
		span := float64(hi - lo)
		assert.Less(t, float64(minSeen-lo), 0.01*span, "attempt %d low end", attempt)
		assert.Less(t, float64(hi-maxSeen), 0.01*span, "attempt %d high end", attempt)
	}
}

func TestBackoffDelayNeverOverflows(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	policies := []Backoff{
		DefaultBackoff(),
		{Initial: time.Nanosecond, Multiplier: 10, Jitter: 0.99, Max: time.Duration(math.MaxInt64)},
		{Initial: time.Hour, Multiplier: math.MaxFloat64, Jitter: 0.5, Max: time.Duration(math.MaxInt64)},
		{Initial: time.Nanosecond, Multiplier: 1, Jitter: 0.9, Max: time.Nanosecond},
	}
	for _, b := range policies {
		require.NoError(t, b.Validate())
		for _, attempt := range []int{0, 1, 62, 63, 64, 1000, math.MaxInt32, math.MaxInt} {
			for range 100 {
				d := b.Delay(attempt, r)
				require.Positive(t, d, "%+v attempt %d", b, attempt)
			}
			require.Equal(t, min(b.Max, max(b.Initial, b.Max)), b.Delay(math.MaxInt, nil))
		}
	}
	huge := DefaultBackoff()
	for range 1000 {
		d := huge.Delay(math.MaxInt, r)
		require.GreaterOrEqual(t, d, 96*time.Second)
		require.LessOrEqual(t, d, 144*time.Second)
	}
}

func TestBackoffDelayInvalidPolicyStaysPositive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, b := range []Backoff{
		{},
		{Initial: -time.Second, Multiplier: 2, Max: time.Second},
		{Initial: time.Second, Multiplier: math.NaN(), Jitter: math.NaN(), Max: time.Minute},
		{Initial: time.Second, Multiplier: 0.5, Jitter: 5, Max: time.Minute},
	} {
		require.Error(t, b.Validate())
		for attempt := range 5 {
			assert.Positive(t, b.Delay(attempt, r), "%+v", b)
			assert.Positive(t, b.Delay(attempt, nil), "%+v", b)
		}
	}
}

func TestBackoffValidate(t *testing.T) {
	ok := DefaultBackoff()
	cases := []struct {
		name string
		mut  func(*Backoff)
		msg  string
	}{
		{"zero initial", func(b *Backoff) { b.Initial = 0 }, "timeouts: invalid configuration: Backoff.Initial must be > 0, got 0s"},
		{"negative initial", func(b *Backoff) { b.Initial = -time.Second }, "Backoff.Initial must be > 0, got -1s"},
		{"multiplier below 1", func(b *Backoff) { b.Multiplier = 0.9 }, "Backoff.Multiplier must be >= 1 and finite, got 0.9"},
		{"multiplier NaN", func(b *Backoff) { b.Multiplier = math.NaN() }, "got NaN"},
		{"multiplier Inf", func(b *Backoff) { b.Multiplier = math.Inf(1) }, "got +Inf"},
		{"negative jitter", func(b *Backoff) { b.Jitter = -0.1 }, "Backoff.Jitter must be in [0, 1), got -0.1"},
		{"jitter 1", func(b *Backoff) { b.Jitter = 1 }, "Backoff.Jitter must be in [0, 1), got 1"},
		{"jitter NaN", func(b *Backoff) { b.Jitter = math.NaN() }, "Backoff.Jitter must be in [0, 1), got NaN"},
		{"zero max", func(b *Backoff) { b.Max = 0 }, "Backoff.Max must be > 0, got 0s"},
		{"max below initial", func(b *Backoff) { b.Max = 500 * time.Millisecond }, "Backoff.Max must be >= Backoff.Initial (1s), got 500ms"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := ok
			c.mut(&b)
			err := b.Validate()
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrInvalidConfig))
			assert.Contains(t, err.Error(), c.msg)
		})
	}
	edge := Backoff{Initial: time.Second, Multiplier: 1, Jitter: 0, Max: time.Second}
	assert.NoError(t, edge.Validate(), "Multiplier 1, Jitter 0 and Max == Initial are valid")
}
