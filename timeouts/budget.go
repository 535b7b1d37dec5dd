package timeouts

import "time"

// Budget caps automatic recoveries and refills itself once its owner has
// stayed healthy for a stable period. Each recovery calls Take; when Take
// reports false the budget is spent until an operator calls Refill or a
// stable period passes (what the owner does meanwhile is its policy).
//
// The owner reports health with Connected and Disconnected and may call
// Settle on status reads or periodic checks. The budget never reads a clock:
// every time is passed in, so it behaves the same on a mock clock.
//
// A Budget is a value meant to be embedded in a struct guarded by its owner's
// mutex. It is not safe for concurrent use by itself. Create it with
// NewBudget; the zero value has a cap of 0 and is always exhausted.
type Budget struct {
	cap    int
	used   int
	stable time.Duration

	healthy      bool
	healthySince time.Time
}

// NewBudget returns a full budget of cap recoveries that refills after the
// owner has been healthy for stable. It returns an error wrapping
// ErrInvalidConfig when cap < 1 or stable <= 0.
func NewBudget(cap int, stable time.Duration) (Budget, error) {
	if cap < 1 {
		return Budget{}, invalid("Budget cap must be >= 1, got %d", cap)
	}
	if stable <= 0 {
		return Budget{}, invalid("Budget stable period must be > 0, got %v", stable)
	}
	return Budget{cap: cap, stable: stable}, nil
}

// Cap returns the number of recoveries allowed per stable period.
func (b *Budget) Cap() int { return b.cap }

// Used returns how many recoveries have been taken since the last refill.
func (b *Budget) Used() int { return b.used }

// Remaining returns how many recoveries may still be taken.
func (b *Budget) Remaining() int { return max(b.cap-b.used, 0) }

// Exhausted reports whether Take would fail.
func (b *Budget) Exhausted() bool { return b.used >= b.cap }

// Stable returns the healthy period after which the budget refills.
func (b *Budget) Stable() time.Duration { return b.stable }

// Take consumes one recovery. attempt is the 1-based number of this recovery
// since the last refill (for logs such as "attempt 2/5"). When the budget is
// exhausted Take returns (0, false) and changes nothing.
func (b *Budget) Take() (attempt int, ok bool) {
	if b.Exhausted() {
		return 0, false
	}
	b.used++
	return b.used, true
}

// Credit gives one recovery back to a budget that has none left (it does
// nothing otherwise). An owner credits its budget when it becomes healthy:
// success is evidence the peer works, so the next failure deserves one
// backed-off retry even inside the stable period.
func (b *Budget) Credit() {
	if b.used >= b.cap && b.used > 0 {
		b.used = b.cap - 1
	}
}

// Refill resets the budget to full. It is the operator's reset; it does not
// touch the health tracking.
func (b *Budget) Refill() { b.used = 0 }

// Connected records that the owner became healthy at now, starting the stable
// clock. It is idempotent: while already connected the original start time is
// kept, so repeated calls cannot postpone the refill.
func (b *Budget) Connected(now time.Time) {
	if b.healthy {
		return
	}
	b.healthy = true
	b.healthySince = now
}

// Disconnected records that the owner stopped being healthy at now. If it had
// been healthy for at least the stable period the budget refills first, so the
// failure that follows is counted against a full budget. refilled reports
// whether used recoveries were reset.
func (b *Budget) Disconnected(now time.Time) (refilled bool) {
	refilled = b.Settle(now)
	b.healthy = false
	b.healthySince = time.Time{}
	return refilled
}

// Settle refills the budget if the owner has been healthy for at least the
// stable period at now. refilled reports whether used recoveries were reset;
// it is false when there was nothing to reset, so callers can log only real
// refills. Settle is cheap enough for every status read.
func (b *Budget) Settle(now time.Time) (refilled bool) {
	if !b.healthy || b.used == 0 || now.Sub(b.healthySince) < b.stable {
		return false
	}
	b.used = 0
	return true
}
