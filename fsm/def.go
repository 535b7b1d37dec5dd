package fsm

import (
	"context"
	"errors"
	"fmt"
	"sync"

	looplab "github.com/looplab/fsm"
)

// Def is a validated, compiled Spec shared by every Machine of that kind. It
// is safe for concurrent use.
type Def[S ~string, E ~string] struct {
	spec    Spec[S, E]
	initial S
	states  map[S]State[S]
	events  map[E]bool
	descs   []looplab.EventDesc
	// out is every state's outgoing transitions, so a machine learns where
	// an event took it without reading the pooled executor back (Current
	// takes looplab's lock).
	out map[S]*outs[S, E]
	// executors are looplab machines used only to run one transition at a
	// time; pooling them keeps a Machine small however many exist.
	executors sync.Pool
}

// Compile validates spec and prepares it for machines.
func Compile[S ~string, E ~string](spec Spec[S, E]) (*Def[S, E], error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	d := &Def[S, E]{
		spec:    spec,
		initial: spec.Initial(),
		states:  map[S]State[S]{},
		events:  map[E]bool{},
	}
	for _, st := range spec.States {
		d.states[st.Name] = st
	}
	d.out = map[S]*outs[S, E]{}
	for _, st := range spec.States {
		d.out[st.Name] = &outs[S, E]{}
	}
	for _, t := range spec.Transitions {
		for _, from := range t.Src {
			o := d.out[from]
			o.edges = append(o.edges, edge[S, E]{event: t.Event, dst: t.Dst, next: d.out[t.Dst]})
		}
		d.events[t.Event] = true
		src := make([]string, len(t.Src))
		for i, s := range t.Src {
			src[i] = string(s)
		}
		d.descs = append(d.descs, looplab.EventDesc{Name: string(t.Event), Src: src, Dst: string(t.Dst)})
	}
	d.executors.New = func() any {
		return &executor{fsm: looplab.NewFSM(string(d.initial), d.descs, nil), state: string(d.initial)}
	}
	return d, nil
}

// MustCompile is Compile for specs fixed at build time; it panics on an
// invalid spec, which is a programming error caught by the package's tests.
func MustCompile[S ~string, E ~string](spec Spec[S, E]) *Def[S, E] {
	d, err := Compile(spec)
	if err != nil {
		panic(err)
	}
	return d
}

// Spec returns the spec the Def was compiled from.
func (d *Def[S, E]) Spec() Spec[S, E] { return d.spec }

// Name is the machine name used in records.
func (d *Def[S, E]) Name() string { return d.spec.Name }

// Initial is the state new machines start in.
func (d *Def[S, E]) Initial() S { return d.initial }

// Kind returns the kind of a declared state.
func (d *Def[S, E]) Kind(s S) Kind { return d.states[s].Kind }

// HasState reports whether s is declared.
func (d *Def[S, E]) HasState(s S) bool {
	_, ok := d.states[s]
	return ok
}

// HasEvent reports whether e is declared.
func (d *Def[S, E]) HasEvent(e E) bool { return d.events[e] }

// never is the only context handed to looplab: one that cannot be cancelled,
// because a cancelled context wedges a looplab machine for good.
var never = context.Background()

// executor is a pooled looplab machine and the state it was left in, so
// the common case (the same machine firing again) needs no SetState.
type executor struct {
	fsm   *looplab.FSM
	state string
}

// outs is one state's outgoing transitions.
type outs[S ~string, E ~string] struct{ edges []edge[S, E] }

// edge is one outgoing transition; next is its destination's.
type edge[S ~string, E ~string] struct {
	event E
	dst   S
	next  *outs[S, E]
}

// step runs one transition on a pooled looplab executor and returns the
// destination and its outgoing transitions. A legal self-loop is a
// success. out is from's outgoing transitions (the machine keeps them for
// its current state).
func (d *Def[S, E]) step(from S, out *outs[S, E], ev E) (S, *outs[S, E], error) {
	x := d.executors.Get().(*executor)
	if x.state != string(from) {
		x.fsm.SetState(string(from))
	}
	err := x.fsm.Event(never, string(ev))
	if err == nil {
		// looplab took the transition, so it is one of from's: its
		// destination needs no read back (Current takes looplab's lock).
		for i := range out.edges {
			if e := &out.edges[i]; e.event == ev {
				x.state = string(e.dst)
				d.executors.Put(x) // no defer: this is the transition hot path
				return e.dst, e.next, nil
			}
		}
	}
	x.state = x.fsm.Current()
	to := S(x.state)
	d.executors.Put(x)
	if err = stepError(err); err != nil {
		return from, out, err
	}
	return to, d.out[to], nil
}

// stepError maps looplab's errors to ours; a legal self-loop is no error.
func stepError(err error) error {
	var noTransition looplab.NoTransitionError
	switch {
	case errors.As(err, &noTransition) && noTransition.Err == nil:
		return nil
	case errors.As(err, new(looplab.UnknownEventError)):
		return ErrUnknownEvent
	case errors.As(err, new(looplab.InvalidEventError)):
		return ErrNotAllowed
	default:
		return fmt.Errorf("fsm: looplab: %w", err)
	}
}
