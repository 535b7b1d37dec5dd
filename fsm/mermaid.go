package fsm

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// Mermaid renders c as a Mermaid stateDiagram-v2, decorated with o (the zero
// Overlay draws the plain chart). The same chart and overlay always give the
// same bytes.
//
// What is drawn:
//   - the initial state of every level as [*] --> Initial (never the current
//     state: that is what the overlay highlights);
//   - one arrow per (source, destination), labelled with every event that
//     takes it, one per line, as ChartEdge.Label formats them;
//   - an event that leaves four or more states for the same destination as
//     unlabelled arrows into a junction (Mermaid's small <<choice>> diamond,
//     the nearest it has) and one labelled arrow out of it;
//   - error states in red and terminal states with a heavy border, through
//     classDef and class;
//   - a nested chart as a composite state (state X { ... }), its states
//     prefixed with the composite's id because Mermaid state ids are global;
//   - state docs as %% comments beside each state's declaration; use
//     MermaidWithNotes to draw them as notes.
//
// Names are mapped to identifiers and shown through state "Label" as id, and
// text that Mermaid's grammar would misread is replaced by visible stand-ins
// (see mermaidText), so names and labels may hold any character.
func Mermaid(c Chart, o Overlay) []byte { return mermaid(c, o, false) }

// MermaidWithNotes is Mermaid with every state's doc drawn as a note to its
// right. Dagre lays notes out beside their states, which makes a picture of
// eight states about twice as wide; the generated docs therefore list the
// docs in a table under the plain diagram instead.
func MermaidWithNotes(c Chart, o Overlay) []byte { return mermaid(c, o, true) }

func mermaid(c Chart, o Overlay, notes bool) []byte {
	m := &mermaidWriter{o: o, notes: notes, ids: map[string]string{}, used: map[string]bool{}}
	m.assign("", "", c)
	m.line(0, "stateDiagram-v2")
	m.line(1, "accTitle: %s state machine", mermaidText(c.Name))
	if c.Doc != "" {
		m.line(1, "accDescr: %s", mermaidComment(c.Doc))
	}
	m.chart(1, "", c)
	m.classes(c)
	return m.buf.Bytes()
}

type mermaidWriter struct {
	buf   bytes.Buffer
	o     Overlay
	notes bool
	ids   map[string]string // state path -> Mermaid id
	used  map[string]bool
	// class name -> ids, filled while drawing, emitted at the end.
	errorIDs, terminalIDs, liveIDs, liveErrorIDs, currentIDs []string
}

func (m *mermaidWriter) line(depth int, format string, args ...any) {
	m.buf.WriteString(strings.Repeat("  ", depth))
	fmt.Fprintf(&m.buf, format, args...)
	m.buf.WriteByte('\n')
}

// assign gives every state path a unique Mermaid id up front, in
// declaration order, so ids do not depend on drawing order.
func (m *mermaidWriter) assign(prefix, idPrefix string, c Chart) {
	for _, st := range c.States {
		path := prefix + st.Name
		id := m.unique(idPrefix + mermaidID(st.Name))
		m.ids[path] = id
		if st.Child != nil {
			m.assign(path+PathSep, id+"_", *st.Child)
		}
	}
}

func (m *mermaidWriter) unique(id string) string {
	if m.used[id] {
		for n := 2; ; n++ {
			cand := fmt.Sprintf("%s_%d", id, n)
			if !m.used[cand] {
				id = cand
				break
			}
		}
	}
	m.used[id] = true
	return id
}

func (m *mermaidWriter) chart(depth int, prefix string, c Chart) {
	for _, st := range c.States {
		path := prefix + st.Name
		id := m.ids[path]
		label := mermaidText(m.o.label(path, st.Name))
		if st.Doc != "" {
			m.line(depth, "%%%% %s: %s", mermaidComment(st.Name), mermaidComment(st.Doc))
		}
		if st.Child != nil {
			m.line(depth, "state \"%s\" as %s {", label, id)
			m.chart(depth+1, path+PathSep, *st.Child)
			m.line(depth, "}")
		} else {
			m.line(depth, "state \"%s\" as %s", label, id)
		}
		switch st.Kind {
		case KindError:
			m.errorIDs = append(m.errorIDs, id)
		case KindTerminal:
			m.terminalIDs = append(m.terminalIDs, id)
		}
		if m.o.Counts[path] > 0 {
			// An error state keeps its red so that "Error ×2" still
			// reads as trouble.
			if st.Kind == KindError {
				m.liveErrorIDs = append(m.liveErrorIDs, id)
			} else {
				m.liveIDs = append(m.liveIDs, id)
			}
		}
		if m.o.Current == path {
			m.currentIDs = append(m.currentIDs, id)
		}
	}
	if init := c.Initial(); init != "" {
		m.line(depth, "[*] --> %s", m.ids[prefix+init])
	}
	rest, fans := splitFanIns(c.Edges, fanInMin)
	for _, group := range parallel(rest) {
		src, okS := m.ids[prefix+group[0].Src]
		dst, okD := m.ids[prefix+group[0].Dst]
		if !okS || !okD {
			// A hand-built chart naming an undeclared state: say so
			// rather than invent a node.
			m.line(depth, "%%%% skipped: edge %s -> %s names an undeclared state", mermaidComment(group[0].Src), mermaidComment(group[0].Dst))
			continue
		}
		labels := make([]string, len(group))
		for i, e := range group {
			labels[i] = mermaidText(e.Label())
		}
		// <br/> is the line break Mermaid draws in transition labels.
		m.line(depth, "%s --> %s : %s", src, dst, strings.Join(labels, "<br/>"))
	}
	for _, f := range fans {
		dst, ok := m.ids[prefix+f.Dst]
		if !ok {
			m.line(depth, "%%%% skipped: event %s goes to undeclared state %s", mermaidComment(f.Event), mermaidComment(f.Dst))
			continue
		}
		j := m.unique("j_" + dst + "_" + mermaidUnsafe.ReplaceAllString(f.Event, "_"))
		m.line(depth, "%%%% %s from %s", mermaidComment(f.Event), mermaidComment(strings.Join(f.srcs, ", ")))
		m.line(depth, "state %s <<choice>>", j)
		for _, s := range f.srcs {
			if src, ok := m.ids[prefix+s]; ok {
				m.line(depth, "%s --> %s", src, j)
			}
		}
		m.line(depth, "%s --> %s : %s", j, dst, mermaidText(f.Label()))
	}
	if m.notes {
		for _, st := range c.States {
			if st.Doc != "" && st.Child == nil {
				m.line(depth, "note right of %s : %s", m.ids[prefix+st.Name], mermaidNote(st.Doc))
			}
		}
	}
}

// Colors are shared with the DOT exporter so both pictures read alike.
const (
	colorLine        = "#546e7a"
	colorFill        = "#f5f7fa"
	colorErrorFill   = "#fdecea"
	colorErrorLine   = "#c62828"
	colorErrorText   = "#b71c1c"
	colorTermLine    = "#263238"
	colorTermFill    = "#eceff1"
	colorLiveFill    = "#e3f2fd"
	colorLiveLine    = "#1565c0"
	colorCurrentFill = "#fff59d"
	colorCurrentLine = "#e65100"
)

func (m *mermaidWriter) classes(c Chart) {
	// Later class statements win where a state has two, so the overlay's
	// classes come after the kinds.
	type class struct {
		name, style string
		ids         []string
	}
	for _, cl := range []class{
		{"errorState", "fill:" + colorErrorFill + ",stroke:" + colorErrorLine + ",color:" + colorErrorText, m.errorIDs},
		{"terminalState", "fill:" + colorTermFill + ",stroke:" + colorTermLine + ",stroke-width:3px", m.terminalIDs},
		{"liveState", "fill:" + colorLiveFill + ",stroke:" + colorLiveLine + ",stroke-width:2px,font-weight:bold", m.liveIDs},
		{"liveErrorState", "fill:" + colorErrorFill + ",stroke:" + colorErrorLine + ",color:" + colorErrorText + ",stroke-width:3px,font-weight:bold", m.liveErrorIDs},
		{"currentState", "fill:" + colorCurrentFill + ",stroke:" + colorCurrentLine + ",stroke-width:3px", m.currentIDs},
	} {
		if len(cl.ids) == 0 {
			continue
		}
		m.line(1, "classDef %s %s", cl.name, cl.style)
		m.line(1, "class %s %s", strings.Join(cl.ids, ","), cl.name)
	}
}

// mermaidKeywords are words the stateDiagram lexer reads as keywords, so
// they cannot be state ids.
var mermaidKeywords = map[string]bool{
	"state": true, "note": true, "end": true, "class": true, "classdef": true,
	"style": true, "direction": true, "click": true, "href": true, "default": true,
	"scale": true, "as": true, "hide": true, "acctitle": true, "accdescr": true,
	"statediagram": true, "left": true, "right": true, "of": true,
}

var mermaidUnsafe = regexp.MustCompile(`[^A-Za-z0-9_]`)

// mermaidID maps a state name to a Mermaid identifier: letters, digits and
// underscores, starting with a letter, and not a keyword.
func mermaidID(name string) string {
	id := mermaidUnsafe.ReplaceAllString(name, "_")
	if id == "" || !(id[0] >= 'A' && id[0] <= 'Z' || id[0] >= 'a' && id[0] <= 'z') || mermaidKeywords[strings.ToLower(id)] {
		id = "s_" + id
	}
	return id
}

// Mermaid's #code; entities would be the documented way to escape, but the
// state diagram renderer of Mermaid 11 prints them undecoded in labels
// ("ﬂ°°58¶ß"), so text is made safe with visible stand-ins instead. What the
// stateDiagram grammar cannot hold, found with its own parser:
//   - ";" ends a statement anywhere, even inside a label;
//   - a note or state description ends at ":" and a transition label at "::";
//   - a quoted state label ends at '"';
//   - a line holding "direction LR" (TB, BT, RL), "<<fork>>" or "[[fork]]"
//     (and join, choice) is read as that statement wherever it is;
//   - "<" before a letter, "/", "!" or "?" starts an HTML tag that the
//     renderer's sanitizer removes with everything up to ">".
var (
	mermaidLine   = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")
	mermaidCommon = strings.NewReplacer(
		";", ",",
		"<<", "< <",
		"[[", "[ [",
		"\"", "'",
	)
	mermaidTag = regexp.MustCompile(`<([A-Za-z/!?])`)
	// The zero-width non-joiner is not \s to the lexer, so it breaks the
	// match while the text looks the same.
	mermaidDirection = regexp.MustCompile(`(?i)(directio)(n\s+(?:TB|BT|RL|LR))`)
)

// mermaidText makes free text safe as a state label or transition label.
func mermaidText(s string) string {
	s = mermaidCommon.Replace(mermaidLine.Replace(s))
	s = strings.ReplaceAll(s, "::", ": :")
	s = mermaidTag.ReplaceAllString(s, "< $1")
	return mermaidDirection.ReplaceAllString(s, "${1}\u200c${2}")
}

// mermaidNote makes free text safe as a note, where the grammar ends the
// text at any colon: a colon is drawn as the look-alike U+2236 RATIO.
func mermaidNote(s string) string {
	return strings.ReplaceAll(mermaidText(s), ":", "\u2236")
}

// mermaidComment keeps free text on one %% comment line.
func mermaidComment(s string) string {
	return mermaidDirection.ReplaceAllString(mermaidLine.Replace(s), "${1}\u200c${2}")
}
