package demo

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/slot"
)

// TestDemo runs the whole demo (with shorter pauses) and checks that each
// fault left the trace it should: shard 0 was cut, later exhausted (said
// once) and came back by itself through a probe, no reset; shard 1 resumed
// after a stall, shard 2 needed a full sync; all converged with equal
// digests.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	opts := DefaultOptions(&out)
	opts.Steady = 300 * time.Millisecond
	// Each phase waits for its outcome; a generous bound keeps a busy
	// machine from failing a phase that is merely slow.
	opts.PhaseWait = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sum, err := Run(ctx, opts)
	require.NoError(t, err, out.String())
	require.True(t, sum.OK, out.String())
	require.Len(t, sum.Shards, 3)
	for _, sh := range sum.Shards {
		assert.Equal(t, slot.Connected, sh.State)
		assert.True(t, sh.DigestMatch, "%s: %s", sh.ID, sh.Detail)
		assert.Equal(t, sh.PrimaryOffset, sh.ReplicaOffset)
	}
	assert.Equal(t, uint64(1), sum.Shards[0].Exhaustions)
	assert.Equal(t, uint64(1), sum.Shards[0].FullSyncs, "refused dials say nothing about incremental sync: no escalation")
	assert.GreaterOrEqual(t, sum.Shards[0].PartialSyncs, uint64(2), "the cut and the return both resume with +CONTINUE")
	assert.GreaterOrEqual(t, sum.Shards[1].PartialSyncs, uint64(1))
	assert.Equal(t, uint64(2), sum.Shards[2].FullSyncs, "the initial one and the one after the restart")
	assert.Contains(t, out.String(), "keepalive_timeout Connected -> TryConnect")
	assert.Contains(t, out.String(), "EXHAUSTED slot/0")
	assert.Contains(t, out.String(), "ok: shard 0 back by itself")
	assert.Contains(t, out.String(), `reason="probe: endpoint answers"`)
	assert.NotContains(t, out.String(), " reset Error -> ", "no operator reset")
	assert.Contains(t, out.String(), "RESULT: every shard converged and every digest matches")
}

func TestBadOptions(t *testing.T) {
	_, err := Run(context.Background(), Options{Shards: 2})
	require.ErrorIs(t, err, ErrBadOptions)
}
