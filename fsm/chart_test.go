package fsm

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Names here carry a chart prefix so that they do not collide with the
// other test files of package fsm.
type chartState string
type chartEvent string

// chartConnSpec is a small outer machine whose names and labels hold the
// characters Mermaid and DOT reserve, and one event from four states (a
// junction).
func chartConnSpec() Spec[chartState, chartEvent] {
	return Spec[chartState, chartEvent]{
		Name: "conn",
		Doc:  "A connection: dials, streams while Up, fails and retries.",
		States: []State[chartState]{
			{Name: "Idle", Kind: KindInitial, Doc: "nothing to do; waits for a dial"},
			{Name: "Dialing", Doc: "dial sent: waiting for the answer"},
			{Name: "Up", Doc: "streaming"},
			{Name: "Half Open", Doc: `odd name with "quotes" and a <tag>`},
			{Name: "Failed", Kind: KindError, Doc: "dial failed; retried after a backoff"},
			{Name: "end", Kind: KindTerminal, Doc: "closed for good (a Mermaid keyword as a name)"},
		},
		Transitions: []Transition[chartState, chartEvent]{
			{Event: "dial", Src: []chartState{"Idle"}, Dst: "Dialing", Doc: "asked to connect"},
			{Event: "dial_ok", Src: []chartState{"Dialing"}, Dst: "Up"},
			{Event: "dial_timeout", Src: []chartState{"Dialing"}, Dst: "Failed", Timer: "10s", Doc: "no answer"},
			{Event: "half", Src: []chartState{"Dialing"}, Dst: "Half Open", Guard: `peer said "half"; mode: a::b`},
			{Event: "settle", Src: []chartState{"Half Open"}, Dst: "Up", Guard: "x<y && z > 1 [[fork]] <<join>>", Timer: "set direction LR"},
			{Event: "drop", Src: []chartState{"Up", "Half Open"}, Dst: "Idle", Doc: "link lost"},
			{Event: "stall", Src: []chartState{"Up"}, Dst: "Idle", Timer: "20s"},
			{Event: "retry", Src: []chartState{"Failed"}, Dst: "Idle", Guard: "attempts < cap", Timer: "backoff"},
			{Event: "close", Src: []chartState{"Idle", "Dialing", "Up", "Failed"}, Dst: "end", Doc: "operator closed it"},
		},
	}
}

// chartStreamSpec is the machine nested in conn's Up state.
func chartStreamSpec() Spec[chartState, chartEvent] {
	return Spec[chartState, chartEvent]{
		Name: "stream",
		States: []State[chartState]{
			{Name: "Start", Kind: KindInitial, Doc: "handshake"},
			{Name: "Flowing", Doc: "data moving"},
			{Name: "Stuck", Kind: KindError, Doc: "stopped"},
		},
		Transitions: []Transition[chartState, chartEvent]{
			{Event: "go", Src: []chartState{"Start"}, Dst: "Flowing"},
			{Event: "stall", Src: []chartState{"Flowing"}, Dst: "Start", Timer: "20s"},
			{Event: "fail", Src: []chartState{"Start", "Flowing"}, Dst: "Stuck"},
			{Event: "recover", Src: []chartState{"Stuck"}, Dst: "Start", Guard: "n < 3", Timer: "backoff"},
		},
	}
}

func chartComposite(t *testing.T) Chart {
	t.Helper()
	c, err := Compose(chartConnSpec().Chart(), "Up", chartStreamSpec().Chart())
	require.NoError(t, err)
	return c
}

func TestChartFromSpec(t *testing.T) {
	require.NoError(t, chartConnSpec().Validate())
	c := chartConnSpec().Chart()
	assert.Equal(t, "conn", c.Name)
	assert.Equal(t, "Idle", c.Initial())
	require.Len(t, c.States, 6)
	assert.Equal(t, ChartState{Name: "Failed", Kind: KindError, Doc: "dial failed; retried after a backoff"}, c.States[4])

	// One edge per source, in declaration order.
	var got []string
	for _, e := range c.Edges {
		if e.Event == "close" || e.Event == "drop" {
			got = append(got, e.Event+":"+e.Src+"->"+e.Dst)
		}
	}
	assert.Equal(t, []string{
		"drop:Up->Idle", "drop:Half Open->Idle",
		"close:Idle->end", "close:Dialing->end", "close:Up->end", "close:Failed->end",
	}, got)
}

func TestChartEdgeLabel(t *testing.T) {
	for _, tc := range []struct {
		e    ChartEdge
		want string
	}{
		{ChartEdge{Event: "sync_ok"}, "sync_ok"},
		{ChartEdge{Event: "reply_timeout", Timer: "10s"}, "reply_timeout after 10s"},
		{ChartEdge{Event: "start", Guard: "link up"}, "start [link up]"},
		{ChartEdge{Event: "recover", Guard: "attempts < cap", Timer: "backoff"}, "recover [attempts < cap] after backoff"},
	} {
		assert.Equal(t, tc.want, tc.e.Label())
	}
}

func TestCompose(t *testing.T) {
	outer, inner := chartConnSpec().Chart(), chartStreamSpec().Chart()
	c, err := Compose(outer, "Up", inner)
	require.NoError(t, err)
	up, ok := c.State("Up")
	require.True(t, ok)
	require.NotNil(t, up.Child)
	assert.Equal(t, "stream", up.Child.Name)
	assert.Equal(t, "conn", c.Name)

	// The inputs are untouched, and the result shares nothing with them.
	before, _ := outer.State("Up")
	assert.Nil(t, before.Child)
	c.States[0].Name = "changed"
	up.Child.States[0].Name = "changed"
	assert.Equal(t, "Idle", outer.States[0].Name)
	assert.Equal(t, "Start", inner.States[0].Name)

	assert.Equal(t, []string{"Idle", "Dialing", "Up", "Up/Start", "Up/Flowing", "Up/Stuck", "Half Open", "Failed", "end"},
		chartComposite(t).Paths())

	_, err = Compose(outer, "Nowhere", inner)
	assert.ErrorIs(t, err, ErrInvalidChart)
	assert.ErrorContains(t, err, `no state "Nowhere"`)
	_, err = Compose(chartComposite(t), "Up", inner)
	assert.ErrorIs(t, err, ErrInvalidChart)
	assert.ErrorContains(t, err, "already holds")
	_, err = Compose(outer, "Up", Chart{Name: "empty"})
	assert.ErrorIs(t, err, ErrInvalidChart)
	assert.ErrorContains(t, err, "no initial state")
}

func TestCheckOverlay(t *testing.T) {
	c := chartComposite(t)
	assert.NoError(t, c.CheckOverlay(Overlay{}))
	assert.NoError(t, c.CheckOverlay(Overlay{Current: "Up/Flowing", Counts: map[string]int{"Up/Stuck": 2, "Idle": 0}}))

	err := c.CheckOverlay(Overlay{Current: "Flowing", Counts: map[string]int{"Nope": 1, "Idle": -1}})
	require.ErrorIs(t, err, ErrInvalidChart)
	assert.ErrorContains(t, err, `current state "Flowing" is not a state`)
	assert.ErrorContains(t, err, `count for "Nope"`)
	assert.ErrorContains(t, err, `negative count -1 for "Idle"`)
	assert.ErrorContains(t, err, "Up/Flowing", "the message lists the valid paths")
}

func TestExportersAreDeterministic(t *testing.T) {
	o := Overlay{Current: "Up/Flowing", Counts: map[string]int{"Up/Flowing": 14, "Up/Stuck": 2, "Failed": 1, "Idle": 3}}
	for name, render := range map[string]func(Chart, Overlay) []byte{"mermaid": Mermaid, "dot": DOT, "notes": MermaidWithNotes} {
		first := render(chartComposite(t), o)
		for range 20 {
			require.Equal(t, string(first), string(render(chartComposite(t), o)), name)
		}
	}
}

func TestMermaidIDs(t *testing.T) {
	for name, want := range map[string]string{
		"NoConnect": "NoConnect",
		"Half Open": "Half_Open",
		"end":       "s_end",
		"State":     "s_State",
		"3way":      "s_3way",
		"":          "s_",
		"a-b:c":     "a_b_c",
	} {
		assert.Equal(t, want, mermaidID(name), name)
	}

	// Nested states get the composite's id as a prefix, and clashes a
	// suffix, so every id is unique.
	out := string(Mermaid(Chart{
		Name: "clash",
		States: []ChartState{
			{Name: "a b", Kind: KindInitial},
			{Name: "a_b"},
			{Name: "S", Child: &Chart{Name: "in", States: []ChartState{{Name: "S", Kind: KindInitial}}}},
		},
	}, Overlay{}))
	assert.Contains(t, out, `state "a b" as a_b`+"\n")
	assert.Contains(t, out, `state "a_b" as a_b_2`+"\n")
	assert.Contains(t, out, `state "S" as S_S`+"\n")
}

func TestMermaidText(t *testing.T) {
	for in, want := range map[string]string{
		"attempts < cap":        "attempts < cap",
		"x<y":                   "x< y",
		"a<b>c</b>":             "a< b>c< /b>",
		"one; two":              "one, two",
		`say "hi"`:              "say 'hi'",
		"a::b":                  "a: :b",
		"[[fork]]":              "[ [fork]]",
		"<<join>>":              "< < join>>",
		"two\nlines":            "two lines",
		"set direction LR here": "set directio\u200cn LR here",
	} {
		assert.Equal(t, want, mermaidText(in), in)
	}
	assert.Equal(t, "a\u2236 b, c", mermaidNote("a: b; c"))
}

func TestDOTQuote(t *testing.T) {
	assert.Equal(t, `"plain"`, dotQuote("plain"))
	assert.Equal(t, `"say \"hi\""`, dotQuote(`say "hi"`))
	assert.Equal(t, `"a\\N b"`, dotQuote(`a\N b`), "no DOT escapes smuggled in")
	assert.Equal(t, `"two\nlines"`, dotQuote("two\nlines"))
}

func TestExportersMarkInitialNotCurrent(t *testing.T) {
	o := Overlay{Current: "Failed"}
	mmd := string(Mermaid(chartConnSpec().Chart(), o))
	assert.Contains(t, mmd, "[*] --> Idle\n")
	assert.NotContains(t, mmd, "[*] --> Failed")
	assert.Contains(t, mmd, "class Failed currentState\n")

	dot := string(DOT(chartConnSpec().Chart(), o))
	assert.Contains(t, dot, `"[*]" -> "Idle"`)
	assert.Regexp(t, regexp.MustCompile(`"Failed" \[[^\n]*penwidth="3"`), dot)
}

func TestExportersSkipUndeclaredStates(t *testing.T) {
	// A hand-built chart may name a state it does not declare: the
	// exporters say so in a comment instead of drawing a phantom node.
	c := Chart{
		Name:   "broken",
		States: []ChartState{{Name: "A", Kind: KindInitial}},
		Edges:  []ChartEdge{{Event: "go", Src: "A", Dst: "Ghost"}},
	}
	assert.Contains(t, string(Mermaid(c, Overlay{})), "%% skipped: edge A -> Ghost")
	assert.Contains(t, string(DOT(c, Overlay{})), "// skipped: edge A -> Ghost")
}

// rewriteCharts regenerates the golden files: go test ./fsm/ -run Golden -rewrite.
// It reuses a -rewrite flag another test file or datadriven may have
// registered already, since registering one twice panics.
var rewriteCharts = func() func() bool {
	if f := flag.Lookup("rewrite"); f != nil {
		return func() bool { return f.Value.String() == "true" }
	}
	b := flag.Bool("rewrite", false, "rewrite golden files under testdata/")
	return func() bool { return *b }
}()

// TestChartGolden compares both exporters' output on the small specs above
// (flat, composite, with an overlay) with testdata/charts/. The internal/charts
// tests run these same files through dot and Mermaid's parser.
func TestChartGolden(t *testing.T) {
	live := Overlay{
		Current: "Up/Flowing",
		Counts:  map[string]int{"Up/Flowing": 14, "Up/Stuck": 2, "Failed": 1},
	}
	cases := map[string][]byte{
		"flat.mmd":       Mermaid(chartConnSpec().Chart(), Overlay{}),
		"flat.dot":       DOT(chartConnSpec().Chart(), Overlay{}),
		"flat-notes.mmd": MermaidWithNotes(chartConnSpec().Chart(), Overlay{}),
		"composite.mmd":  Mermaid(chartComposite(t), Overlay{}),
		"composite.dot":  DOT(chartComposite(t), Overlay{}),
		"overlay.mmd":    Mermaid(chartComposite(t), live),
		"overlay.dot":    DOT(chartComposite(t), live),
	}
	dir := filepath.Join("testdata", "charts")
	if rewriteCharts() {
		require.NoError(t, os.MkdirAll(dir, 0o755))
	}
	for name, got := range cases {
		path := filepath.Join(dir, name)
		if rewriteCharts() {
			require.NoError(t, os.WriteFile(path, got, 0o644))
			continue
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err, "missing golden file; run: go test ./fsm/ -run TestChartGolden -rewrite")
		if !bytes.Equal(want, got) {
			t.Errorf("%s differs from the exporter's output; if the change is intended, run\n"+
				"  go test ./fsm/ -run TestChartGolden -rewrite\nand review the diff.\n--- want\n%s\n--- got\n%s",
				path, want, got)
		}
	}
	// No stale goldens left behind.
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if _, ok := cases[e.Name()]; !ok && !strings.HasPrefix(e.Name(), ".") {
			t.Errorf("%s is not produced by TestChartGolden: delete it", filepath.Join(dir, e.Name()))
		}
	}
}

func TestOverlayLabels(t *testing.T) {
	o := Overlay{Current: "Up/Flowing", Counts: map[string]int{"Up/Flowing": 14, "Failed": 2}}
	c := chartComposite(t)

	mmd := string(Mermaid(c, o))
	assert.Contains(t, mmd, `state "Flowing ×14" as Up_Flowing`)
	assert.Contains(t, mmd, `state "Failed ×2" as Failed`)
	assert.Contains(t, mmd, "class Up_Flowing liveState\n")
	assert.Contains(t, mmd, "class Failed liveErrorState\n")
	assert.Contains(t, mmd, "class Up_Flowing currentState\n")

	dot := string(DOT(c, o))
	assert.Contains(t, dot, `label="Flowing ×14"`)
	// The composite enclosing the current state is highlighted too.
	assert.Regexp(t, regexp.MustCompile(`subgraph "cluster_Up" \{[^}]*penwidth="3"`), dot)
	assert.False(t, errors.Is(c.CheckOverlay(o), ErrInvalidChart))
}
