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
		{Seq: 2, Key: "slot/3/full_sync_completed/session/7", Kind: KindFullSyncCompleted, Slot: "slot/3",
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
