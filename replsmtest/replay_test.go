package replsmtest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/sim"
)

// A failure's script is a scenario file: sim.Run (what `replsm simulate
// --script` runs) writes it back byte for byte.
func TestFailureScriptReplays(t *testing.T) {
	defer setFlags(map[string]string{"rapid.shrinktime": "5s"})()
	f, ok := FirstFailure(1, 300, Property(Options{Plant: Plant{LieAtomicLoad: true}}))
	require.True(t, ok)
	i := strings.Index(f.Message, "# explore seed")
	j := strings.LastIndex(f.Message, "To reproduce")
	require.True(t, i >= 0 && j > i)
	script := f.Message[i:j]
	var out strings.Builder
	s, err := sim.Run(strings.NewReader(script), &out, sim.DefaultParams())
	require.NoError(t, err)
	s.Close()
	assert.Equal(t, script, out.String())
}
