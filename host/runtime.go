package host

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/timeouts"
)

// Session identifies one request to a peer and everything that follows from
// it: a sync request, a meta handshake, a probe, a follower's stream. Zero
// means none. A runtime never hands out the same session twice.
type Session uint64

// Deadline is a machine's one armed deadline, a key in the runtime's heap.
type Deadline struct {
	at    time.Time
	armed bool
	due   func(at time.Time)
}

// Runtime is what the machines of one process part share: the clock, the one
// deadline heap, the logger, the jitter seed and the session counter.
// Machines never share a lock through it on the transition path.
type Runtime struct {
	clock clock.Clock
	sched *timeouts.Scheduler[*Deadline]
	log   *slog.Logger
	seed  uint64

	sessions atomic.Uint64
	probes   atomic.Uint64
	lastData atomic.Int64 // unix nanos of the last shard data (instance liveness)

	waiters atomic.Int32
	waitMu  sync.Mutex
	changed chan struct{}
}

// NewRuntime returns a runtime on clk (required). A zero seed draws one from
// the operating system, so two processes never retry in lockstep; tests pass
// a seed and are exactly repeatable. A nil log discards.
func NewRuntime(clk clock.Clock, log *slog.Logger, seed uint64) *Runtime {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if seed == 0 {
		var b [8]byte
		_, _ = crand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:]) | 1
	}
	rt := &Runtime{clock: clk, log: log, seed: seed}
	rt.sched = timeouts.NewScheduler(clk, func(d *Deadline, at time.Time) { d.due(at) })
	return rt
}

// Clock is the runtime's clock.
func (rt *Runtime) Clock() clock.Clock { return rt.clock }

// Logger is the runtime's logger.
func (rt *Runtime) Logger() *slog.Logger { return rt.log }

// Seed is the jitter seed in force (drawn at start when none was given).
func (rt *Runtime) Seed() uint64 { return rt.seed }

// RunDue fires every deadline due on the runtime's clock; tests call it
// after advancing a mock clock.
func (rt *Runtime) RunDue() int { return rt.sched.RunDue() }

// Next is the earliest armed deadline.
func (rt *Runtime) Next() (time.Time, bool) { return rt.sched.Next() }

// Start runs the deadline heap on its clock in the background.
func (rt *Runtime) Start() { rt.sched.Start() }

// Stop stops the background loop and waits for it.
func (rt *Runtime) Stop() { rt.sched.Stop() }

// NewSession draws a session no machine of this runtime has had.
func (rt *Runtime) NewSession() Session { return Session(rt.sessions.Add(1)) }

// NewProbe draws a probe id; probes count apart from sessions, so a long
// outage's probes do not crowd the session numbers.
func (rt *Runtime) NewProbe() Session { return Session(rt.probes.Add(1)) }

// NoteData records that shard data arrived at now: it counts as activity
// of the instance link (a stream is proof the peer is alive).
func (rt *Runtime) NoteData(now time.Time) { rt.lastData.Store(now.UnixNano()) }

// LastData is when shard data last arrived (zero time if never).
func (rt *Runtime) LastData() time.Time {
	n := rt.lastData.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Log writes a message stamped with the runtime's clock (slog would use the
// wall clock).
func (rt *Runtime) Log(level slog.Level, msg string, attrs ...slog.Attr) {
	ctx := context.Background()
	if !rt.log.Enabled(ctx, level) {
		return
	}
	r := slog.NewRecord(rt.clock.Now(), level, msg, 0)
	r.AddAttrs(attrs...)
	_ = rt.log.Handler().Handle(ctx, r)
}

// Watch returns a channel closed at the next state change of any machine of
// the runtime; done must be called when the caller stops watching. Waiters
// (WaitSynced) look at the states again each time it closes.
func (rt *Runtime) Watch() (ch <-chan struct{}, done func()) {
	rt.waiters.Add(1)
	rt.waitMu.Lock()
	if rt.changed == nil {
		rt.changed = make(chan struct{})
	}
	ch = rt.changed
	rt.waitMu.Unlock()
	return ch, func() { rt.waiters.Add(-1) }
}

// changedState wakes the watchers; it costs one atomic load when nobody
// watches, which is the common case on the transition path.
func (rt *Runtime) changedState() {
	if rt.waiters.Load() == 0 {
		return
	}
	rt.waitMu.Lock()
	if rt.changed != nil {
		close(rt.changed)
		rt.changed = nil
	}
	rt.waitMu.Unlock()
}
