package replica

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
)

// TestStartedPrimaryInfoHasRunID: the INFO Sentinel sends a server
// started as a primary carries the process's run_id and role:master (a
// primary without run_id could restart unnoticed: Sentinel's +reboot).
func TestStartedPrimaryInfoHasRunID(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	cfg := rolesConfig(t, "127.0.0.1:1")
	cfg.StartAsPrimary = true
	r := startReplica(t, cfg)
	text, err := unionClient(t, r).Info(ctx).Result()
	require.NoError(t, err)
	info, err := redistest.ParseInfo(text)
	require.NoError(t, err)
	assert.Equal(t, r.runID, info["run_id"], "the process's run_id, the same in both roles")
	assert.Equal(t, "master", info["role"])
	assert.Contains(t, info, "master_repl_offset")
}
