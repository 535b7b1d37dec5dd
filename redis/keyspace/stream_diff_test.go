package keyspace

import (
	"strings"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/redis/resp"
	"github.com/replsm/replsm/redis/resp/resptest"
)

// streamScript is the stream family, with explicit IDs and delivery times
// so that both sides agree without sharing a clock. Replies that report
// idle times are not part of it.
var streamScript = [][]string{
	{"XADD", "s", "1-1", "a", "1", "b", "2"}, {"XADD", "s", "1-1", "a", "1"}, {"XADD", "s", "1-*", "a", "x"},
	{"XADD", "s", "5", "f", "v", "f", "w"}, {"XADD", "s", "0-0", "a", "1"}, {"XADD", "s", "bad", "a", "1"},
	{"XADD", "s", "9-1", "a"}, {"XADD", "s", "9-1", "n", "123", "e", ""}, {"XADD", "nos", "NOMKSTREAM", "1-1", "a", "1"},
	{"EXISTS", "nos"}, {"XLEN", "s"}, {"XLEN", "nos"}, {"TYPE", "s"},
	{"XRANGE", "s", "-", "+"}, {"XRANGE", "s", "1", "5"}, {"XRANGE", "s", "(1-1", "+", "COUNT", "2"},
	{"XRANGE", "s", "-", "(5-0"}, {"XRANGE", "s", "-", "+", "COUNT", "0"}, {"XRANGE", "s", "-", "+", "COUNT", "-1"},
	{"XRANGE", "s", "(-", "+"}, {"XRANGE", "s", "-", "(0-0"}, {"XRANGE", "s", "x", "+"}, {"XRANGE", "s", "-", "+", "BOGUS"},
	{"XREVRANGE", "s", "+", "-"}, {"XREVRANGE", "s", "+", "-", "COUNT", "1"}, {"XREVRANGE", "s", "5", "1-2"},
	{"XADD", "s", "MAXLEN", "3", "10-1", "k", "v"}, {"XRANGE", "s", "-", "+"}, {"XADD", "s", "MAXLEN", "=", "2", "11-1", "k", "v"},
	{"XADD", "s", "MINID", "11", "12-1", "k", "v"}, {"XRANGE", "s", "-", "+"}, {"XADD", "s", "MAXLEN", "-1", "13-1", "k", "v"},
	{"XADD", "s", "MAXLEN", "1", "MINID", "1", "13-1", "k", "v"}, {"XADD", "s", "LIMIT", "10", "13-1", "k", "v"},
	{"XADD", "s", "MAXLEN", "5", "LIMIT", "10", "13-1", "k", "v"},
	{"XADD", "t", "1-1", "a", "1"}, {"XADD", "t", "2-1", "a", "2"}, {"XADD", "t", "3-1", "a", "3"}, {"XADD", "t", "4-1", "a", "4"},
	{"XDEL", "t", "2-1", "9-9"}, {"XDEL", "t", "bad"}, {"XDEL", "nos", "1-1"}, {"XINFO", "GROUPS", "t"},
	{"XTRIM", "t", "MAXLEN", "2"}, {"XTRIM", "t", "MINID", "4"}, {"XTRIM", "t", "MAXLEN", "=", "5"}, {"XTRIM", "t", "BOGUS", "1"},
	{"XTRIM", "nos", "MAXLEN", "1"}, {"XTRIM", "t"}, {"XRANGE", "t", "-", "+"},
	{"XSETID", "t", "3-0"}, {"XSETID", "t", "100-0"}, {"XSETID", "t", "101-0", "ENTRIESADDED", "0"},
	{"XSETID", "t", "101-0", "ENTRIESADDED", "50", "MAXDELETEDID", "7-0"}, {"XSETID", "t", "1-0", "MAXDELETEDID", "7-0"},
	{"XSETID", "nos", "1-0"}, {"XADD", "t", "*", "z", "1"}, {"XADD", "t", "101-*", "z", "2"},

	// Consumer groups.
	{"XGROUP", "CREATE", "s", "g1", "0"}, {"XGROUP", "CREATE", "s", "g1", "0"}, {"XGROUP", "CREATE", "s", "g2", "$"},
	{"XGROUP", "CREATE", "s", "g3", "5-0", "ENTRIESREAD", "2"}, {"XGROUP", "CREATE", "nos", "g", "$"},
	{"XGROUP", "CREATE", "ms", "g", "$", "MKSTREAM"}, {"XINFO", "GROUPS", "ms"}, {"XLEN", "ms"},
	{"XGROUP", "CREATECONSUMER", "s", "g1", "alice"}, {"XGROUP", "CREATECONSUMER", "s", "g1", "alice"},
	{"XGROUP", "CREATECONSUMER", "s", "nog", "alice"},
	{"XCLAIM", "s", "g1", "alice", "0", "10-1", "TIME", "1000", "RETRYCOUNT", "3", "FORCE", "JUSTID", "LASTID", "10-1"},
	{"XCLAIM", "s", "g1", "bob", "0", "11-1", "TIME", "2000", "RETRYCOUNT", "1", "FORCE", "JUSTID", "LASTID", "11-1"},
	{"XCLAIM", "s", "g1", "bob", "0", "12-1", "TIME", "2000", "FORCE", "LASTID", "12-1"},
	{"XCLAIM", "s", "g1", "alice", "0", "99-1", "TIME", "1000", "FORCE", "JUSTID"},
	{"XCLAIM", "s", "nog", "alice", "0", "10-1"}, {"XCLAIM", "s", "g1", "alice", "x", "10-1"},
	{"XCLAIM", "s", "g1", "alice", "0", "10-1", "BOGUS"},
	{"XPENDING", "s", "g1"}, {"XPENDING", "s", "g2"}, {"XPENDING", "s", "nog"}, {"XINFO", "GROUPS", "s"},
	{"XACK", "s", "g1", "10-1", "99-1"}, {"XACK", "s", "g1", "bad"}, {"XACK", "s", "nog", "10-1"}, {"XPENDING", "s", "g1"},
	{"XGROUP", "SETID", "s", "g2", "11-1"}, {"XGROUP", "SETID", "s", "g2", "$", "ENTRIESREAD", "3"},
	{"XGROUP", "SETID", "s", "nog", "0"}, {"XINFO", "GROUPS", "s"},
	{"XDEL", "s", "12-1"}, {"XINFO", "GROUPS", "s"},
	{"XCLAIM", "s", "g1", "alice", "0", "12-1", "TIME", "1000", "JUSTID"}, {"XPENDING", "s", "g1"},
	{"XGROUP", "DELCONSUMER", "s", "g1", "bob"}, {"XGROUP", "DELCONSUMER", "s", "g1", "bob"},
	{"XGROUP", "DESTROY", "s", "g3"}, {"XGROUP", "DESTROY", "s", "g3"}, {"XINFO", "GROUPS", "s"},
	{"XINFO", "STREAM", "nos"}, {"XINFO", "GROUPS", "nos"}, {"XINFO", "CONSUMERS", "s", "nog"},
	{"XREAD", "STREAMS", "s", "0"}, {"XREAD", "COUNT", "2", "STREAMS", "s", "ms", "nos", "1-1", "0", "0"}, {"XREAD", "STREAMS", "s", "$"},
	{"XREAD", "STREAMS", "s", "99-0"}, {"XREAD", "STREAMS", "s"}, {"XREAD", "STREAMS", "s", "x"}, {"XREAD", "COUNT", "x", "STREAMS", "s", "0"},
	{"XREAD", "BOGUS", "STREAMS", "s", "0"},
	{"SET", "str", "x"}, {"XADD", "str", "1-1", "a", "1"}, {"XRANGE", "str", "-", "+"}, {"XLEN", "str"},
	{"XGROUP", "CREATE", "str", "g", "0"}, {"DEL", "t"}, {"EXISTS", "t"},
}

// streamInfoScript ends the diff with XINFO STREAM replies, whose
// radix-tree fields (Redis's memory layout) are masked.
var streamInfoScript = [][]string{
	{"XINFO", "STREAM", "s"}, {"XINFO", "STREAM", "s", "FULL", "COUNT", "0"}, {"XINFO", "STREAM", "ms", "FULL"},
}

func TestStreamsAgainstRealRedis(t *testing.T) {
	srv := resptest.Start(t, resptest.Options{})
	cli := srv.Dial(t)
	ks := New(clock.New())
	db := 0
	run := func(cmd []string) (want, got resp.Value) {
		want, err := cli.Do(cmd...)
		require.NoError(t, err, "%q", cmd)
		args := make([][]byte, len(cmd))
		for i, a := range cmd {
			args[i] = []byte(a)
		}
		got, err = ks.Apply(&db, args)
		require.NoError(t, err, "%q", cmd)
		return want, got
	}
	for _, cmd := range streamScript {
		want, got := run(cmd)
		if strings.EqualFold(cmd[0], "xadd") && cmd[len(cmd)-3] == "*" {
			// An auto ID is the clock's; only its shape is compared.
			assert.Equal(t, want.Kind, got.Kind, "%q", cmd)
			continue
		}
		assert.True(t, want.Equal(got), "%q:\nredis:    %v\nkeyspace: %v", cmd, want, got)
	}
	for _, cmd := range streamInfoScript {
		want, got := run(cmd)
		want, got = maskStreamInfo(want), maskStreamInfo(got)
		assert.True(t, want.Equal(got), "%q:\nredis:    %v\nkeyspace: %v", cmd, want, got)
	}
}

// maskStreamInfo blanks XINFO STREAM's layout fields, consumers' seen
// times and entries auto IDs put at the clock's time.
func maskStreamInfo(v resp.Value) resp.Value {
	if v.Kind != resp.KindArray {
		return v
	}
	out := make([]resp.Value, len(v.Array))
	for i, e := range v.Array {
		out[i] = maskStreamInfo(e)
		if i > 0 && v.Array[i-1].Kind == resp.KindBulkString {
			switch string(v.Array[i-1].Str) {
			case "radix-tree-keys", "radix-tree-nodes", "seen-time":
				out[i] = resp.Integer(0)
			}
		}
	}
	return resp.Array(out...)
}
