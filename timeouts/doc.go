// Package timeouts holds the time policy of replsm: how long to wait before
// retrying (Backoff), how many backed-off recoveries are allowed per stable
// period (Budget), and when each armed deadline is due (Scheduler).
//
// The package reads time only from an injected clock.Clock
// (github.com/benbjohnson/clock) and imports nothing else of replsm.
//
// # Backoff
//
// Backoff is gRPC's connection backoff: the wait before retry n is
// min(Max, Initial*Multiplier^n), spread by ±Jitter. DefaultBackoff returns
// gRPC's numbers (1s, ×1.6, ±20 %, 120s). Pass a seeded *rand.Rand to Delay
// for repeatable jitter, or nil for none.
//
// # Budget
//
// Budget caps backed-off recoveries: each recovery Takes one, and when none
// remain the owner falls back to its slower policy (replsm's host: one
// attempt per exhausted-retry period) until an operator calls Refill or the
// owner has been healthy (Connected) for the stable period, after which the
// next Disconnected or Settle refills it. A Budget is a plain value meant to live in
// a struct guarded by its owner's mutex.
//
// # Scheduler
//
// Scheduler keeps one deadline per key in a single min-heap behind a single
// clock timer, so 100 000 waiting keys cost one timer, not 100 000. Arm sets
// or moves a key's deadline, Cancel removes it, and the fire callback runs for
// each deadline once it is due, without the scheduler's lock held.
//
// In production call Start: a background goroutine sleeps on one clk.Timer
// until the earliest deadline and then calls RunDue. Stop ends it.
//
// Tests should not Start the scheduler. They drive it from one goroutine on a
// clock.Mock: arm deadlines, advance the mock, then call RunDue, which fires
// every due deadline synchronously in (deadline, arming order) and creates no
// mock timers:
//
//	mock := clock.NewMock()
//	s := timeouts.NewScheduler(mock, func(key int, at time.Time) { ... })
//	s.Arm(1, mock.Now().Add(2*time.Second))
//	mock.Add(2 * time.Second)
//	s.RunDue() // fires key 1, in this goroutine, before returning
//
// This sidesteps the mock's traps: its timers cost a real millisecond each
// when they fire, AfterFunc callbacks run in goroutines that may outlive Add,
// and a timer created after Add has moved time misses that Add.
package timeouts
