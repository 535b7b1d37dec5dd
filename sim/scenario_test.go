package sim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/fsm"
)

// TestScenarios runs every script under testdata/scenarios on two twin
// simulations and requires their outputs to be byte-identical, then compares
// them with the expected transition log. Regenerate with -rewrite.
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "../testdata/scenarios", func(t *testing.T, path string) {
		var a, b *Sim
		t.Cleanup(func() {
			for _, s := range []*Sim{a, b} {
				if s != nil {
					s.Close()
				}
			}
		})
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			args := ToArgs(d.CmdArgs)
			if d.Cmd == "new" {
				p, err := ApplyParams(DefaultParams(), args)
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				for _, s := range []*Sim{a, b} {
					if s != nil {
						s.Close()
					}
				}
				a, err = New(p)
				require.NoError(t, err)
				b, err = New(p)
				require.NoError(t, err)
				return "ok\n"
			}
			require.NotNil(t, a, "%s: the script must start with `new`", d.Pos)
			outA, outB := a.Exec(d.Cmd, args), b.Exec(d.Cmd, args)
			require.Equal(t, outA, outB, "%s: two runs of the same script diverged", d.Pos)
			return outA
		})
	})
}

// TestRunReplaysScenarioFiles: Run (what `replsm simulate --script` does)
// writes every scenario file back byte for byte, comments included.
func TestRunReplaysScenarioFiles(t *testing.T) {
	files, err := filepath.Glob("../testdata/scenarios/*.txt")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		want, err := os.ReadFile(f)
		require.NoError(t, err)
		var out strings.Builder
		s, err := Run(strings.NewReader(string(want)), &out, DefaultParams())
		require.NoError(t, err, f)
		s.Close()
		require.Equal(t, string(want), out.String(), "%s does not replay to itself", f)
	}
}

func TestRunScript(t *testing.T) {
	var out strings.Builder
	s, err := Run(strings.NewReader("new slots=2\nslaveof addr=m:1\nadvance 1s\ninfo\n"), &out, DefaultParams())
	require.NoError(t, err)
	require.Contains(t, out.String(), "link=up")
	require.Contains(t, out.String(), "slaveof addr=m:1\n----\n")
	require.Equal(t, fsm.Overlay{Current: "Connected", Counts: map[string]int{"Connected/Connected": 2}}, s.Overlay())
	s.Close()

	for _, bad := range []string{"new bogus=1\n", "frobnicate\n", "new\npeer slot=1 mode=sideways\n", "new\nadvance soon\n", "new\nfail slot=x\n"} {
		out.Reset()
		_, err = Run(strings.NewReader(bad), &out, DefaultParams())
		require.ErrorIs(t, err, ErrBadCommand, "script %q", bad)
	}
	// What a machine refuses is part of the scenario, not a script error.
	out.Reset()
	s, err = Run(strings.NewReader("new slots=1\nreply slot=1 session=9 event=sync_ok\n"), &out, DefaultParams())
	require.NoError(t, err)
	s.Close()
	require.Contains(t, out.String(), "error: slot: stale session")
}
