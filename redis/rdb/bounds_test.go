package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/redis/keyspace"
)

// forgedValue is the start of an RDB whose one string value declares n
// bytes (a 32-bit length when it fits, else 64-bit).
func forgedValue(n uint64) []byte {
	b := []byte("REDIS0010\xfe\x00\x00\x01k")
	if n < 1<<32 {
		b = append(b, 0x80)
		return binary.BigEndian.AppendUint32(b, uint32(n))
	}
	b = append(b, 0x81)
	return binary.BigEndian.AppendUint64(b, n)
}

// filler is an endless supply of bytes, counting what was read.
type filler struct{ n, limit int64 }

func (f *filler) Read(p []byte) (int, error) {
	if f.n >= f.limit {
		return 0, io.EOF
	}
	m := min(int64(len(p)), f.limit-f.n)
	clear(p[:m])
	f.n += m
	return int(m), nil
}

// A value declared past the ceiling is refused before anything is read or
// allocated for it: 10^9 bytes declared, then filler.
func TestLoadRefusesValueOverCeiling(t *testing.T) {
	fill := &filler{limit: 300 << 20}
	r := io.MultiReader(bytes.NewReader(forgedValue(1_000_000_000)), fill)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := LoadWith(r, LoadOptions{Clock: mockClock(), MaxValue: 1 << 20})
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, ErrValueTooLarge)
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "1000000000 bytes exceeds the ceiling of 1048576")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20), "bytes allocated")
	assert.Zero(t, fill.n, "filler read")
}

// Under the ceiling, a declared length costs only the bytes that arrive:
// 10^9 declared, 8 MB sent, then the input ends.
func TestLoadGrowsValueAsBytesArrive(t *testing.T) {
	r := io.MultiReader(bytes.NewReader(forgedValue(1_000_000_000)), &filler{limit: 8 << 20})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := LoadWith(r, LoadOptions{Clock: mockClock(), MaxValue: 2_000_000_000})
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "unexpected end of file")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "bytes allocated")
}

// Collection counts and compressed lengths are bounded the same way.
func TestLoadHostileCountsAndLZF(t *testing.T) {
	cases := map[string][]byte{
		"list of 2^60 elements": append([]byte("REDIS0010\xfe\x00\x01\x01k\x81"), binary.BigEndian.AppendUint64(nil, 1<<60)...),
		"LZF expanding to 2^40": append([]byte("REDIS0010\xfe\x00\x00\x01k\xc3\x01\x81"), binary.BigEndian.AppendUint64(nil, 1<<40)...),
		"resizedb of 2^50 keys": append(append([]byte("REDIS0010\xfe\x00\xfb\x81"), binary.BigEndian.AppendUint64(nil, 1<<50)...), 0),
	}
	for name, b := range cases {
		r := io.MultiReader(bytes.NewReader(b), &filler{limit: 4 << 20})
		_, _, err := LoadWith(r, LoadOptions{Clock: mockClock(), MaxValue: 1 << 20})
		assert.ErrorIs(t, err, ErrCorrupt, name)
	}
}

// A real large value (64 MB, in a file Write produced) still loads, with
// the default ceiling and with one just above it.
func TestLoadLargeValue(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 4<<20) // 64 MiB
	ks := keyspace.New(mockClock())
	require.NoError(t, ks.Put(0, "big", keyspace.Value{Type: keyspace.TypeString, Str: big}, keyspace.NoExpire))
	file := writeRDB(t, ks, "", 0)
	for _, max := range []int64{0, int64(len(big))} {
		got, info, err := LoadWith(bytes.NewReader(file), LoadOptions{Clock: mockClock(), MaxValue: max})
		require.NoError(t, err, "ceiling %d", max)
		assert.Equal(t, 1, info.Keys)
		var v keyspace.Value
		require.NoError(t, got.Each(func(_ int, _ string, val keyspace.Value, _ int64) error { v = val; return nil }))
		assert.True(t, bytes.Equal(big, v.Str), "the value is intact")
	}
	_, _, err := LoadWith(bytes.NewReader(file), LoadOptions{Clock: mockClock(), MaxValue: int64(len(big)) - 1})
	assert.ErrorIs(t, err, ErrValueTooLarge)
}

// Load reads its input in pieces: a reader that returns one byte per call
// loads the same keyspace as LoadBytes.
func TestLoadFromTrickle(t *testing.T) {
	b := smallRDB(t)
	want, _, err := LoadBytes(b, mockClock())
	require.NoError(t, err)
	got, _, err := Load(&oneByte{r: bytes.NewReader(b)}, mockClock())
	require.NoError(t, err)
	assert.Equal(t, dump(t, want), dump(t, got))
	// A read error in the middle is passed on as it is.
	boom := errors.New("boom")
	_, _, err = Load(io.MultiReader(bytes.NewReader(b[:len(b)/2]), errReader{boom}), mockClock())
	assert.ErrorIs(t, err, boom)
}

type oneByte struct{ r io.Reader }

func (o *oneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}
