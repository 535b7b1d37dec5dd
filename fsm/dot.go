package fsm

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// DOT renders c as a Graphviz digraph, decorated with o (the zero Overlay
// draws the plain chart). The same chart and overlay always give the same
// bytes; render it with `dot -Tsvg`.
//
// What is drawn:
//   - the initial state of every level with an arrow from a point node
//     (never the current state: that is what the overlay highlights);
//   - one arrow per (source, destination), labelled with every event that
//     takes it, one per line, as ChartEdge.Label formats them, and the
//     events' docs as the arrow's tooltip;
//   - error states in red, terminal states with a double border;
//   - a nested chart as a cluster (subgraph cluster_...) with compound=true:
//     arrows into or out of the composite state are clipped at the
//     cluster's border;
//   - state docs as tooltips (shown on hover in the SVG), so the picture
//     stays readable.
//
// Node ids are the quoted state paths ("Connected/WaitReply"), so any name
// is safe.
func DOT(c Chart, o Overlay) []byte {
	d := &dotWriter{o: o}
	d.line(0, "digraph %s {", dotQuote(c.Name))
	d.line(1, "graph [%s];", dotAttrs(
		"label", c.Name+" state machine",
		"tooltip", c.Doc,
		"labelloc", "t",
		"fontname", "Helvetica",
		"fontsize", "16",
		"rankdir", "TB",
		// Long multi-event labels need room between ranks more than
		// between neighbours.
		"nodesep", "0.15",
		"ranksep", "0.45",
		"compound", "true",
		"newrank", "true",
		"bgcolor", "white",
	))
	d.line(1, "node [%s];", dotAttrs(
		"shape", "box",
		"style", "rounded,filled",
		"fillcolor", colorFill,
		"color", colorLine,
		"fontname", "Helvetica",
		"fontsize", "12",
		"height", "0.4",
		"margin", "0.15,0.06",
	))
	d.line(1, "edge [%s];", dotAttrs(
		"color", colorLine,
		"fontname", "Helvetica",
		"fontsize", "10",
		"fontcolor", "#37474f",
		"arrowsize", "0.7",
	))
	d.chart(1, "", c)
	d.line(0, "}")
	return d.buf.Bytes()
}

type dotWriter struct {
	buf bytes.Buffer
	o   Overlay
}

func (d *dotWriter) line(depth int, format string, args ...any) {
	d.buf.WriteString(strings.Repeat("  ", depth))
	fmt.Fprintf(&d.buf, format, args...)
	d.buf.WriteByte('\n')
}

// startNode is the id of the initial pseudo-state of the chart at prefix. It
// cannot collide with a state: state ids never end in "[*]" unless a state
// is named so, which Validate-d specs in this project do not do.
func startNode(prefix string) string { return prefix + "[*]" }

// exitNode is the id of the invisible node at the bottom of the cluster
// drawn for the composite state at path.
func exitNode(path string) string { return path + PathSep + "[exit]" }

// anchor is the node that arrows into (out false) or out of (out true) a
// state attach to, and the cluster to clip them at: the state itself, or for
// a composite its start point (arrows in) or the invisible node at the
// bottom of its cluster (arrows out). Leaving from the bottom makes the
// states a composite leads to rank below its whole cluster, rather than
// beside it, which keeps the composite chart narrow.
func anchor(prefix string, st ChartState, out bool) (node, cluster string) {
	path := prefix + st.Name
	switch {
	case st.Child == nil:
		return path, ""
	case out:
		return exitNode(path), "cluster_" + path
	default:
		return startNode(path + PathSep), "cluster_" + path
	}
}

func (d *dotWriter) chart(depth int, prefix string, c Chart) {
	if init, ok := c.State(c.Initial()); ok {
		node, cluster := anchor(prefix, init, false)
		d.line(depth, "%s [%s];", dotQuote(startNode(prefix)), dotAttrs(
			"shape", "point", "width", "0.14", "color", colorTermLine, "fillcolor", colorTermLine, "label", "",
			"tooltip", "initial state: "+init.Name))
		d.edge(depth, startNode(prefix), node, "", cluster, false, "", "tooltip", "initial state: "+init.Name)
	}
	for _, st := range c.States {
		path := prefix + st.Name
		if st.Child != nil {
			d.cluster(depth, path, st)
			continue
		}
		attrs := []string{"label", d.o.label(path, st.Name), "tooltip", stateTip(st)}
		switch st.Kind {
		case KindError:
			attrs = append(attrs, "fillcolor", colorErrorFill, "color", colorErrorLine, "fontcolor", colorErrorText)
		case KindTerminal:
			attrs = append(attrs, "fillcolor", colorTermFill, "color", colorTermLine, "peripheries", "2")
		}
		if d.o.Counts[path] > 0 {
			// Occupied states stand out by a heavy border and bold name;
			// an error state keeps its red so that "Error ×2" still reads
			// as trouble.
			if st.Kind != KindError {
				attrs = append(attrs, "fillcolor", colorLiveFill, "color", colorLiveLine)
			}
			attrs = append(attrs, "penwidth", "2", "fontname", "Helvetica-Bold")
		}
		if d.o.Current == path {
			attrs = append(attrs, "fillcolor", colorCurrentFill, "color", colorCurrentLine, "penwidth", "3")
		}
		d.line(depth, "%s [%s];", dotQuote(path), dotAttrs(attrs...))
	}
	rest, fans := splitFanIns(c.Edges, fanInMin)
	for _, group := range parallel(rest) {
		src, okS := c.State(group[0].Src)
		dst, okD := c.State(group[0].Dst)
		if !okS || !okD {
			d.line(depth, "// skipped: edge %s -> %s names an undeclared state", dotComment(group[0].Src), dotComment(group[0].Dst))
			continue
		}
		from, ltail := anchor(prefix, src, true)
		to, lhead := anchor(prefix, dst, false)
		if ltail != "" && ltail == lhead {
			// A composite's self-loop: clipping both ends at the same
			// cluster leaves nothing to draw.
			ltail, lhead = "", ""
		}
		labels := make([]string, len(group))
		tips := make([]string, len(group))
		for i, e := range group {
			labels[i] = dotLabel(e)
			tips[i] = edgeTip(e)
		}
		d.edge(depth, from, to, ltail, lhead, back(c, group[0].Src, group[0].Dst), "",
			"label", strings.Join(labels, "\n"),
			"tooltip", strings.Join(tips, "\n"))
	}
	for _, f := range fans {
		d.fanIn(depth, prefix, c, f)
	}
}

// fanIn draws an event that comes from many states as plain lines from each
// source into a junction point and one labelled arrow from it: the UML
// junction pseudo-state, one label instead of one per source.
func (d *dotWriter) fanIn(depth int, prefix string, c Chart, f fanIn) {
	dst, ok := c.State(f.Dst)
	if !ok {
		d.line(depth, "// skipped: event %s goes to undeclared state %s", dotComment(f.Event), dotComment(f.Dst))
		return
	}
	junction := prefix + "(" + f.Event + ")->" + f.Dst
	tip := edgeTip(f.ChartEdge) + "\nfrom " + strings.Join(f.srcs, ", ")
	d.line(depth, "%s [%s];", dotQuote(junction), dotAttrs(
		"shape", "point", "width", "0.09", "color", colorLine, "fillcolor", colorLine, "label", "", "tooltip", tip))
	// The junction belongs to the forward flow when some source is declared
	// before the destination: it ranks below those sources and above the
	// destination. Otherwise it is a way back and ranks below all its
	// sources.
	forward := slices.ContainsFunc(f.srcs, func(s string) bool { return c.index(s) < c.index(f.Dst) })
	for _, s := range f.srcs {
		src, ok := c.State(s)
		if !ok {
			d.line(depth, "// skipped: event %s comes from undeclared state %s", dotComment(f.Event), dotComment(s))
			continue
		}
		from, ltail := anchor(prefix, src, true)
		d.edge(depth, from, junction, ltail, "", forward && c.index(s) >= c.index(f.Dst), "none",
			"tooltip", f.Event+" from "+s)
	}
	to, lhead := anchor(prefix, dst, false)
	d.edge(depth, junction, to, "", lhead, !forward, "", "label", dotLabel(f.ChartEdge), "tooltip", tip)
}

// leadsDown reports whether some edge of c goes from state to a state
// declared after it.
func leadsDown(c Chart, state string) bool {
	i := c.index(state)
	return slices.ContainsFunc(c.Edges, func(e ChartEdge) bool { return e.Src == state && c.index(e.Dst) > i })
}

// back reports whether an edge goes back to a state declared earlier. dot
// ranks nodes along edges and breaks cycles wherever its search happens to
// meet them, which drew the instance machine upside down (its initial state
// at the bottom). Taking the declaration order as the intended flow, and
// writing the edges that go against it reversed (with dir=back, so they
// look the same), keeps the initial state on top and the happy path going
// down.
func back(c Chart, src, dst string) bool {
	return src != dst && c.index(dst) < c.index(src)
}

// dotLabelWrap is the label length past which DOT labels put the guard and
// timer on a line of their own: long one-line labels widen every rank they
// cross, and the composite chart must stay legible about 900 px wide.
const dotLabelWrap = 24

// dotLabel is ChartEdge.Label, wrapped after the event when it is long.
func dotLabel(e ChartEdge) string {
	if l := e.Label(); len(l) <= dotLabelWrap {
		return l
	}
	return e.Event + "\n" + e.qualifiers()
}

// edgeTip is an edge's tooltip line: the event and what causes it.
func edgeTip(e ChartEdge) string {
	if e.Doc == "" {
		return e.Event
	}
	return e.Event + ": " + e.Doc
}

func (d *dotWriter) cluster(depth int, path string, st ChartState) {
	d.line(depth, "subgraph %s {", dotQuote("cluster_"+path))
	attrs := []string{
		"label", d.o.label(path, st.Name),
		"tooltip", stateTip(st),
		"style", "rounded,filled",
		"fillcolor", "#fbfcfd",
		"color", colorLine,
		"fontname", "Helvetica-Bold",
		"fontsize", "13",
		"labeljust", "l",
		"margin", "12",
	}
	if st.Kind == KindError {
		attrs = append(attrs, "color", colorErrorLine, "fontcolor", colorErrorText)
	}
	if d.o.current(path) {
		attrs = append(attrs, "color", colorCurrentLine, "penwidth", "3")
	}
	// Graph attributes inside a subgraph are statements of their own.
	for i := 0; i+1 < len(attrs); i += 2 {
		d.line(depth+1, "%s=%s;", attrs[i], dotQuote(attrs[i+1]))
	}
	d.chart(depth+1, path+PathSep, *st.Child)
	// The exit node ranks below every state of the cluster through an
	// invisible edge from each state that no edge leads further down from
	// (every other state reaches one of them going down). Invisible edges
	// take part in dot's crossing reduction too, so there are as few as
	// that, with weight 0 so that they do not pull nodes sideways.
	exit := exitNode(path)
	d.line(depth+1, "%s [%s];", dotQuote(exit), dotAttrs("shape", "point", "style", "invis", "width", "0", "height", "0", "label", ""))
	for _, inner := range st.Child.States {
		if leadsDown(*st.Child, inner.Name) {
			continue
		}
		from, _ := anchor(path+PathSep, inner, true)
		d.line(depth+1, "%s -> %s [%s];", dotQuote(from), dotQuote(exit), dotAttrs("style", "invis", "weight", "0"))
	}
	d.line(depth, "}")
}

// edge writes one edge from -> to, clipped at cluster ltail and/or lhead
// when they are set. reversed writes it as to -> from with the arrowhead
// drawn at the other end, which looks the same but ranks to above from. dir
// is DOT's dir attribute ("none" for junction lines, "" for an arrow).
func (d *dotWriter) edge(depth int, from, to, ltail, lhead string, reversed bool, dir string, kv ...string) {
	if reversed {
		from, to, ltail, lhead = to, from, lhead, ltail
		if dir == "" {
			dir = "back"
		}
	}
	kv = append(kv, "dir", dir, "ltail", ltail, "lhead", lhead)
	if attrs := dotAttrs(kv...); attrs != "" {
		d.line(depth, "%s -> %s [%s];", dotQuote(from), dotQuote(to), attrs)
		return
	}
	d.line(depth, "%s -> %s;", dotQuote(from), dotQuote(to))
}

// stateTip is a state's tooltip: its name and what it means.
func stateTip(st ChartState) string {
	if st.Doc == "" {
		return st.Name
	}
	return st.Name + ": " + st.Doc
}

// dotAttrs formats key/value pairs as an attribute list, leaving out empty
// values other than labels. Later duplicates override earlier ones in
// Graphviz, which the overlay relies on.
func dotAttrs(kv ...string) string {
	parts := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" && kv[i] != "label" {
			continue
		}
		parts = append(parts, kv[i]+"="+dotQuote(kv[i+1]))
	}
	return strings.Join(parts, ", ")
}

// dotQuote makes s a DOT double-quoted string. A newline becomes \n, DOT's
// centred line break; backslashes are doubled so that names cannot smuggle
// escapes such as \N (the node's name) into a label.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`)
	return `"` + r.Replace(s) + `"`
}

func dotComment(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
