package primary

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestPlanPSYNC checks +CONTINUE versus +FULLRESYNC at the backlog's edges.
// The ring below holds stream positions 12..20 (Redis's
// repl_backlog_first_byte_offset 13, master_repl_offset 20), so PSYNC
// offsets 13..21 can resume.
func TestPlanPSYNC(t *testing.T) {
	bl := NewBacklog(8, 0)
	bl.write([]byte("0123456789abcdefghij"))
	tests := []struct {
		name   string
		id     string
		off    int64
		resume bool
		pos    int64
		reason string
	}{
		{"question mark", "?", -1, false, 0, "full resync requested"},
		{"other id", "ffffffffffffffffffffffffffffffffffffffff", 15, false, 0, "replication id mismatch"},
		{"before backlog", testReplID, 12, false, 0, "not in backlog"},
		{"first byte held", testReplID, 13, true, 12, "8 bytes of backlog"},
		{"middle", testReplID, 17, true, 16, "4 bytes of backlog"},
		{"up to date", testReplID, 21, true, 20, "0 bytes of backlog"},
		{"beyond end", testReplID, 22, false, 0, "not in backlog"},
		{"zero", testReplID, 0, false, 0, "not in backlog"},
		{"min int", testReplID, -1 << 63, false, 0, "not in backlog"},
		{"max int", testReplID, 1<<63 - 1, false, 0, "not in backlog"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := planPSYNC(testReplID, bl, tt.id, tt.off)
			assert.Equal(t, tt.resume, plan.resume)
			assert.Equal(t, tt.pos, plan.pos)
			if plan.resume {
				assert.Equal(t, 20-tt.pos, plan.owed)
			}
			assert.Contains(t, plan.reason, tt.reason)
		})
	}
}

func TestPlanPSYNCFreshPrimary(t *testing.T) {
	bl := NewBacklog(16, 0)
	assert.True(t, planPSYNC(testReplID, bl, testReplID, 1).resume, "nothing streamed yet, nothing missed")
	assert.False(t, planPSYNC(testReplID, bl, testReplID, 2).resume)
}
