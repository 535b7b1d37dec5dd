package charts

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/fsm"
)

// root is the module root, seen from this package's directory.
const root = "../.."

func TestRegistry(t *testing.T) {
	assert.Equal(t, []string{Instance, Slot, Follower, Composite}, Names())
	for _, m := range Machines() {
		c, err := Get(m.Name)
		require.NoError(t, err, m.Name)
		assert.NotEmpty(t, c.Initial(), m.Name)
		assert.NotEmpty(t, m.About, m.Name)
		// Every edge names declared states: the exporters would otherwise
		// leave a "skipped" comment instead of an arrow.
		assert.NotContains(t, string(fsm.Mermaid(c, fsm.Overlay{})), "skipped", m.Name)
		assert.NotContains(t, string(fsm.DOT(c, fsm.Overlay{})), "skipped", m.Name)
	}
	_, err := Get("nope")
	assert.ErrorContains(t, err, `unknown machine "nope"`)

	c, err := CompositeChart()
	require.NoError(t, err)
	st, ok := c.State(ComposedIn)
	require.True(t, ok)
	require.NotNil(t, st.Child)
	assert.Equal(t, "slot", st.Child.Name)
	assert.Contains(t, c.Paths(), "Connected/WaitReply")
}

// TestDocsUpToDate regenerates the docs into a temporary directory and
// compares them byte for byte with docs/statecharts.
func TestDocsUpToDate(t *testing.T) {
	requireDot(t)
	tmp := t.TempDir()
	require.NoError(t, Generate(tmp))
	docs := filepath.Join(root, DocsDir)

	want := listDir(t, tmp)
	have := listDir(t, docs)
	for _, name := range want {
		if !slices.Contains(have, name) {
			t.Errorf("%s/%s is missing: run `make statecharts` and commit the result", DocsDir, name)
		}
	}
	for _, name := range have {
		if !slices.Contains(want, name) {
			t.Errorf("%s/%s is not generated any more: delete it (or run `make statecharts`)", DocsDir, name)
		}
	}
	for _, name := range want {
		got, err := os.ReadFile(filepath.Join(docs, name))
		if err != nil {
			continue // reported above
		}
		gen, err := os.ReadFile(filepath.Join(tmp, name))
		require.NoError(t, err)
		if bytes.Equal(got, gen) {
			continue
		}
		msg := "%s/%s differs from what the code generates (a spec or an exporter changed, or the file was edited by hand). Run `make statecharts` and commit the result."
		if strings.HasSuffix(name, ".svg") {
			// dot's output is byte-stable run to run (TestSVGIsStable), but
			// not across Graphviz versions.
			msg += " (SVGs also change with the Graphviz version: checked in " +
				graphvizVersion(got) + ", here " + graphvizVersion(gen) + ".)"
		}
		t.Errorf(msg, DocsDir, name)
	}
}

// TestSVGIsStable checks that dot renders the same DOT to the same bytes,
// which the byte-for-byte drift test relies on.
func TestSVGIsStable(t *testing.T) {
	requireDot(t)
	c, err := CompositeChart()
	require.NoError(t, err)
	dot := fsm.DOT(c, fsm.Overlay{Current: "Connected/WaitReply", Counts: map[string]int{"Connected/Error": 2}})
	first, err := RenderSVG(dot)
	require.NoError(t, err)
	for range 3 {
		again, err := RenderSVG(dot)
		require.NoError(t, err)
		require.Equal(t, string(first), string(again))
	}
}

// TestDotRendersEveryDiagram renders every checked-in DOT file (the docs and
// the fsm exporter's goldens) with the real Graphviz; an error or any
// warning fails.
func TestDotRendersEveryDiagram(t *testing.T) {
	requireDot(t)
	files := glob(t, filepath.Join(root, DocsDir, "*.dot"), filepath.Join(root, "fsm/testdata/charts/*.dot"))
	for _, f := range files {
		cmd := exec.Command("dot", "-Tsvg", "-o", os.DevNull, f)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if err != nil || stderr.Len() > 0 {
			t.Errorf("dot -Tsvg %s: %v\n%s", f, err, stderr.String())
		}
	}
}

// TestMermaidParsesEveryDiagram runs Mermaid's own parser (tools/diagramcheck,
// installed with npm ci on first use) over every checked-in Mermaid diagram:
// the .mmd files, the README's ```mermaid blocks and the fsm goldens.
func TestMermaidParsesEveryDiagram(t *testing.T) {
	files := glob(t,
		filepath.Join(root, DocsDir, "*.mmd"),
		filepath.Join(root, DocsDir, "README.md"),
		filepath.Join(root, "fsm/testdata/charts/*.mmd"))
	out, err := diagramcheck(t, files...)
	require.NoError(t, err, "Mermaid's parser rejected a diagram:\n%s", out)
	t.Log(strings.TrimSpace(out))
}

// TestDiagramcheckRejectsBrokenDiagrams makes sure the checker really
// fails, and says where.
func TestDiagramcheckRejectsBrokenDiagrams(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.mmd")
	require.NoError(t, os.WriteFile(bad, []byte("stateDiagram-v2\n  [*] --> A\n  A -- > B\n"), 0o644))
	md := filepath.Join(dir, "bad.md")
	require.NoError(t, os.WriteFile(md, []byte("# t\n\n```mermaid\nstateDiagram-v2\n  A --> B\n```\n\ntext\n\n```mermaid\nstateDiagram-v2\n  A --> B\n  note right of A : a: b\n```\n"), 0o644))

	out, err := diagramcheck(t, bad, md)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, out)
	assert.Equal(t, 1, exit.ExitCode(), out)
	assert.Contains(t, out, bad+":3: Parse error on line 3")
	assert.Contains(t, out, "  3 |   A -- > B")
	assert.Contains(t, out, md+":13: block 2: Parse error on line 3")
	assert.Contains(t, out, "2 of 3 diagrams failed to parse")
}

func diagramcheck(t *testing.T, files ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node not found on PATH: tools/diagramcheck needs Node.js 18 or later with npm (Debian: apt-get install nodejs npm)")
	}
	cmd := exec.Command("bash", append([]string{filepath.Join(root, "tools/diagramcheck/diagramcheck")}, files...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func requireDot(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("dot"); err != nil {
		t.Fatal(ErrNoGraphviz)
	}
}

func glob(t *testing.T, patterns ...string) []string {
	t.Helper()
	var out []string
	for _, p := range patterns {
		m, err := filepath.Glob(p)
		require.NoError(t, err)
		require.NotEmpty(t, m, "nothing matches %s", p)
		out = append(out, m...)
	}
	return out
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if !e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

var graphvizVersionRE = regexp.MustCompile(`Generated by graphviz version ([^\n]*)`)

func graphvizVersion(svg []byte) string {
	if m := graphvizVersionRE.FindSubmatch(svg); m != nil {
		return "Graphviz " + strings.TrimSpace(string(m[1]))
	}
	return "an unknown Graphviz"
}
