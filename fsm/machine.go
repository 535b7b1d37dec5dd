package fsm

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Env is what a Machine's owner provides while an event is fired: the time,
// a hook that runs after each state change, and the destination of records.
// The owner usually implements it on itself and passes itself to Fire, so
// machines carry no per-instance closures.
type Env[S ~string, E ~string] interface {
	// Now is the time stamped on records.
	Now() time.Time
	// Entered runs after the state changed and before the record is emitted.
	// It may append attributes to rec and queue follow-up events with
	// m.Then; it must not call m.Fire. rec is the machine's own scratch
	// record: valid until Emit returns, never to be kept.
	Entered(m *Machine[S, E], rec *Record[S, E])
	// Emit receives every record, in order; it copies what it keeps.
	Emit(rec *Record[S, E])
}

type step[E ~string] struct {
	event  E
	reason string
}

// Machine is one running instance of a Def. It is not safe for concurrent
// use; its owner guards it.
type Machine[S ~string, E ~string] struct {
	def    *Def[S, E]
	id     string
	state  S
	seq    uint64
	queue  []step[E]
	firing bool
	// out is the current state's outgoing transitions (from the Def).
	out *outs[S, E]
	// rec is the record being made. It lives in the machine (on the heap
	// already) so the owner's hooks take a pointer to it: a record is
	// built once, not copied through every layer.
	rec Record[S, E]
}

// NewMachine returns a machine in the Def's initial state.
func NewMachine[S ~string, E ~string](def *Def[S, E], id string) Machine[S, E] {
	return Machine[S, E]{def: def, id: id, state: def.initial, out: def.out[def.initial]}
}

// ID is the entity id stamped on records.
func (m *Machine[S, E]) ID() string { return m.id }

// State is the current state.
func (m *Machine[S, E]) State() S { return m.state }

// Seq is the sequence number of the last record (0 before the first).
func (m *Machine[S, E]) Seq() uint64 { return m.seq }

// Def is the machine's compiled spec.
func (m *Machine[S, E]) Def() *Def[S, E] { return m.def }

// Can reports whether ev is allowed in the current state.
func (m *Machine[S, E]) Can(ev E) bool {
	if !m.def.events[ev] {
		return false
	}
	_, _, err := m.def.step(m.state, m.out, ev)
	return err == nil
}

// Restore puts the machine in state s with the given last sequence number,
// for owners that rebuild machines from durable state. It emits no record.
func (m *Machine[S, E]) Restore(s S, seq uint64) error {
	if !m.def.HasState(s) {
		return fmt.Errorf("%w %q for %s %s", ErrUnknownState, s, m.def.Name(), m.id)
	}
	m.state, m.seq, m.out = s, seq, m.def.out[s]
	return nil
}

// Then queues a follow-up event from inside Env.Entered. It runs after the
// current transition's record is emitted (run to completion).
func (m *Machine[S, E]) Then(ev E, reason string) {
	m.queue = append(m.queue, step[E]{ev, reason})
}

// Fire applies ev, then any follow-ups queued by env.Entered, in order. It
// returns the first transition's record, or an *EventError wrapping
// ErrUnknownEvent or ErrNotAllowed, in which case nothing changed. If a
// follow-up is rejected, the transitions before it stand and the error wraps
// ErrFollowUp. A legal self-loop is a success and is recorded.
func (m *Machine[S, E]) Fire(ev E, reason string, env Env[S, E], attrs ...slog.Attr) (Record[S, E], error) {
	if m.firing {
		// Re-entrant Fire from Entered would break record order; treat it as Then.
		m.Then(ev, reason)
		return Record[S, E]{}, nil
	}
	if err := m.apply(ev, reason, env, attrs); err != nil {
		return Record[S, E]{}, err
	}
	if len(m.queue) == 0 {
		return m.rec, nil
	}
	first := m.rec
	var errs []error
	// Entered may queue more while we drain, so re-read the length each time.
	for i := 0; i < len(m.queue); i++ {
		next := m.queue[i]
		if err := m.apply(next.event, next.reason, env, nil); err != nil {
			errs = append(errs, err)
		}
	}
	m.queue = m.queue[:0]
	if len(errs) > 0 {
		return first, errors.Join(append([]error{ErrFollowUp}, errs...)...)
	}
	return first, nil
}

func (m *Machine[S, E]) apply(ev E, reason string, env Env[S, E], attrs []slog.Attr) error {
	to, next, err := m.def.step(m.state, m.out, ev) // looplab tells unknown from not allowed
	if err != nil {
		return &EventError{Machine: m.def.Name(), ID: m.id, Event: string(ev), State: string(m.state), Err: err}
	}
	m.seq++
	m.rec = Record[S, E]{
		Machine: m.def.Name(),
		ID:      m.id,
		Seq:     m.seq,
		Event:   ev,
		From:    m.state,
		To:      to,
		Time:    env.Now(),
		Reason:  reason,
		Attrs:   attrs,
	}
	m.state, m.out = to, next
	m.firing = true
	env.Entered(m, &m.rec)
	m.firing = false
	env.Emit(&m.rec)
	return nil
}
