package store

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// implementations runs a test against both Store implementations, so they
// keep exactly the same semantics.
func implementations(t *testing.T, fn func(t *testing.T, st Store)) {
	t.Run("memory", func(t *testing.T) {
		st := NewMemory()
		defer st.Close()
		fn(t, st)
	})
	t.Run("bolt", func(t *testing.T) {
		st, err := OpenBolt(filepath.Join(t.TempDir(), "state.db"), BoltOptions{})
		require.NoError(t, err)
		defer st.Close()
		fn(t, st)
	})
}

func ms(key, kind string) Milestone {
	return Milestone{Key: key, Kind: kind, Slot: "slot/1", At: time.Unix(100, 5).In(time.FixedZone("X", 3600)),
		Attrs: map[string]string{"session": "7"}}
}

func TestCursors(t *testing.T) {
	implementations(t, func(t *testing.T, st Store) {
		_, ok, err := st.LoadCursor("slot/0")
		require.NoError(t, err)
		assert.False(t, ok)

		require.NoError(t, st.SaveCursors(map[string]Cursor{
			"slot/0": {ID: "abc", Offset: 10},
			"slot/1": {ID: "", Offset: -1},
		}))
		c, ok, err := st.LoadCursor("slot/0")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, Cursor{ID: "abc", Offset: 10}, c)
		c, ok, err = st.LoadCursor("slot/1")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, Cursor{Offset: -1}, c)

		require.NoError(t, st.SaveCursors(map[string]Cursor{"slot/0": {ID: "def", Offset: 1 << 40}}))
		c, _, _ = st.LoadCursor("slot/0")
		assert.Equal(t, Cursor{ID: "def", Offset: 1 << 40}, c)
		require.NoError(t, st.SaveCursors(nil))

		// A batch with one bad slot writes nothing.
		err = st.SaveCursors(map[string]Cursor{"slot/0": {ID: "zzz"}, "": {ID: "x"}})
		require.ErrorIs(t, err, ErrInvalidInput)
		c, _, _ = st.LoadCursor("slot/0")
		assert.Equal(t, "def", c.ID)

		for _, bad := range []string{"", strings.Repeat("s", MaxSlotLen+1), "\xff\xfe"} {
			_, _, err := st.LoadCursor(bad)
			assert.ErrorIs(t, err, ErrInvalidInput, "slot %q", bad)
		}
	})
}

func TestAppendAssignsSeqAndCopies(t *testing.T) {
	implementations(t, func(t *testing.T, st Store) {
		in := ms("k1", "full_sync_completed")
		in.Seq = 99 // ignored
		m1, err := st.AppendMilestone(in)
		require.NoError(t, err)
		assert.Equal(t, uint64(1), m1.Seq)
		assert.Equal(t, time.UTC, m1.At.Location())
		assert.True(t, m1.At.Equal(in.At))
		in.Attrs["session"] = "changed" // caller's map is not aliased
		m1.Attrs["session"] = "changed too"

		m2, err := st.AppendMilestone(Milestone{Key: "k2", Kind: "instance_error"})
		require.NoError(t, err)
		assert.Equal(t, uint64(2), m2.Seq)
		assert.True(t, m2.At.IsZero())
		assert.Nil(t, m2.Attrs)

		got, err := st.PendingMilestones(0, 10)
		require.NoError(t, err)
		require.Len(t, got, 2)
		assert.Equal(t, "7", got[0].Attrs["session"])
		assert.Equal(t, "slot/1", got[0].Slot)
		assert.Equal(t, "full_sync_completed", got[0].Kind)
		assert.True(t, got[0].At.Equal(in.At))
		assert.Equal(t, m2, got[1])
		n, err := st.PendingCount()
		require.NoError(t, err)
		assert.Equal(t, 2, n)
	})
}

func TestAppendIdempotentKey(t *testing.T) {
	implementations(t, func(t *testing.T, st Store) {
		first, err := st.AppendMilestone(ms("slot/3/full_sync_completed/session/7", "full_sync_completed"))
		require.NoError(t, err)
		again := ms("slot/3/full_sync_completed/session/7", "shard_connected")
		again.Attrs = map[string]string{"other": "x"}
		second, err := st.AppendMilestone(again)
		require.NoError(t, err)
		assert.Equal(t, first, second, "existing milestone is returned unchanged")
		n, _ := st.PendingCount()
		assert.Equal(t, 1, n)

		// Once acked the key is forgotten: a new append is a new milestone.
		require.NoError(t, st.AckMilestone(first.Seq))
		third, err := st.AppendMilestone(again)
		require.NoError(t, err)
		assert.Equal(t, uint64(2), third.Seq)
		assert.Equal(t, "shard_connected", third.Kind)
	})
}

func TestAckAndPaging(t *testing.T) {
	implementations(t, func(t *testing.T, st Store) {
		for i := range 10 {
			_, err := st.AppendMilestone(ms(fmt.Sprintf("k%d", i), "shard_connected"))
			require.NoError(t, err)
		}
		require.NoError(t, st.AckMilestone(3))
		require.NoError(t, st.AckMilestone(3), "double ack is fine")
		require.NoError(t, st.AckMilestone(12345), "unknown seq is fine")
		require.NoError(t, st.AckMilestone(0))
		ba, ok := st.(BatchAcker)
		require.True(t, ok)
		require.NoError(t, ba.AckMilestones([]uint64{5, 6, 999}))

		var seqs []uint64
		after := uint64(0)
		for {
			page, err := st.PendingMilestones(after, 3)
			require.NoError(t, err)
			require.LessOrEqual(t, len(page), 3)
			if len(page) == 0 {
				break
			}
			for _, m := range page {
				seqs = append(seqs, m.Seq)
				assert.Equal(t, fmt.Sprintf("k%d", m.Seq-1), m.Key)
			}
			after = page[len(page)-1].Seq
		}
		assert.Equal(t, []uint64{1, 2, 4, 7, 8, 9, 10}, seqs)
		n, _ := st.PendingCount()
		assert.Equal(t, 7, n)

		page, err := st.PendingMilestones(^uint64(0), 3)
		require.NoError(t, err)
		assert.Empty(t, page)
		_, err = st.PendingMilestones(0, 0)
		assert.ErrorIs(t, err, ErrInvalidInput)
	})
}

func TestMilestoneValidation(t *testing.T) {
	implementations(t, func(t *testing.T, st Store) {
		for name, m := range map[string]Milestone{
			"no key":     {Kind: "shard_connected"},
			"no kind":    {Key: "k"},
			"long key":   {Key: strings.Repeat("k", MaxKeyLen+1), Kind: "x"},
			"long kind":  {Key: "k", Kind: strings.Repeat("x", MaxKindLen+1)},
			"binary key": {Key: "\xff", Kind: "x"},
			"bad slot":   {Key: "k", Kind: "x", Slot: "\xff"},
			"long slot":  {Key: "k", Kind: "x", Slot: strings.Repeat("s", MaxSlotLen+1)},
		} {
			_, err := st.AppendMilestone(m)
			assert.ErrorIs(t, err, ErrInvalidInput, name)
		}
		n, _ := st.PendingCount()
		assert.Zero(t, n)
	})
}

func TestClosed(t *testing.T) {
	implementations(t, func(t *testing.T, st Store) {
		require.NoError(t, st.Close())
		require.NoError(t, st.Close(), "second Close is a no-op")
		_, _, err := st.LoadCursor("s")
		assert.ErrorIs(t, err, ErrClosed)
		assert.ErrorIs(t, st.SaveCursors(map[string]Cursor{"s": {}}), ErrClosed)
		_, err = st.AppendMilestone(ms("k", "x"))
		assert.ErrorIs(t, err, ErrClosed)
		assert.ErrorIs(t, st.AckMilestone(1), ErrClosed)
		_, err = st.PendingMilestones(0, 1)
		assert.ErrorIs(t, err, ErrClosed)
		_, err = st.PendingCount()
		assert.ErrorIs(t, err, ErrClosed)
	})
}

func TestConcurrentAppendAck(t *testing.T) {
	implementations(t, func(t *testing.T, st Store) {
		const workers, each = 4, 25
		var wg sync.WaitGroup
		seqs := make(chan uint64, workers*each)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					m, err := st.AppendMilestone(ms(fmt.Sprintf("w%d/%d", w, i), "x"))
					if !assert.NoError(t, err) {
						return
					}
					seqs <- m.Seq
					if i%2 == 0 {
						assert.NoError(t, st.AckMilestone(m.Seq))
					}
				}
			}()
		}
		wg.Wait()
		close(seqs)
		seen := map[uint64]bool{}
		for s := range seqs {
			assert.False(t, seen[s], "seq %d assigned twice", s)
			seen[s] = true
		}
		assert.Len(t, seen, workers*each)
		n, err := st.PendingCount()
		require.NoError(t, err)
		assert.Equal(t, workers*(each/2), n)
		page, err := st.PendingMilestones(0, 1000)
		require.NoError(t, err)
		assert.Len(t, page, n)
	})
}
