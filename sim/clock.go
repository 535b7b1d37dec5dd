package sim

import (
	"sync"
	"time"

	"github.com/benbjohnson/clock"
)

// Clock is the simulation's mock clock. Its time moves only by Set and Add,
// like clock.Mock's, but without clock.Mock's 1 ms real-time yield on every
// move: the simulation runs the deadline heap itself (RunDue after each
// step) and no goroutine waits on the clock, so a history of thousands of
// steps takes milliseconds, not seconds (the explorer runs thousands).
// Timers made through the embedded clock.Mock (Timer, After, ...) are not
// driven by Set or Add; nothing in a simulation makes them.
type Clock struct {
	*clock.Mock
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at clock.Mock's epoch.
func NewClock() *Clock {
	m := clock.NewMock()
	return &Clock{Mock: m, now: m.Now()}
}

// Now is the simulated time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Since is Now().Sub(t).
func (c *Clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Until is t.Sub(Now()).
func (c *Clock) Until(t time.Time) time.Duration { return t.Sub(c.Now()) }

// Set moves the time to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// Add moves the time by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
