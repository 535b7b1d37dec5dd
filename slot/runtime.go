package slot

import (
	"errors"
	"log/slog"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/fsm"
	"github.com/replsm/replsm/timeouts"
)

// Record is one shard transition.
type Record = fsm.Record[State, Event]

// Observer receives every shard transition, in order per slot, after the
// slot's lock is released. It may call back into the slot.
type Observer func(Record)

// Session identifies one sync request and everything that follows from it.
// Zero means none.
type Session uint64

// Request is what a slot asks its primary for when it enters WaitReply.
type Request struct {
	Slot     ID
	Endpoint string
	Session  Session
	Full     bool // a full sync (TryDBSync) rather than incremental (TryConnect)
}

// Driver carries out a slot's effects. The embedding implements it. Its
// methods are called without any slot lock held, in the order the slot
// decided them, and may call back into the slot (for example to Deliver a
// reply at once). They should not block for long: a slow Sync delays the
// caller that caused the transition.
type Driver interface {
	// Sync sends a sync request. An error fails the session at once.
	Sync(req Request) error
	// Close ends whatever the session was doing (connection, transfer),
	// because the slot left it.
	Close(slot ID, session Session, reason string)
}

// Exhaustion is reported once each time a slot runs out of recoveries.
type Exhaustion struct {
	Slot      ID
	Endpoint  string
	LastError string
	Record    Record // the transition into Error that found the budget empty
}

// Options configures a Runtime.
type Options struct {
	Clock  clock.Clock  // required; a *clock.Mock in tests
	Driver Driver       // required
	Logger *slog.Logger // nil discards
	// Observers get every record of every slot of this runtime.
	Observers []Observer
	// OnExhausted is called (outside locks) when a slot runs out of retries.
	OnExhausted func(Exhaustion)
	// Journal, when set, is called under the slot lock for every record,
	// before anything else sees it: the place to persist what must survive a
	// crash in the same step as the transition. An error is logged and
	// counted; the transition stands.
	Journal func(Record) error
	// Seed makes backoff jitter repeatable; each slot draws from its own
	// stream derived from (Seed, slot id).
	Seed uint64
}

// ErrMissingOption is returned by NewRuntime when Clock or Driver is nil.
var ErrMissingOption = errors.New("slot: missing required option")

// Runtime is what the slots of one instance share: clock, deadline
// scheduler, driver, logging and observers. Slots never share a lock through
// it on the transition path.
type Runtime struct {
	opts  Options
	clock clock.Clock
	sched *timeouts.Scheduler[*Slot]
	log   *slog.Logger
}

// NewRuntime checks opts and builds the shared scheduler.
func NewRuntime(opts Options) (*Runtime, error) {
	if opts.Clock == nil {
		return nil, errors.Join(ErrMissingOption, errors.New("slot.Options.Clock is nil"))
	}
	if opts.Driver == nil {
		return nil, errors.Join(ErrMissingOption, errors.New("slot.Options.Driver is nil"))
	}
	rt := &Runtime{opts: opts, clock: opts.Clock, log: opts.Logger}
	if rt.log == nil {
		rt.log = slog.New(slog.DiscardHandler)
	}
	rt.sched = timeouts.NewScheduler(opts.Clock, func(s *Slot, at time.Time) { s.onDeadline(at) })
	return rt, nil
}

// Clock is the runtime's clock.
func (rt *Runtime) Clock() clock.Clock { return rt.clock }

// Scheduler is the one deadline heap behind every slot's timers. Tests call
// its RunDue after advancing a mock clock; servers call Start.
func (rt *Runtime) Scheduler() *timeouts.Scheduler[*Slot] { return rt.sched }

// Logger is the runtime's logger.
func (rt *Runtime) Logger() *slog.Logger { return rt.log }

// Start runs the deadline scheduler on its clock in the background.
func (rt *Runtime) Start() { rt.sched.Start() }

// Stop stops the background scheduler and waits for it.
func (rt *Runtime) Stop() { rt.sched.Stop() }
