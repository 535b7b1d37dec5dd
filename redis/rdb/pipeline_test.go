package rdb

import (
	"fmt"
	"testing"

	"github.com/hdt3213/rdb/core"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/redis/keyspace"
)

// Past serialKeys the inserter goroutine stores the keys: the result is the
// same keyspace, and a duplicate far into the file is still found.
func TestLoadPipelined(t *testing.T) {
	const n = 3*serialKeys + 123
	ks := keyspace.New(mockClock())
	for i := range n {
		require.NoError(t, ks.Put(i%3, fmt.Sprintf("k%d", i), keyspace.Value{Type: keyspace.TypeString, Str: []byte(fmt.Sprint(i))}, keyspace.NoExpire))
	}
	got, info, err := LoadBytes(writeRDB(t, ks, "", 0), mockClock())
	require.NoError(t, err)
	assert.Equal(t, n, info.Keys)
	assert.Equal(t, ks.Digest(), got.Digest())

	dup := encodeRaw(t, func(enc *core.Encoder) error {
		if err := enc.WriteDBHeader(0, n, 0); err != nil {
			return err
		}
		for i := range n {
			if err := enc.WriteStringObject(fmt.Sprintf("k%d", i), []byte("v")); err != nil {
				return err
			}
		}
		return enc.WriteStringObject("k7", []byte("again"))
	})
	_, _, err = LoadBytes(dup, mockClock())
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), `duplicate key "k7"`)
}
