package fsm

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidSpec is returned by Validate and Compile when a spec names an
	// unknown state, gives one (event, source) two destinations, has states
	// that cannot be reached or non-terminal dead ends, or is otherwise malformed.
	ErrInvalidSpec = errors.New("fsm: invalid spec")
	// ErrUnknownEvent is returned by Machine.Fire for an event the spec does not
	// declare at all.
	ErrUnknownEvent = errors.New("fsm: unknown event")
	// ErrNotAllowed is returned by Machine.Fire for a declared event that has no
	// transition from the machine's current state.
	ErrNotAllowed = errors.New("fsm: event not allowed in current state")
	// ErrUnknownState is returned by Machine.Restore for a state the spec does
	// not declare.
	ErrUnknownState = errors.New("fsm: unknown state")
	// ErrFollowUp is returned (joined with the cause) by Machine.Fire when the
	// first event succeeded but a follow-up queued with Then was rejected.
	ErrFollowUp = errors.New("fsm: follow-up event rejected")
)

// EventError says which machine refused which event in which state. It wraps
// ErrUnknownEvent or ErrNotAllowed, so errors.Is works on it, and errors.As
// gives the details.
type EventError struct {
	Machine string // spec name, e.g. "slot"
	ID      string // entity id, e.g. "slot/3"
	Event   string
	State   string
	Err     error // ErrUnknownEvent or ErrNotAllowed
}

func (e *EventError) Error() string {
	if errors.Is(e.Err, ErrUnknownEvent) {
		return fmt.Sprintf("%s %s: unknown event %q", e.Machine, e.ID, e.Event)
	}
	return fmt.Sprintf("%s %s: event %q not allowed in state %s", e.Machine, e.ID, e.Event, e.State)
}

func (e *EventError) Unwrap() error { return e.Err }
