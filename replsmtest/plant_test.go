package replsmtest

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each planted bug must be caught, and shrunk to a short history.
func TestPlantedBugsAreCaught(t *testing.T) {
	// Shrinking gets these to a few commands in well under a second; the
	// cap keeps the test short on a busy machine under -race.
	defer setFlags(map[string]string{"rapid.shrinktime": "5s"})()
	cases := []struct {
		inv   string
		plant Plant
	}{
		{InvLiveReply, Plant{AcceptStale: true}},
		{InvOneSession, Plant{DropClose: true}},
		{InvSequence, Plant{SkipSeq: true}},
		{InvSpec, Plant{ForgeSpec: true}},
		{InvFullAfterAbort, Plant{LieAtomicLoad: true}},
		{InvBudget, Plant{LieCap: true}},
		{InvDetached, Plant{SyncWhileDetached: true}},
		{InvLiveness, Plant{SilentHeal: true}},
		{InvWait, Plant{WaitIgnores: true}},
		{InvCounters, Plant{LieCounters: true}},
		{InvLinkDown, Plant{SyncWhileLinkDown: true}},
		{InvState, Plant{StaleState: true}},
		{InvSessionsUnique, Plant{ReuseSession: true}},
		{InvExhaustOnce, Plant{SpentAsExhausted: true}},
		{InvNoop, Plant{NoopReconnects: true}},
	}
	cmdLine := regexp.MustCompile(`(?m)^[a-z-]+.*\n----$`)
	for _, tc := range cases {
		t.Run(tc.inv, func(t *testing.T) {
			f, ok := FirstFailure(1, 300, Property(Options{Plant: tc.plant}))
			require.True(t, ok, "planted bug not caught in 300 seeds")
			msg := f.Message
			assert.Contains(t, msg, tc.inv+": ")
			script := msg[strings.Index(msg, "# explore seed"):]
			n := len(cmdLine.FindAllString(script, -1))
			t.Logf("seed %d: %d commands\n%s", f.Seed, n, script)
			assert.LessOrEqual(t, n, 12, "not shrunk to a short script")
		})
	}
}
