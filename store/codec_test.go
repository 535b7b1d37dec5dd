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

func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(Cursor{ID: "abc", Offset: 3}))
	f.Add(encodeCursor(Cursor{ID: "abc", Offset: 3, DB: 1, File: "x.rdb"}))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0xff, 1, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeCursor(data)
		if err != nil {
			return
		}
		if len(data) > 8 && data[8] == cursorExtMarker || c.DB != 0 || c.File != "" {
			again, err := decodeCursor(encodeCursor(c))
			require.NoError(t, err)
			assert.Equal(t, c, again)
		}
	})
}
