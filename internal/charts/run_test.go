package charts

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/fsm"
)

func run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

func TestRunDraws(t *testing.T) {
	for _, name := range Names() {
		c, err := Get(name)
		require.NoError(t, err)

		code, out, stderr := run("--machine", name, "--format", "mermaid")
		require.Equal(t, 0, code, stderr)
		assert.Equal(t, string(fsm.Mermaid(c, fsm.Overlay{})), out, name)

		code, out, stderr = run("--machine", name) // mermaid is the default
		require.Equal(t, 0, code, stderr)
		assert.Equal(t, string(fsm.Mermaid(c, fsm.Overlay{})), out, name)

		code, out, stderr = run("--machine", name, "--format", "dot")
		require.Equal(t, 0, code, stderr)
		assert.Equal(t, string(fsm.DOT(c, fsm.Overlay{})), out, name)
	}

	code, out, stderr := run("--machine", "slot", "--format", "mermaid", "--notes")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "note right of WaitReply : ")
}

func TestRunSVGToFile(t *testing.T) {
	requireDot(t)
	path := filepath.Join(t.TempDir(), "slot.svg")
	code, out, stderr := run("--machine", "slot", "--format", "svg", "--out", path)
	require.Equal(t, 0, code, stderr)
	assert.Empty(t, out)
	svg, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(svg), "<svg")
	assert.Contains(t, string(svg), "WaitReply")
}

func TestRunLive(t *testing.T) {
	snap := writeFile(t, "snap.json", `{"machine": "composite", "current": "Connected",
		"counts": {"Connected/Connected": 14, "Connected/Error": 2}}`)
	code, out, stderr := run("--machine", "composite", "--format", "mermaid", "--live", snap)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, `state "Connected ×14" as Connected_Connected`)
	assert.Contains(t, out, `state "Error ×2" as Connected_Error`)
	assert.Contains(t, out, "class Connected currentState")

	code, out, stderr = run("--machine", "composite", "--format", "dot", "--live", snap)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, `label="Connected ×14"`)

	// machine is optional; current alone highlights one machine's state.
	one := writeFile(t, "one.json", `{"current": "WaitReply"}`)
	code, out, stderr = run("--machine", "slot", "--live", one)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "class WaitReply currentState")
	assert.Contains(t, out, "[*] --> NoConnect", "the initial state stays marked as initial")
}

func TestRunRejects(t *testing.T) {
	badState := writeFile(t, "bad.json", `{"current": "Nowhere"}`)
	typo := writeFile(t, "typo.json", `{"count": {"Error": 1}}`)
	other := writeFile(t, "other.json", `{"machine": "slot", "current": "Error"}`)
	notJSON := writeFile(t, "junk.json", `current: Error`)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--machine is required"},
		{[]string{"--machine", "raft"}, `unknown machine "raft" (want one of instance, slot, follower, composite)`},
		{[]string{"--machine", "slot", "--format", "png"}, `unknown format "png" (want one of mermaid, dot, svg)`},
		{[]string{"--machine", "slot", "--colour"}, "flag provided but not defined: -colour"},
		{[]string{"--machine", "slot", "extra"}, `unexpected argument "extra"`},
		{[]string{"--machine", "slot", "--format", "dot", "--notes"}, "--notes applies to --format mermaid only"},
		{[]string{"--machine", "slot", "--live", badState}, `current state "Nowhere" is not a state`},
		{[]string{"--machine", "slot", "--live", typo}, `unknown field "count"`},
		{[]string{"--machine", "instance", "--live", other}, `is a snapshot of "slot", not "instance"`},
		{[]string{"--machine", "slot", "--live", notJSON}, "invalid character"},
		{[]string{"--machine", "slot", "--live", filepath.Join(t.TempDir(), "missing.json")}, "no such file"},
	} {
		code, out, stderr := run(tc.args...)
		assert.Equal(t, 2, code, "%v: %s", tc.args, stderr)
		assert.Empty(t, out, tc.args)
		assert.Contains(t, stderr, tc.want, tc.args)
		assert.Contains(t, stderr, "usage: replsm statechart", tc.args)
	}
}

func TestRunHelp(t *testing.T) {
	code, out, stderr := run("-h")
	assert.Equal(t, 0, code)
	assert.Empty(t, stderr)
	assert.True(t, strings.HasPrefix(out, "usage: replsm statechart"))
}

func TestRunWriteFailure(t *testing.T) {
	code, _, stderr := run("--machine", "slot", "--out", filepath.Join(t.TempDir(), "no", "such", "dir", "x.mmd"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "no such file or directory")
}

func TestReadSnapshot(t *testing.T) {
	s, err := ReadSnapshot(strings.NewReader(`{"machine":"slot","current":"Error","counts":{"Error":2,"Connected":14}}`))
	require.NoError(t, err)
	assert.Equal(t, Snapshot{Machine: "slot", Overlay: fsm.Overlay{Current: "Error", Counts: map[string]int{"Error": 2, "Connected": 14}}}, s)

	_, err = ReadSnapshot(strings.NewReader(`{} {}`))
	assert.ErrorContains(t, err, "more than one JSON value")
}
