package failpoint

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	assert.Nil(t, parse("", nil))
	assert.Nil(t, parse(" , ", nil))
	got := parse("a, b=3,c=0,d=x", nil)
	require.Len(t, got, 2)
	assert.Equal(t, int64(1), got["a"].at)
	assert.Equal(t, int64(3), got["b"].at)
}

func TestHitDisarmedIsNoop(t *testing.T) {
	if os.Getenv(EnvVar) != "" {
		t.Skip("armed in this process")
	}
	for range 3 {
		Hit(StreamApply)
	}
	assert.False(t, Armed(StreamApply))
}

// TestCrashHitKillsOnNthHit re-runs this test binary with the point armed
// at its third hit: the child must die of SIGKILL after the second hit.
func TestCrashHitKillsOnNthHit(t *testing.T) {
	if os.Getenv("REPLSM_FAILPOINT_CHILD") != "" {
		for i := 1; i <= 5; i++ {
			os.Stdout.WriteString("before hit " + string(rune('0'+i)) + "\n")
			Hit("x")
		}
		return
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "-test.run=^TestCrashHitKillsOnNthHit$", "-test.count=1")
	cmd.Env = append(os.Environ(), "REPLSM_FAILPOINT_CHILD=1", EnvVar+"=x=3")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "output:\n%s", out)
	assert.Equal(t, "signal: killed", ee.Error())
	assert.Contains(t, string(out), "before hit 3\nfailpoint: x hit 3: SIGKILL")
	assert.False(t, strings.Contains(string(out), "before hit 4"), "output:\n%s", out)
}

func BenchmarkHitDisarmed(b *testing.B) {
	if armed != nil {
		b.Skip("armed in this process")
	}
	for b.Loop() {
		Hit(StreamApply)
	}
}
