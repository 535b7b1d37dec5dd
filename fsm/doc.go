// Package fsm holds replsm's typed state machines: a declarative Spec per
// machine, validated once and compiled into a Def, and Machine values that
// fire typed events against it and return a Record for every transition.
//
// The transition table is executed by github.com/looplab/fsm, with its known
// traps designed out:
//
//   - no callbacks are registered with looplab, so nothing can call back into
//     it from a before_ or leave_ callback;
//   - Event always gets a context that cannot be cancelled;
//   - there are no async transitions;
//   - follow-up events raised while a transition is being handled are queued
//     with Machine.Then and run after it completes (run to completion), so the
//     record log stays in the order things happened.
//
// A Def keeps a pool of looplab executors shared by every Machine of that
// spec: a Machine is only its current state, a sequence number and a pointer,
// so a server can hold tens of thousands of them (looplab builds its own
// transition maps per instance, several KiB each).
//
// A Machine is not safe for concurrent use: its owner guards it, together with
// whatever else must change atomically with the state (the slot package keeps
// state, session, counters and timers under one mutex).
//
// Typical use:
//
//	var def = fsm.MustCompile(fsm.Spec[State, Event]{ ... })
//	m := fsm.NewMachine(def, "slot/3")
//	rec, err := m.Fire(EvStart, "link up", env)
//	if errors.Is(err, fsm.ErrNotAllowed) { ... }
package fsm
