package sim

import (
	"fmt"
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
			args := make([]Arg, 0, len(d.CmdArgs))
			for _, ca := range d.CmdArgs {
				if len(ca.Vals) == 0 {
					args = append(args, Arg{Key: ca.Key})
				} else {
					args = append(args, Arg{Key: ca.Key, Val: strings.Join(ca.Vals, ","), HasVal: true})
				}
			}
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

func TestRunScript(t *testing.T) {
	var out strings.Builder
	s, err := Run(strings.NewReader("new slots=2\nslaveof addr=m:1\nadvance 1s\ninfo\n"), &out, DefaultParams())
	require.NoError(t, err)
	require.Contains(t, out.String(), "link=up")
	require.Equal(t, fsm.Overlay{Current: "Connected", Counts: map[string]int{"Connected/Connected": 2}}, s.Overlay())
	s.Close()
	_, err = Run(strings.NewReader("new bogus=1\n"), &out, DefaultParams())
	require.ErrorIs(t, err, ErrBadCommand)
	out.Reset()
	s, err = Run(strings.NewReader("frobnicate\n"), &out, DefaultParams())
	require.NoError(t, err)
	s.Close()
	require.Contains(t, out.String(), fmt.Sprintf("error: %v", ErrBadCommand))
}
