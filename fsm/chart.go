package fsm

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Chart is a drawable, type-erased view of a machine: what the Mermaid and
// DOT exporters read. It is built from the same Spec the code compiles
// (Spec.Chart), so the pictures cannot drift from the machine that runs.
//
// States keep their declaration order and Edges the order of the spec's
// transitions, a transition with several sources giving one edge per source
// in the order they are listed. The exporters draw in exactly this order, so
// the same chart always gives the same bytes, and layout engines (which are
// sensitive to input order) see the author's order rather than an alphabet.
type Chart struct {
	Name   string
	Doc    string
	States []ChartState
	Edges  []ChartEdge
}

// ChartState is one state of a Chart. A state with a Child is a composite:
// the child machine runs while the outer one is in this state.
type ChartState struct {
	Name  string
	Kind  Kind
	Doc   string
	Child *Chart
}

// ChartEdge is one (event, source) transition of a Chart.
type ChartEdge struct {
	Event string
	Src   string
	Dst   string
	Guard string // condition checked before firing, e.g. "attempts < cap"
	Timer string // timeout that fires the event, e.g. "10s" or "backoff"
	Doc   string
}

// Label is the text drawn on the edge: the event, then the guard in square
// brackets and the timer after "after", e.g. "recover [attempts < cap] after
// backoff" or "reply_timeout after 10s".
func (e ChartEdge) Label() string {
	if q := e.qualifiers(); q != "" {
		return e.Event + " " + q
	}
	return e.Event
}

// qualifiers is the label without the event: "[attempts < cap] after
// backoff".
func (e ChartEdge) qualifiers() string {
	var b strings.Builder
	if e.Guard != "" {
		b.WriteString("[")
		b.WriteString(e.Guard)
		b.WriteString("]")
	}
	if e.Timer != "" {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString("after ")
		b.WriteString(e.Timer)
	}
	return b.String()
}

// Chart returns the drawable view of the spec. It does not validate the spec;
// exporters draw whatever the spec says.
func (s Spec[S, E]) Chart() Chart {
	c := Chart{Name: s.Name, Doc: s.Doc}
	for _, st := range s.States {
		c.States = append(c.States, ChartState{Name: string(st.Name), Kind: st.Kind, Doc: st.Doc})
	}
	for _, t := range s.Transitions {
		for _, src := range t.Src {
			c.Edges = append(c.Edges, ChartEdge{
				Event: string(t.Event),
				Src:   string(src),
				Dst:   string(t.Dst),
				Guard: t.Guard,
				Timer: t.Timer,
				Doc:   t.Doc,
			})
		}
	}
	return c
}

// Initial returns the name of the chart's initial state, or "" if it has
// none.
func (c Chart) Initial() string {
	for _, st := range c.States {
		if st.Kind == KindInitial {
			return st.Name
		}
	}
	return ""
}

// State returns the state called name (at the top level only).
func (c Chart) State(name string) (ChartState, bool) {
	i := c.index(name)
	if i < 0 {
		return ChartState{}, false
	}
	return c.States[i], true
}

func (c Chart) index(name string) int {
	return slices.IndexFunc(c.States, func(st ChartState) bool { return st.Name == name })
}

// Clone returns a deep copy, so that a composed or decorated chart never
// shares slices with the charts it was made from.
func (c Chart) Clone() Chart {
	out := Chart{Name: c.Name, Doc: c.Doc, States: slices.Clone(c.States), Edges: slices.Clone(c.Edges)}
	for i := range out.States {
		if ch := out.States[i].Child; ch != nil {
			cc := ch.Clone()
			out.States[i].Child = &cc
		}
	}
	return out
}

// PathSep separates the levels of a state path: "Connected/WaitReply" names
// state WaitReply of the chart nested in state Connected. Overlays use paths.
const PathSep = "/"

// Paths returns the path of every state, outer states before their nested
// ones, in declaration order.
func (c Chart) Paths() []string {
	var out []string
	var walk func(prefix string, c Chart)
	walk = func(prefix string, c Chart) {
		for _, st := range c.States {
			out = append(out, prefix+st.Name)
			if st.Child != nil {
				walk(prefix+st.Name+PathSep, *st.Child)
			}
		}
	}
	walk("", c)
	return out
}

// ErrInvalidChart is returned by Compose and CheckOverlay.
var ErrInvalidChart = errors.New("fsm: invalid chart")

// Compose nests inner inside state inState of outer: the two-level picture
// of an instance machine whose Connected state runs one shard machine per
// shard. The result is a new chart (outer and inner are not modified) named
// after outer. Compose fails if inState is not a state of outer, already has
// a nested chart, or inner has no initial state.
func Compose(outer Chart, inState string, inner Chart) (Chart, error) {
	out := outer.Clone()
	i := out.index(inState)
	switch {
	case i < 0:
		return Chart{}, fmt.Errorf("%w: %q has no state %q to nest %q in", ErrInvalidChart, outer.Name, inState, inner.Name)
	case out.States[i].Child != nil:
		return Chart{}, fmt.Errorf("%w: state %q of %q already holds %q", ErrInvalidChart, inState, outer.Name, out.States[i].Child.Name)
	case inner.Initial() == "":
		return Chart{}, fmt.Errorf("%w: %q has no initial state", ErrInvalidChart, inner.Name)
	}
	in := inner.Clone()
	out.States[i].Child = &in
	return out, nil
}

// Overlay decorates a chart with a live snapshot. States are named by path
// (see PathSep): "Error" at the top level, "Connected/Error" for the Error
// state of the machine nested in Connected. The zero Overlay draws the plain
// chart.
//
// The JSON form is the --live snapshot format of `replsm statechart`:
//
//	{"current": "Connected/WaitReply"}
//	{"current": "Connected", "counts": {"Connected/Connected": 14, "Connected/Error": 2}}
type Overlay struct {
	// Current is the state one machine is in; it is highlighted, and so are
	// the composite states that enclose it.
	Current string `json:"current,omitempty"`
	// Counts is how many machines of a set are in each state; a state with a
	// count above zero is labelled "Name ×N" and shaded.
	Counts map[string]int `json:"counts,omitempty"`
}

// IsZero reports whether the overlay adds nothing to the chart.
func (o Overlay) IsZero() bool { return o.Current == "" && len(o.Counts) == 0 }

// CheckOverlay reports every state path of o that c does not have and every
// negative count, in one error wrapping ErrInvalidChart.
func (c Chart) CheckOverlay(o Overlay) error {
	known := map[string]bool{}
	for _, p := range c.Paths() {
		known[p] = true
	}
	var problems []string
	if o.Current != "" && !known[o.Current] {
		problems = append(problems, fmt.Sprintf("current state %q is not a state", o.Current))
	}
	keys := make([]string, 0, len(o.Counts))
	for k := range o.Counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !known[k] {
			problems = append(problems, fmt.Sprintf("count for %q, which is not a state", k))
		} else if o.Counts[k] < 0 {
			problems = append(problems, fmt.Sprintf("negative count %d for %q", o.Counts[k], k))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: overlay on %q: %s (states: %s)", ErrInvalidChart, c.Name,
			strings.Join(problems, "; "), strings.Join(c.Paths(), ", "))
	}
	return nil
}

// current reports whether path is the overlay's current state or encloses it.
func (o Overlay) current(path string) bool {
	return o.Current != "" && (o.Current == path || strings.HasPrefix(o.Current, path+PathSep))
}

// label is the state's drawn name: "Connected ×14" when the overlay counts
// machines in it.
func (o Overlay) label(path, name string) string {
	if n := o.Counts[path]; n > 0 {
		return fmt.Sprintf("%s ×%d", name, n)
	}
	return name
}

// parallel groups a chart's edges by (src, dst) in order of first
// appearance. The exporters draw one arrow per group with one label line per
// event: the slot machine's "fail" and "link_lost" leave five states each,
// and separate arrows for every event between the same two states would
// double the clutter without adding information.
func parallel(edges []ChartEdge) [][]ChartEdge {
	type key struct{ src, dst string }
	idx := map[key]int{}
	var out [][]ChartEdge
	for _, e := range edges {
		k := key{e.Src, e.Dst}
		if i, ok := idx[k]; ok {
			out[i] = append(out[i], e)
			continue
		}
		idx[k] = len(out)
		out = append(out, []ChartEdge{e})
	}
	return out
}

// fanInMin is how many sources one event must come from, to one
// destination, before the exporters that can draw a junction route it
// through one: "detach" from every state would otherwise draw seven long
// labelled arrows into Detached.
const fanInMin = 4

// fanIn is one event (with its guard, timer and doc) that reaches Dst from
// many sources.
type fanIn struct {
	ChartEdge          // the first edge; Src is its first source
	srcs      []string // every source, in edge order
}

// splitFanIns separates the edges of events that reach one destination from
// at least min sources (returned as fan-ins, in order of first edge) from the
// rest (returned in their order).
func splitFanIns(edges []ChartEdge, min int) (rest []ChartEdge, fans []fanIn) {
	type key struct{ event, dst, guard, timer, doc string }
	keyOf := func(e ChartEdge) key { return key{e.Event, e.Dst, e.Guard, e.Timer, e.Doc} }
	srcs := map[key][]string{}
	for _, e := range edges {
		k := keyOf(e)
		if !slices.Contains(srcs[k], e.Src) {
			srcs[k] = append(srcs[k], e.Src)
		}
	}
	done := map[key]bool{}
	for _, e := range edges {
		k := keyOf(e)
		if len(srcs[k]) < min {
			rest = append(rest, e)
			continue
		}
		if !done[k] {
			done[k] = true
			fans = append(fans, fanIn{ChartEdge: e, srcs: srcs[k]})
		}
	}
	return rest, fans
}
