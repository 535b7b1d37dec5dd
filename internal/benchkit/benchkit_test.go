package benchkit

import (
	"bytes"
	"flag"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		args     []string
		exit     int
		ok       bool
		stderrIs string
	}{
		{[]string{"-n", "3"}, 0, true, ""},
		{[]string{"-h"}, ExitPass, false, "Usage"},
		{[]string{"-n", "x"}, ExitFailed, false, "invalid value"},
		{[]string{"-bogus"}, ExitFailed, false, "not defined"},
		{[]string{"-n", "3", "extra"}, ExitFailed, false, `benchx: unexpected arguments ["extra"]`},
	} {
		var stderr bytes.Buffer
		fs := flag.NewFlagSet("benchx", flag.ContinueOnError)
		n := fs.Int("n", 1, "a number")
		exit, ok := Parse(fs, tt.args, &stderr)
		assert.Equal(t, tt.exit, exit, "%q", tt.args)
		assert.Equal(t, tt.ok, ok, "%q", tt.args)
		assert.Contains(t, stderr.String(), tt.stderrIs, "%q", tt.args)
		if ok {
			assert.Equal(t, 3, *n)
		}
	}
}

func TestMachine(t *testing.T) {
	assert.Regexp(t, `^\w+/\w+, \d+ CPUs, GOMAXPROCS \d+, go`, Machine())
}
