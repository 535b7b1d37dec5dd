package replica

import (
	"bufio"
	"log/slog"
	"strings"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/redis/keyspace"
	"github.com/replsm/replsm/redis/primary"
	"github.com/replsm/replsm/redis/resp"
)

// TestShardKeepsAppliedStream: the shard's backlog holds exactly the bytes
// applied, ending at the cursor offset; an open MULTI waits for its EXEC,
// and a session that starts elsewhere (a cut transaction, a full sync)
// starts the backlog over at the cursor.
func TestShardKeepsAppliedStream(t *testing.T) {
	ks := keyspace.New(clock.NewMock())
	ks.SetReplica(true)
	sh := &shard{ks: ks, hist: primary.NewBacklog(1<<10, 100)}
	log := slog.New(slog.DiscardHandler)
	head := cmds([]string{"SELECT", "0"}, []string{"SET", "a", "1"}, []string{"PUBLISH", "__sentinel__:hello", "x"}, []string{"ping"})
	tx := cmds([]string{"MULTI"}, []string{"SET", "b", "2"}, []string{"INCR", "n"})
	stream := head + tx + cmds([]string{"EXEC"})

	ap := &applier{ks: ks, off: 100, onValue: func(v resp.Value, n, off int64) { sh.keep(v, n, off, log) }}
	sh.histFrom(100)
	rd := resp.NewReader(bufio.NewReader(strings.NewReader(stream)))
	for ap.off < 100+int64(len(head)) {
		_, err := ap.next(rd)
		require.NoError(t, err)
	}
	for range 3 { // MULTI, SET, INCR: inside the transaction
		_, err := ap.next(rd)
		require.NoError(t, err)
	}
	assert.Equal(t, int64(100+len(head)), sh.hist.End(), "an open MULTI is not in the backlog yet")
	_, err := ap.next(rd) // EXEC
	require.NoError(t, err)
	assert.Equal(t, ap.off, sh.hist.End())
	got, err := sh.hist.ReadAt(nil, 100, 1<<10)
	require.NoError(t, err)
	assert.Equal(t, stream, string(got), "byte for byte what the primary sent")
	first, histlen, _, ok := sh.histInfo()
	assert.True(t, ok)
	assert.Equal(t, int64(101), first)
	assert.Equal(t, int64(len(stream)), histlen)

	// A new session from elsewhere starts over at its cursor.
	sh.histFrom(5000)
	assert.Equal(t, int64(5000), sh.hist.End())
	assert.Equal(t, int64(0), sh.hist.Len())

	// Promotion takes it; demotion gives one back.
	b := sh.takeHist(5000)
	_, _, _, ok = sh.histInfo()
	assert.False(t, ok)
	sh.keep(resp.Value{Kind: resp.KindKeepalive}, 1, 5001, log) // while promoted: nothing kept
	sh.giveHist(b)
	assert.Same(t, b, sh.hist)
}

func cmds(commands ...[]string) string {
	var b []byte
	for _, c := range commands {
		b = resp.AppendCommandStrings(b, c...)
	}
	return string(b)
}
