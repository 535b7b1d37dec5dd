package slot

import (
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/fsm"
	"github.com/replsm/replsm/host"
)

// Record is one shard transition.
type Record = fsm.Record[State, Event]

// Observer receives every shard transition, in order per slot, after the
// slot's lock is released. It may call back into the slot.
type Observer func(Record)

// Session identifies one sync request and everything that follows from it.
// Zero means none. Sessions never repeat within a runtime: not across
// slots, not across RemoveSlot and AddSlot of one id.
type Session = host.Session

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
	// Sync sends a sync request. An error fails the session at once, as a
	// failure that never reached the primary.
	Sync(req Request) error
	// Close ends whatever the session was doing (connection, transfer),
	// because the slot left it.
	Close(slot ID, session Session, reason string)
}

// ProbeRequest asks whether a slot's endpoint answers at all.
type ProbeRequest struct {
	Slot     ID
	Endpoint string
	Probe    Session // report the answer under this id
}

// Prober is an optional capability of a Driver: cheap reachability probes
// (a TCP connect and a PING; no sync handshake, no budget) for a slot in
// Error after a failure that never reached its primary. Probe must not
// block: it starts the probe and the answer comes later through
// Slot.ProbeResult. A Driver without it simply gets no probes.
type Prober interface {
	Probe(req ProbeRequest)
}

// Exhaustion is reported once per episode when a slot runs out of
// recoveries (the episode ends when it is Connected again).
type Exhaustion struct {
	Slot      ID
	Endpoint  string
	LastError string
	Record    Record // the transition into Error that found the budget spent
}

// Options configures a Runtime.
type Options struct {
	Clock  clock.Clock  // required; a *clock.Mock in tests
	Driver Driver       // required; may also implement Prober
	Logger *slog.Logger // nil discards
	// Observers get every record of every slot of this runtime.
	Observers []Observer
	// OnExhausted is called (outside locks) once per exhaustion episode.
	OnExhausted func(Exhaustion)
	// Journal, when set, makes every record durable after the slot lock is
	// released and before anything else sees it (log, observers, the
	// driver's effects). An error is logged and counted; the transition
	// stands.
	Journal func(Record) error
	// Seed makes backoff jitter repeatable; each slot draws from its own
	// stream derived from (Seed, slot id). Zero draws a seed at start, so
	// two processes never retry at the same instants.
	Seed uint64
}

// ErrMissingOption is returned by NewRuntime when Clock or Driver is nil.
var ErrMissingOption = errors.New("slot: missing required option")

// Runtime is what the slots of one instance share: the host runtime (clock,
// one deadline heap, sessions), the driver, logging and observers. Slots
// never share a lock through it on the transition path.
type Runtime struct {
	opts        Options
	host        *host.Runtime
	kind        host.Kind[State, Event]
	prober      Prober
	onConnected func(s *Slot, endpoint string)
	probing     atomic.Int64 // slots probing now; siblings are told only when > 0
}

// OnConnected sets a hook called (outside locks) each time a slot reaches
// Connected; call it before the slots run. The instance uses it to tell
// siblings on the same endpoint that it answers.
func (rt *Runtime) OnConnected(fn func(s *Slot, endpoint string)) { rt.onConnected = fn }

// AnyProbing reports whether some slot of the runtime probes its endpoint.
func (rt *Runtime) AnyProbing() bool { return rt.probing.Load() > 0 }

// NewRuntime checks opts and builds the shared host runtime.
func NewRuntime(opts Options) (*Runtime, error) {
	if opts.Clock == nil {
		return nil, errors.Join(ErrMissingOption, errors.New("slot.Options.Clock is nil"))
	}
	if opts.Driver == nil {
		return nil, errors.Join(ErrMissingOption, errors.New("slot.Options.Driver is nil"))
	}
	rt := &Runtime{opts: opts, host: host.NewRuntime(opts.Clock, opts.Logger, opts.Seed)}
	rt.prober, _ = opts.Driver.(Prober)
	rt.kind = host.Kind[State, Event]{Error: Error, Journal: opts.Journal}
	for _, o := range opts.Observers {
		rt.kind.Observers = append(rt.kind.Observers, o)
	}
	return rt, nil
}

// Host is the runtime the slots' machines live in: its one deadline heap
// also carries the instance's and the followers' deadlines.
func (rt *Runtime) Host() *host.Runtime { return rt.host }

// Clock is the runtime's clock.
func (rt *Runtime) Clock() clock.Clock { return rt.host.Clock() }

// Logger is the runtime's logger.
func (rt *Runtime) Logger() *slog.Logger { return rt.host.Logger() }

// Log writes a message stamped with the runtime's clock.
func (rt *Runtime) Log(level slog.Level, msg string, attrs ...slog.Attr) {
	rt.host.Log(level, msg, attrs...)
}

// RunDue fires every due deadline (tests, after advancing a mock clock).
func (rt *Runtime) RunDue() int { return rt.host.RunDue() }

// Next is the earliest armed deadline.
func (rt *Runtime) Next() (time.Time, bool) { return rt.host.Next() }

// Start runs the deadline heap on its clock in the background.
func (rt *Runtime) Start() { rt.host.Start() }

// Stop stops the background loop and waits for it.
func (rt *Runtime) Stop() { rt.host.Stop() }
