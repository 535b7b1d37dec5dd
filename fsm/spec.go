package fsm

import (
	"fmt"
	"slices"
	"strings"
)

// Kind classifies a state for validation and for drawing.
type Kind uint8

const (
	// KindNormal is an ordinary state.
	KindNormal Kind = iota
	// KindInitial is the state a new machine starts in; a spec has exactly one.
	KindInitial
	// KindError is a failure state; diagrams style it apart.
	KindError
	// KindTerminal is a state with no way out; only terminal states may be
	// dead ends.
	KindTerminal
)

func (k Kind) String() string {
	switch k {
	case KindNormal:
		return "normal"
	case KindInitial:
		return "initial"
	case KindError:
		return "error"
	case KindTerminal:
		return "terminal"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// State declares one state of a spec.
type State[S ~string] struct {
	Name S
	Kind Kind
	Doc  string // one line: what being in this state means
}

// Transition declares that Event moves a machine from any of Src to Dst.
// One event may appear in several transitions with different sources.
type Transition[S ~string, E ~string] struct {
	Event E
	Src   []S
	Dst   S
	// Guard is the condition the owner checks before firing, for people and
	// diagrams ("attempts < cap"). The machine does not evaluate it.
	Guard string
	// Timer names the timeout that fires this event ("10s", "backoff"), for
	// people and diagrams; empty when the event comes from outside.
	Timer string
	Doc   string // one line: what causes this transition
}

// Spec is the declarative definition of one machine.
type Spec[S ~string, E ~string] struct {
	Name        string // machine name used in records and diagrams, e.g. "slot"
	Doc         string
	States      []State[S]
	Transitions []Transition[S, E]
}

// Initial returns the spec's initial state (the zero value if there is none).
func (s Spec[S, E]) Initial() S {
	for _, st := range s.States {
		if st.Kind == KindInitial {
			return st.Name
		}
	}
	var zero S
	return zero
}

// State returns the declaration of name.
func (s Spec[S, E]) State(name S) (State[S], bool) {
	for _, st := range s.States {
		if st.Name == name {
			return st, true
		}
	}
	return State[S]{}, false
}

// Events returns every declared event once, in order of first declaration.
func (s Spec[S, E]) Events() []E {
	var out []E
	for _, t := range s.Transitions {
		if !slices.Contains(out, t.Event) {
			out = append(out, t.Event)
		}
	}
	return out
}

// Validate reports every problem with the spec in one error wrapping
// ErrInvalidSpec: empty or duplicate names, not exactly one initial state,
// transitions naming unknown states, two destinations for one (event,
// source), states unreachable from the initial one, and non-terminal states
// with no way out.
func (s Spec[S, E]) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if s.Name == "" {
		add("spec has no name")
	}
	known := map[S]Kind{}
	initials := 0
	for _, st := range s.States {
		if st.Name == "" {
			add("state with empty name")
			continue
		}
		if _, dup := known[st.Name]; dup {
			add("state %s declared twice", st.Name)
		}
		known[st.Name] = st.Kind
		if st.Kind == KindInitial {
			initials++
		}
	}
	if initials != 1 {
		add("want exactly one initial state, have %d", initials)
	}

	type key struct {
		ev  E
		src S
	}
	dst := map[key]S{}
	out := map[S][]S{}
	for i, t := range s.Transitions {
		if t.Event == "" {
			add("transition %d has no event", i)
		}
		if len(t.Src) == 0 {
			add("event %s (transition %d) has no source state", t.Event, i)
		}
		if _, ok := known[t.Dst]; !ok {
			add("event %s goes to unknown state %q", t.Event, t.Dst)
		}
		for _, src := range t.Src {
			if _, ok := known[src]; !ok {
				add("event %s comes from unknown state %q", t.Event, src)
				continue
			}
			k := key{t.Event, src}
			if prev, dup := dst[k]; dup {
				if prev != t.Dst {
					add("event %s from %s has two destinations: %s and %s", t.Event, src, prev, t.Dst)
				} else {
					add("event %s from %s declared twice", t.Event, src)
				}
				continue
			}
			dst[k] = t.Dst
			out[src] = append(out[src], t.Dst)
		}
	}

	if initials == 1 {
		seen := map[S]bool{s.Initial(): true}
		queue := []S{s.Initial()}
		for len(queue) > 0 {
			cur := queue[0]
			queue = queue[1:]
			for _, next := range out[cur] {
				if !seen[next] {
					seen[next] = true
					queue = append(queue, next)
				}
			}
		}
		for _, st := range s.States {
			if !seen[st.Name] {
				add("state %s is unreachable from %s", st.Name, s.Initial())
			}
		}
	}
	for _, st := range s.States {
		if st.Kind == KindTerminal {
			continue
		}
		leaves := false
		for _, next := range out[st.Name] {
			if next != st.Name {
				leaves = true
				break
			}
		}
		if !leaves {
			add("state %s is a dead end but not terminal", st.Name)
		}
	}

	if len(problems) > 0 {
		return fmt.Errorf("%w %q: %s", ErrInvalidSpec, s.Name, strings.Join(problems, "; "))
	}
	return nil
}
