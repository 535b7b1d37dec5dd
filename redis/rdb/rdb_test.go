package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/hdt3213/rdb/core"
	"github.com/hdt3213/rdb/crc64jones"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/redis/keyspace"
)

// emptyRDB is the smallest valid RDB, from the replication reference.
var emptyRDB = []byte{0x52, 0x45, 0x44, 0x49, 0x53, 0x30, 0x30, 0x31, 0x30, 0xff, 0xa9, 0xfd, 0x37, 0xfe, 0x89, 0xa7, 0x7e, 0xeb}

const t0 = 1_700_000_000_000

func mockClock() *clock.Mock {
	c := clock.NewMock()
	c.Set(time.UnixMilli(t0))
	return c
}

func TestCRC64Jones(t *testing.T) {
	h := crc64jones.New()
	_, _ = h.Write([]byte("123456789"))
	assert.Equal(t, uint64(0xe9c6d914c4b8d9ca), h.Sum64())
}

func TestLoadEmpty(t *testing.T) {
	ks, info, err := LoadBytes(emptyRDB, mockClock())
	require.NoError(t, err)
	assert.Equal(t, 0, ks.Len())
	assert.Equal(t, 10, info.Version)
	assert.True(t, info.Checksummed)
	assert.Equal(t, int64(-1), info.ReplOffset)
	assert.Empty(t, info.ReplID)
}

// fullKeyspace fills a keyspace through commands and adds what commands
// cannot make: expiries in the past and past year 2262.
func fullKeyspace(t *testing.T, clk clock.Clock) *keyspace.Keyspace {
	ks := keyspace.New(clk)
	fill(t, ksDoer(t, ks))
	require.NoError(t, ks.Put(3, "past", keyspace.Value{Type: keyspace.TypeString, Str: []byte("p")}, t0-1000))
	require.NoError(t, ks.Put(3, "far", keyspace.Value{Type: keyspace.TypeString, Str: []byte("f")}, 10_000_000_000_000))
	require.NoError(t, ks.Put(3, "epoch", keyspace.Value{Type: keyspace.TypeString, Str: []byte("e")}, 0))
	// More than 65535 one-byte elements: several quicklist pages.
	big := make([][]byte, 70_000)
	for i := range big {
		big[i] = []byte{byte('a' + i%26)}
	}
	require.NoError(t, ks.Put(4, "hugelist", keyspace.Value{Type: keyspace.TypeList, List: big}, keyspace.NoExpire))
	return ks
}

func writeRDB(t testing.TB, ks *keyspace.Keyspace, replID string, offset int64) []byte {
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, ks.Snapshot(), replID, offset))
	return buf.Bytes()
}

func TestRoundTripEveryType(t *testing.T) {
	clk := mockClock()
	ks := fullKeyspace(t, clk)
	const replID = "0123456789abcdef0123456789abcdef01234567"
	b := writeRDB(t, ks, replID, 4242)
	assert.Equal(t, "REDIS0010", string(b[:9]))

	got, info, err := LoadBytes(b, clk)
	require.NoError(t, err)
	assert.Equal(t, dump(t, ks), dump(t, got))
	assert.Equal(t, ks.Digest(), got.Digest())
	assert.Equal(t, replID, info.ReplID)
	assert.Equal(t, int64(4242), info.ReplOffset)
	assert.Equal(t, RedisVersion, info.Aux["redis-ver"])
	assert.Equal(t, ks.Len(), info.Keys)
	assert.True(t, info.Checksummed)

	// Load reads the same through an io.Reader.
	viaReader, _, err := Load(bytes.NewReader(b), clk)
	require.NoError(t, err)
	assert.Equal(t, dump(t, ks), dump(t, viaReader))
}

func TestWriteEmptyKeyspace(t *testing.T) {
	b := writeRDB(t, keyspace.New(mockClock()), "", 0)
	ks, _, err := LoadBytes(b, mockClock())
	require.NoError(t, err)
	assert.Equal(t, 0, ks.Len())
}

func TestWriteWhileWriting(t *testing.T) {
	ks := keyspace.New(mockClock())
	db := 0
	_, err := ks.Exec(&db, cmd("RPUSH", "l", "a"))
	require.NoError(t, err)
	snap := ks.Snapshot()
	_, err = ks.Exec(&db, cmd("RPUSH", "l", "b"))
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, snap, "", 0))
	got, _, err := LoadBytes(buf.Bytes(), mockClock())
	require.NoError(t, err)
	assert.Equal(t, []string{`0 "l" list ["a"] exp=-1`}, dump(t, got))
}

func TestZeroChecksumIsAccepted(t *testing.T) {
	b := writeRDB(t, fullKeyspace(t, mockClock()), "", 0)
	clear(b[len(b)-8:])
	ks, info, err := LoadBytes(b, mockClock())
	require.NoError(t, err)
	assert.False(t, info.Checksummed)
	assert.Greater(t, ks.Len(), 10)
}

func smallRDB(t testing.TB) []byte {
	ks := keyspace.New(mockClock())
	do := ksDoer(t, ks)
	do(cmd("SET", "s", "v", "PX", "5000")...)
	do(cmd("RPUSH", "l", "a", "b")...)
	do(cmd("HSET", "h", "f", "v")...)
	do(cmd("SADD", "s1", "1", "2")...)
	do(cmd("SADD", "s2", "x")...)
	do(cmd("ZADD", "z", "1.5", "m")...)
	do(cmd("SELECT", "2")...)
	do(cmd("SET", "n", "12345")...)
	return writeRDB(t, ks, "", 0)
}

func TestEveryPrefixFails(t *testing.T) {
	b := smallRDB(t)
	clk := mockClock()
	for n := range len(b) {
		_, _, err := LoadBytes(b[:n], clk)
		require.Error(t, err, "prefix of %d bytes", n)
		require.ErrorIs(t, err, ErrCorrupt, "prefix of %d bytes", n)
	}
	_, _, err := LoadBytes(append(bytes.Clone(b), 0), clk)
	assert.ErrorIs(t, err, ErrCorrupt, "trailing byte")
}

func TestFlippedBytesFail(t *testing.T) {
	b := smallRDB(t)
	clk := mockClock()
	for i := range b {
		for _, bit := range []byte{0x01, 0x10, 0x80} {
			c := bytes.Clone(b)
			c[i] ^= bit
			_, _, err := LoadBytes(c, clk)
			require.ErrorIs(t, err, ErrCorrupt, "byte %d ^ %#x", i, bit)
		}
	}
}

// Without a checksum the framing checks stand alone: forged lengths must
// fail cleanly instead of exhausting memory.
func TestHostileLengthsWithoutChecksum(t *testing.T) {
	hdr := []byte("REDIS0010\xfe\x00")
	cases := map[string][]byte{
		"huge 64-bit key length":   append(bytes.Clone(hdr), 0x00, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00),
		"huge 32-bit value length": append(bytes.Clone(hdr), 0x00, 0x01, 'k', 0x80, 0xff, 0xff, 0xff, 0x00),
		"huge list count":          append(bytes.Clone(hdr), 0x01, 0x01, 'k', 0x81, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
		"huge LZF expansion":       append(bytes.Clone(hdr), 0x00, 0x01, 'k', 0xc3, 0x01, 0x80, 0x7f, 0xff, 0xff, 0xff, 0x00),
		"intset count lies":        append(bytes.Clone(hdr), 0x0b, 0x01, 'k', 0x08, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f),
		"ziplist too short":        append(bytes.Clone(hdr), 0x0a, 0x01, 'k', 0x02, 0x01, 0x02),
		"unknown opcode":           append(bytes.Clone(hdr), 0xf0),
		"unknown type":             append(bytes.Clone(hdr), 0x08, 0x01, 'k'),
		"bad length encoding":      append(bytes.Clone(hdr), 0x00, 0x82),
	}
	for name, body := range cases {
		b := append(body, 0xff, 0, 0, 0, 0, 0, 0, 0, 0)
		_, _, err := LoadBytes(b, mockClock())
		assert.ErrorIs(t, err, ErrCorrupt, name)
	}
}

func TestUnsupportedContent(t *testing.T) {
	cases := map[string][]byte{
		"version 4":      []byte("REDIS0004\xff"),
		"version 13":     []byte("REDIS0013\xff"),
		"database 16":    []byte("REDIS0010\xfe\x10\xff"),
		"module value":   []byte("REDIS0010\x07\x01k"),
		"module aux":     []byte("REDIS0010\xf7"),
		"hash field TTL": []byte("REDIS0012\x18\x01k"),
	}
	for name, body := range cases {
		b := append(bytes.Clone(body), 0, 0, 0, 0, 0, 0, 0, 0)
		_, _, err := LoadBytes(b, mockClock())
		assert.ErrorIs(t, err, ErrUnsupported, name)
		assert.NotErrorIs(t, err, ErrCorrupt, name)
	}
}

// encodeRaw writes an RDB with the hdt3213 encoder directly, so tests can
// build files Write never produces.
func encodeRaw(t *testing.T, fn func(enc *core.Encoder) error) []byte {
	var buf bytes.Buffer
	pw := &patchWriter{w: &buf, crc: crc64jones.New()}
	enc := core.NewEncoder(pw)
	require.NoError(t, enc.WriteHeader())
	require.NoError(t, fn(enc))
	require.NoError(t, enc.WriteEnd())
	require.NoError(t, pw.finish())
	return buf.Bytes()
}

func TestDuplicateKeyIsCorrupt(t *testing.T) {
	b := encodeRaw(t, func(enc *core.Encoder) error {
		if err := enc.WriteDBHeader(0, 2, 0); err != nil {
			return err
		}
		if err := enc.WriteStringObject("k", []byte("1")); err != nil {
			return err
		}
		return enc.WriteStringObject("k", []byte("2"))
	})
	_, _, err := LoadBytes(b, mockClock())
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "duplicate key")
}

func TestEmptyCollectionsAreSkipped(t *testing.T) {
	b := encodeRaw(t, func(enc *core.Encoder) error {
		if err := enc.WriteDBHeader(0, 2, 0); err != nil {
			return err
		}
		if err := enc.WriteListObject("empty", nil); err != nil {
			return err
		}
		return enc.WriteStringObject("k", []byte("v"))
	})
	ks, info, err := LoadBytes(b, mockClock())
	require.NoError(t, err)
	assert.Equal(t, 1, ks.Len())
	assert.Equal(t, 1, info.SkippedEmpty)
}

func TestExpirySecondsOpcode(t *testing.T) {
	// 0xFD: a 4-byte expiry in seconds, as very old servers wrote.
	body := []byte("REDIS0010\xfe\x00\xfd")
	body = binary.LittleEndian.AppendUint32(body, 1_800_000_000)
	body = append(body, 0x00, 0x01, 'k', 0x01, 'v', 0xff)
	b := append(body, 0, 0, 0, 0, 0, 0, 0, 0)
	ks, _, err := LoadBytes(b, mockClock())
	require.NoError(t, err)
	assert.Equal(t, []string{`0 "k" string "v" exp=1800000000000`}, dump(t, ks))
}

func TestLoadPassesReadErrors(t *testing.T) {
	boom := errors.New("boom")
	_, _, err := Load(errReader{boom}, mockClock())
	assert.ErrorIs(t, err, boom)
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

type failWriter struct{ after int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.after -= len(p); w.after < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWriteReportsWriterErrors(t *testing.T) {
	ks := fullKeyspace(t, mockClock())
	err := Write(&failWriter{after: 100_000}, ks.Snapshot(), "", 0)
	assert.ErrorContains(t, err, "disk full")
}

func TestQuicklistPageLimit(t *testing.T) {
	list := make([][]byte, 70_000)
	for i := range list {
		list[i] = []byte{}
	}
	ks := keyspace.New(mockClock())
	require.NoError(t, ks.Put(0, "empties", keyspace.Value{Type: keyspace.TypeList, List: list}, keyspace.NoExpire))
	err := Write(&bytes.Buffer{}, ks.Snapshot(), "", 0)
	assert.ErrorIs(t, err, ErrUnsupported)
}
