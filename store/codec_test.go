package store

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMilestoneCodecRoundTrip(t *testing.T) {
	for _, m := range []Milestone{
		{Seq: 1, Key: "k", Kind: "x"},
		{Seq: 2, Key: "slot/3/full_sync_completed/session/7", Kind: "full_sync_completed", Slot: "slot/3",
			At: time.Unix(1700000000, 123456789).UTC(), Attrs: map[string]string{"session": "7", "": "", "ünï": "côdé"}},
		{Seq: 3, Key: "old", Kind: "x", At: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)},
		{Seq: 4, Key: "far", Kind: "x", At: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{Seq: math.MaxUint64, Key: "neg", Kind: "x", At: time.Unix(-5, 7).UTC()},
	} {
		data, err := encodeMilestone(m)
		require.NoError(t, err)
		got, err := decodeMilestone(m.Seq, data)
		require.NoError(t, err)
		assert.Equal(t, m, got)
		key, err := milestoneKey(m.Seq, data)
		require.NoError(t, err)
		assert.Equal(t, m.Key, key)
		// Every strict prefix is rejected, never a panic.
		for i := range data {
			_, err := decodeMilestone(m.Seq, data[:i])
			assert.ErrorIs(t, errAsCorrupt(err), errCorruptMarker, "prefix %d", i)
		}
		_, err = decodeMilestone(m.Seq, append(data, 0))
		assert.Error(t, err, "trailing bytes")
	}
}

var errCorruptMarker = &corruption{}

func errAsCorrupt(err error) error {
	if _, ok := err.(*corruption); ok {
		return errCorruptMarker
	}
	return err
}

func FuzzDecodeMilestone(f *testing.F) {
	good, _ := encodeMilestone(Milestone{Key: "k", Kind: "x", Slot: "s", At: time.Unix(1, 2), Attrs: map[string]string{"a": "b"}})
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte("{not json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeMilestone(1, data)
		if err != nil {
			return
		}
		again, err := encodeMilestone(m)
		require.NoError(t, err)
		m2, err := decodeMilestone(1, again)
		require.NoError(t, err)
		assert.Equal(t, m, m2)
	})
}

func TestCursorCodecRoundTrip(t *testing.T) {
	for _, c := range []Cursor{
		{},
		{ID: "abc", Offset: 10},
		{Offset: -1},
		{ID: "0123456789012345678901234567890123456789", Offset: 1 << 40, DB: 3, File: "shard-0.7.rdb"},
		{DB: -2},
		{File: "f"},
		{ID: "ünï", Offset: math.MaxInt64, DB: math.MaxInt32, File: "côdé"},
	} {
		data := encodeCursor(c)
		got, err := decodeCursor(data)
		require.NoError(t, err)
		assert.Equal(t, c, got)
		if c.DB == 0 && c.File == "" {
			// The plain form: what files written before DB and File existed hold.
			assert.Len(t, data, 8+len(c.ID))
			continue
		}
		// Every strict prefix of an extended record is rejected, never a panic.
		for i := 9; i < len(data); i++ {
			_, err := decodeCursor(data[:i])
			assert.ErrorIs(t, errAsCorrupt(err), errCorruptMarker, "prefix %d", i)
		}
		_, err = decodeCursor(append(data, 0))
		assert.Error(t, err, "trailing bytes")
	}
	_, err := decodeCursor([]byte{0, 0, 0, 0, 0, 0, 0, 1, cursorExtMarker, 9})
	assert.ErrorIs(t, errAsCorrupt(err), errCorruptMarker, "unknown extended format")
}

func TestCursorValidation(t *testing.T) {
	implementations(t, func(t *testing.T, st Store) {
		for name, c := range map[string]Cursor{
			"id not UTF-8":   {ID: "\xff\x00"},
			"file not UTF-8": {File: "\xfe"},
			"id too long":    {ID: string(make([]byte, MaxKeyLen+1))},
			"db too large":   {DB: math.MaxInt32 + 1},
			"db too small":   {DB: math.MinInt32 - 1},
		} {
			err := st.SaveCursors(map[string]Cursor{"slot/0": c})
			assert.ErrorIs(t, err, ErrInvalidInput, name)
		}
		_, ok, err := st.LoadCursor("slot/0")
		require.NoError(t, err)
		assert.False(t, ok, "a refused batch writes nothing")
		want := Cursor{ID: "r", Offset: 5, DB: 2, File: "shard-0.1.rdb"}
		require.NoError(t, st.SaveCursors(map[string]Cursor{"slot/0": want}))
		got, ok, err := st.LoadCursor("slot/0")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, want, got)
	})
}

// TestCursorDecodesRecordsAlreadyWritten: bytes exactly as the code before
// the unambiguous encoding wrote them (both forms) still load, and the
// current encoder writes those cursors byte for byte the same way.
func TestCursorDecodesRecordsAlreadyWritten(t *testing.T) {
	for name, tc := range map[string]struct {
		data []byte
		want Cursor
	}{
		"plain": {
			data: []byte{0, 0, 0, 0, 0, 0, 0x30, 0x39, 'r', 'u', 'n', '-', '1'},
			want: Cursor{ID: "run-1", Offset: 12345},
		},
		"plain empty id": {
			data: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
			want: Cursor{Offset: -1},
		},
		"extended": {
			// offset 7, marker, format 1, id "ab", db 3 (zigzag 6), file "s.rdb"
			data: []byte{0, 0, 0, 0, 0, 0, 0, 7, 0xff, 1, 2, 'a', 'b', 6, 5, 's', '.', 'r', 'd', 'b'},
			want: Cursor{ID: "ab", Offset: 7, DB: 3, File: "s.rdb"},
		},
		"extended negative db, no file": {
			data: []byte{0, 0, 0, 0, 0, 0, 0, 1, 0xff, 1, 0, 3, 0},
			want: Cursor{Offset: 1, DB: -2},
		},
	} {
		got, err := decodeCursor(tc.data)
		require.NoError(t, err, name)
		assert.Equal(t, tc.want, got, name)
		assert.Equal(t, tc.data, encodeCursor(tc.want), name)
	}
}

// TestCursorIDStartingWithMarker: the fuzzer's crasher. An ID whose first
// byte is the extended-form marker once went out in the plain form and
// came back unreadable; it now takes the extended form.
func TestCursorIDStartingWithMarker(t *testing.T) {
	for _, c := range []Cursor{{ID: "\xff"}, {ID: "\xff\x01abc", Offset: 9}, {ID: "\xff", DB: 1}} {
		data := encodeCursor(c)
		assert.Equal(t, byte(cursorExtMarker), data[8])
		got, err := decodeCursor(data)
		require.NoError(t, err)
		assert.Equal(t, c, got)
	}
}

// FuzzDecodeCursor: every record that decodes re-encodes to a record that
// decodes to the same cursor; a plain record re-encodes byte for byte.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(Cursor{ID: "abc", Offset: 3}))
	f.Add(encodeCursor(Cursor{ID: "abc", Offset: 3, DB: 1, File: "x.rdb"}))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0xff, 1, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeCursor(data)
		if err != nil {
			return
		}
		enc := encodeCursor(c)
		again, err := decodeCursor(enc)
		require.NoError(t, err)
		assert.Equal(t, c, again)
		if len(data) == 8 || data[8] != cursorExtMarker {
			assert.Equal(t, data, enc, "a plain record re-encodes unchanged")
		}
	})
}

// FuzzEncodeCursor: whatever the ID and File bytes, an encoded cursor
// decodes back; a DB the record cannot hold is refused before it is written.
func FuzzEncodeCursor(f *testing.F) {
	f.Add("abc", int64(3), 0, "")
	f.Add("\xff", int64(0), 0, "")
	f.Add("", int64(-1), -7, "shard-0.1.rdb")
	f.Add("r", int64(1), math.MaxInt32+1, "")
	f.Fuzz(func(t *testing.T, id string, off int64, db int, file string) {
		c := Cursor{ID: id, Offset: off, DB: db, File: file}
		if db < math.MinInt32 || db > math.MaxInt32 {
			assert.ErrorIs(t, validateCursor("slot/0", Cursor{DB: db}), ErrInvalidInput)
			return
		}
		got, err := decodeCursor(encodeCursor(c))
		require.NoError(t, err)
		assert.Equal(t, c, got)
	})
}
