package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestEverySubcommandHelpAndUsage: --help and -h exit 0 with the usage on
// stderr, an unknown flag exits 2, for every subcommand.
func TestEverySubcommandHelpAndUsage(t *testing.T) {
	for name := range commands {
		for _, help := range []string{"--help", "-h"} {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{name, help}, &stdout, &stderr)
			assert.Equal(t, 0, code, "%s %s: %s", name, help, stderr.String())
			assert.Contains(t, stderr.String()+stdout.String(), "-", "%s %s prints its flags", name, help)
		}
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{name, "--no-such-flag"}, &stdout, &stderr)
		assert.Equal(t, 2, code, "%s --no-such-flag: %s", name, stderr.String())
		assert.Contains(t, stderr.String(), "flag provided but not defined", name)
	}
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 0, run(context.Background(), []string{"--help"}, &stdout, &stderr))
	assert.Equal(t, 2, run(context.Background(), nil, &stdout, &stderr))
	assert.Equal(t, 2, run(context.Background(), []string{"nosuch"}, &stdout, &stderr))
}
