package replsmtest

import (
	"time"
)

// Clock is a mock clock that moves only when told (sim.Clock and
// *clock.Mock are ones).
type Clock interface {
	Now() time.Time
	Set(time.Time)
}

// Due is something with deadlines on the mock clock: a runtime's one heap
// (slot.Runtime, host.Runtime: Next and RunDue) or a scripted peer's queue
// of replies.
type Due interface {
	// Next is the earliest pending deadline, if any.
	Next() (time.Time, bool)
	// RunDue runs everything due at the clock's time; it returns how many.
	RunDue() int
}

// Settle runs everything due now, in every source, until nothing is (a
// deadline's work may make another one due at once).
func Settle(srcs ...Due) {
	for {
		n := 0
		for _, s := range srcs {
			n += s.RunDue()
		}
		if n == 0 {
			return
		}
	}
}

// Advance moves clk forward by d, stopping at every due deadline of every
// source on the way, in order, and running it (then everything it made due)
// at its own time: each timer fires when it was due, never late and never
// out of order, however long the jump. This is the one call a harness needs
// instead of stepping several schedulers one deadline at a time.
func Advance(clk Clock, d time.Duration, srcs ...Due) {
	end := clk.Now().Add(d)
	for {
		Settle(srcs...)
		next, ok := earliest(srcs)
		if !ok || next.After(end) {
			break
		}
		if !next.After(clk.Now()) {
			break // a source that reports a due deadline RunDue does not run
		}
		clk.Set(next)
	}
	clk.Set(end)
	Settle(srcs...)
}

func earliest(srcs []Due) (time.Time, bool) {
	var best time.Time
	found := false
	for _, s := range srcs {
		if t, ok := s.Next(); ok && (!found || t.Before(best)) {
			best, found = t, true
		}
	}
	return best, found
}
