package timeouts

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// ErrInvalidConfig is returned, wrapped with the offending field and its
// value, by Backoff.Validate and NewBudget when a setting is out of range:
// a zero or negative duration, a cap below 1, a multiplier below 1, a jitter
// outside [0, 1), or a Max below Initial. Test for it with errors.Is.
var ErrInvalidConfig = errors.New("timeouts: invalid configuration")

// Backoff is an exponential backoff policy with jitter, shaped like gRPC's
// connection backoff. The zero value is invalid; start from DefaultBackoff.
type Backoff struct {
	Initial    time.Duration // first delay; default 1s
	Multiplier float64       // growth per attempt; default 1.6
	Jitter     float64       // ± fraction; default 0.2
	Max        time.Duration // cap on the un-jittered delay; default 120s
}

// DefaultBackoff returns gRPC's connection-backoff numbers: initial 1s,
// multiplier 1.6, jitter ±20 %, max 120s.
func DefaultBackoff() Backoff {
	return Backoff{
		Initial:    time.Second,
		Multiplier: 1.6,
		Jitter:     0.2,
		Max:        120 * time.Second,
	}
}

// Validate reports whether b is usable. It returns an error wrapping
// ErrInvalidConfig that names the first bad field and its value.
func (b Backoff) Validate() error {
	switch {
	case b.Initial <= 0:
		return invalid("Backoff.Initial must be > 0, got %v", b.Initial)
	case !(b.Multiplier >= 1) || math.IsInf(b.Multiplier, 0): // !(>=) also rejects NaN
		return invalid("Backoff.Multiplier must be >= 1 and finite, got %v", b.Multiplier)
	case !(b.Jitter >= 0 && b.Jitter < 1):
		return invalid("Backoff.Jitter must be in [0, 1), got %v", b.Jitter)
	case b.Max <= 0:
		return invalid("Backoff.Max must be > 0, got %v", b.Max)
	case b.Max < b.Initial:
		return invalid("Backoff.Max must be >= Backoff.Initial (%v), got %v", b.Initial, b.Max)
	}
	return nil
}

// Delay returns the wait before retry number attempt (0-based; negative
// counts as 0): min(Max, Initial*Multiplier^attempt), multiplied by a factor
// drawn uniformly from [1-Jitter, 1+Jitter) using one r.Float64 call. When r is
// nil or Jitter is 0 there is no jitter and r is not read.
//
// The growth is computed in floating point and capped before converting, so
// any attempt number is safe: huge ones give Max±jitter. For a valid policy
// the result is always > 0. For an invalid one Delay does not panic and still
// returns a positive duration, but its value is unspecified.
func (b Backoff) Delay(attempt int, r *rand.Rand) time.Duration {
	attempt = max(attempt, 0)
	capped := float64(b.Max)
	d := float64(b.Initial) * math.Pow(b.Multiplier, float64(attempt))
	if !(d < capped) { // also catches +Inf and NaN
		d = capped
	}
	if r != nil && b.Jitter > 0 {
		d *= 1 + b.Jitter*(2*r.Float64()-1)
	}
	switch {
	case !(d >= 1): // rounds to 0 ns, negative or NaN: never return a non-positive wait
		return 1
	case d >= math.MaxInt64: // Max near the int64 limit plus jitter
		return math.MaxInt64
	}
	return time.Duration(d)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
}

// Label writes a duration the way people write timeouts: "60s" rather
// than Go's "1m0s", for diagram labels and messages.
func Label(d time.Duration) string {
	if d > 0 && d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}
