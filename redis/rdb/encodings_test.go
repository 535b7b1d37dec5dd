package rdb

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/hdt3213/rdb/lzf"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ziplistOf builds a ziplist (ziplist.c) of raw entries (encoding + data).
func ziplistOf(entries ...[]byte) []byte {
	var body []byte
	prev := 0
	for _, e := range entries {
		start := len(body)
		body = append(body, byte(prev))
		body = append(body, e...)
		prev = len(body) - start
	}
	zl := make([]byte, 10, 11+len(body))
	zl = append(zl, body...)
	zl = append(zl, 0xFF)
	binary.LittleEndian.PutUint32(zl, uint32(len(zl)))
	binary.LittleEndian.PutUint16(zl[8:], uint16(len(entries)))
	return zl
}

func rdbString(b []byte) []byte { return append([]byte{byte(len(b))}, b...) }

// The encodings Redis 7.0 no longer writes but still loads: ziplists (a
// list, a hash, a sorted set), a zipmap hash, an intset.
func TestLoadOldEncodings(t *testing.T) {
	zlList := ziplistOf([]byte{0x01, 'a'}, []byte{0xF6}, []byte{0xC0, 0x2C, 0x01}, []byte{0xFE, 0x80}, []byte{0xF0, 0xFF, 0xFF, 0x7F})
	zlHash := ziplistOf([]byte{0x01, 'f'}, []byte{0x01, 'v'})
	zlZSet := ziplistOf([]byte{0x01, 'm'}, []byte{0x03, '1', '.', '5'}, []byte{0x01, 'n'}, []byte{0xF3})
	zipmap := []byte{1, 1, 'f', 2, 0, 'v', 'w', 0xFF}
	intset := []byte{2, 0, 0, 0, 2, 0, 0, 0, 0xFF, 0xFF, 7, 0}
	b := []byte("REDIS0009\xfe\x00")
	b = append(append(append(b, typeListZiplist), rdbString([]byte("l"))...), rdbString(zlList)...)
	b = append(append(append(b, typeHashZiplist), rdbString([]byte("h"))...), rdbString(zlHash)...)
	b = append(append(append(b, typeZSetZiplist), rdbString([]byte("z"))...), rdbString(zlZSet)...)
	b = append(append(append(b, typeHashZipmap), rdbString([]byte("m"))...), rdbString(zipmap)...)
	b = append(append(append(b, typeSetIntset), rdbString([]byte("s"))...), rdbString(intset)...)
	b = append(b, opEOF, 0, 0, 0, 0, 0, 0, 0, 0)
	ks, info, err := LoadBytes(b, mockClock())
	require.NoError(t, err)
	assert.Equal(t, 5, info.Keys)
	assert.Equal(t, []string{
		`0 "h" hash "f"="v"  exp=-1`,
		`0 "l" list ["a" "5" "300" "-128" "8388607"] exp=-1`,
		`0 "m" hash "f"="vw"  exp=-1`,
		`0 "s" set ["-1" "7"] exp=-1`,
		`0 "z" zset "m":1.5 "n":2  exp=-1`,
	}, dump(t, ks))

	// A ziplist whose entry runs past its end is corrupt.
	bad := ziplistOf([]byte{0x05, 'a'})
	b = append(append(append([]byte("REDIS0009\xfe\x00"), typeListZiplist), rdbString([]byte("l"))...), rdbString(bad)...)
	_, _, err = LoadBytes(append(b, opEOF, 0, 0, 0, 0, 0, 0, 0, 0), mockClock())
	assert.ErrorIs(t, err, ErrCorrupt)
}

// The LZF decoder agrees with the reference one on what Redis compresses
// (runs, repeats, literals), and refuses truncated or lying input.
func TestLZFExpand(t *testing.T) {
	for _, plain := range [][]byte{
		append([]byte("value:42"), make([]byte, 92)...),
		[]byte("abcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabc-xyz-xyz-xyz-xyz-xyz"),
		bytes.Repeat([]byte("0123456789"), 1000),
	} {
		comp, err := lzf.Compress(plain)
		require.NoError(t, err)
		got, err := lzfExpand(comp, len(plain))
		require.NoError(t, err)
		assert.Equal(t, plain, got)
		_, err = lzfExpand(comp[:len(comp)-1], len(plain))
		assert.Error(t, err, "truncated")
		_, err = lzfExpand(comp, len(plain)+1)
		assert.Error(t, err, "longer than it expands to")
	}
}
