package keyspace

import (
	"strconv"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/redis/resp/resptest"
)

// TestHyperLogLogBytesAgainstRealRedis: after every PFADD, PFMERGE and
// PFCOUNT the HLL's bytes (GET) equal redis-server's, through the sparse
// encoding, its promotion to dense past 3000 bytes, and merges of sparse
// and dense HLLs. (Promotion by a run above 32 needs an element found in
// about 2^32 tries; it shares the dense path tested here.)
func TestHyperLogLogBytesAgainstRealRedis(t *testing.T) {
	srv := resptest.Start(t, resptest.Options{})
	cli := srv.Dial(t)
	ks := New(clock.New())
	db := 0
	steps := 0
	do := func(cmd ...string) {
		t.Helper()
		want, err := cli.Do(cmd...)
		require.NoError(t, err, "%q", cmd)
		args := make([][]byte, len(cmd))
		for i, a := range cmd {
			args[i] = []byte(a)
		}
		got, err := ks.Apply(&db, args)
		require.NoError(t, err, "%q", cmd)
		require.True(t, want.Equal(got), "%q:\nredis:    %v\nkeyspace: %v", cmd, want, got)
		steps++
	}
	same := func(key string) {
		t.Helper()
		do("GET", key)
	}
	do("PFADD", "h")
	same("h")
	do("PFCOUNT", "h")
	for i := range 1500 {
		do("PFADD", "h", "e"+strconv.Itoa(i), "x"+strconv.Itoa(i*7))
		if i%97 == 0 {
			same("h")
			do("PFCOUNT", "h")
			same("h")
		}
	}
	same("h") // dense by now: 3000 elements outgrow 3000 sparse bytes
	h, err := cli.Do("GET", "h")
	require.NoError(t, err)
	require.Equal(t, byte(hllDense), h.Str[4], "the test reached the dense encoding")
	do("PFCOUNT", "h")
	do("PFADD", "small", "a", "b", "c")
	do("PFADD", "small2", "c", "d")
	do("PFMERGE", "m1", "small", "small2")
	same("m1")
	do("PFMERGE", "m2", "small", "h")
	same("m2")
	do("PFCOUNT", "small", "small2", "h")
	do("PFCOUNT", "nope")
	do("SET", "str", "x")
	do("PFADD", "str", "a")
	do("PFCOUNT", "str")
	do("LPUSH", "lst", "a")
	do("PFADD", "lst", "a")
	do("PFMERGE", "small", "str")
	do("PFDEBUG", "ENCODING", "small")
	do("PFDEBUG", "TODENSE", "small")
	same("small")
	do("PFDEBUG", "TODENSE", "small")
	do("PFDEBUG", "ENCODING", "small")
	do("PFADD", "small3", "q")
	do("PFDEBUG", "GETREG", "small3")
	same("small3")
	do("PFDEBUG", "TODENSE", "nope")
	do("PFDEBUG", "TODENSE", "str")
	do("PFDEBUG", "BOGUS", "small")
	assert.Greater(t, steps, 650)
}
