package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingStore counts SaveCursors calls and can be made to fail.
type countingStore struct {
	Store
	mu      sync.Mutex
	saves   int
	batches []map[string]Cursor
	fail    error
}

func (s *countingStore) SaveCursors(c map[string]Cursor) error {
	s.mu.Lock()
	fail := s.fail
	s.saves++
	s.batches = append(s.batches, c)
	s.mu.Unlock()
	if fail != nil {
		return fail
	}
	return s.Store.SaveCursors(c)
}

func (s *countingStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saves
}

func (s *countingStore) setFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 5*time.Second, time.Millisecond, msg)
}

func TestBatcherFlushesOncePerInterval(t *testing.T) {
	clk := clock.NewMock()
	st := &countingStore{Store: NewMemory()}
	b, err := NewCursorBatcher(st, clk, BatcherOptions{Interval: time.Second})
	require.NoError(t, err)
	defer b.Close()

	for i := range 3000 {
		require.NoError(t, b.Advance(fmt.Sprintf("slot/%d", i%3), Cursor{ID: "r", Offset: int64(i)}))
	}
	assert.Equal(t, 0, st.count(), "Advance does no I/O")
	assert.Equal(t, 3, b.Stats().Dirty)

	clk.Add(999 * time.Millisecond)
	assert.Equal(t, 0, st.count())
	clk.Add(time.Millisecond)
	eventually(t, func() bool { return b.Stats().Flushes == 1 }, "one flush after the interval")
	assert.Equal(t, 1, st.count(), "3000 advances cost one transaction")
	assert.Equal(t, map[string]Cursor{
		"slot/0": {ID: "r", Offset: 2997}, "slot/1": {ID: "r", Offset: 2998}, "slot/2": {ID: "r", Offset: 2999},
	}, st.batches[0])

	// Only dirty slots are written, and not before another interval.
	require.NoError(t, b.Advance("slot/1", Cursor{ID: "r", Offset: 5000}))
	clk.Add(500 * time.Millisecond)
	assert.Equal(t, 1, st.count())
	clk.Add(500 * time.Millisecond)
	eventually(t, func() bool { return b.Stats().Flushes == 2 }, "second flush")
	assert.Equal(t, map[string]Cursor{"slot/1": {ID: "r", Offset: 5000}}, st.batches[1])

	// Idle: no timer, no writes.
	clk.Add(time.Hour)
	assert.Equal(t, 2, st.count())
	assert.Zero(t, b.Stats().Dirty)
}

func TestBatcherFlushCloseAndLoad(t *testing.T) {
	clk := clock.NewMock()
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := OpenBolt(path, BoltOptions{})
	require.NoError(t, err)
	require.NoError(t, st.SaveCursors(map[string]Cursor{"old": {ID: "x", Offset: 1}}))

	b, err := NewCursorBatcher(st, clk, BatcherOptions{})
	require.NoError(t, err)
	require.NoError(t, b.Advance("slot/0", Cursor{ID: "a", Offset: 10}))

	c, ok, err := b.Load("slot/0")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, int64(10), c.Offset, "Load sees the unflushed cursor")
	c, ok, err = b.Load("old")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, int64(1), c.Offset, "Load falls back to the store")

	require.NoError(t, b.Flush())
	c, ok, err = st.LoadCursor("slot/0")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, int64(10), c.Offset)

	require.NoError(t, b.Advance("slot/0", Cursor{ID: "a", Offset: 20}))
	require.NoError(t, b.Close(), "Close flushes")
	require.NoError(t, b.Close())
	assert.ErrorIs(t, b.Advance("slot/0", Cursor{}), ErrClosed)
	assert.ErrorIs(t, b.Flush(), ErrClosed)
	_, _, err = b.Load("slot/0")
	assert.ErrorIs(t, err, ErrClosed)
	require.NoError(t, st.Close())

	st, err = OpenBolt(path, BoltOptions{})
	require.NoError(t, err)
	defer st.Close()
	c, _, err = st.LoadCursor("slot/0")
	require.NoError(t, err)
	assert.Equal(t, int64(20), c.Offset, "cursor given before Close survives a restart")
}

func TestBatcherRetriesFailedFlush(t *testing.T) {
	clk := clock.NewMock()
	st := &countingStore{Store: NewMemory()}
	boom := errors.New("disk full")
	st.setFail(boom)
	b, err := NewCursorBatcher(st, clk, BatcherOptions{Interval: time.Second})
	require.NoError(t, err)
	defer b.Close()

	require.NoError(t, b.Advance("slot/0", Cursor{Offset: 1}))
	clk.Add(time.Second)
	eventually(t, func() bool { return errors.Is(b.Stats().LastError, boom) && b.isArmed() }, "flush failed, retry armed")
	assert.Equal(t, 1, b.Stats().Dirty, "failed cursor stays dirty")

	// A newer cursor given meanwhile wins over the failed one.
	require.NoError(t, b.Advance("slot/0", Cursor{Offset: 2}))
	st.setFail(nil)
	clk.Add(999 * time.Millisecond)
	assert.Equal(t, 1, st.count(), "no retry before the next interval")
	clk.Add(time.Millisecond)
	eventually(t, func() bool { return b.Stats().Flushes == 1 }, "retried after an interval")
	assert.NoError(t, b.Stats().LastError)
	c, _, _ := st.LoadCursor("slot/0")
	assert.Equal(t, int64(2), c.Offset)

	// A direct Flush reports the error.
	st.setFail(boom)
	require.NoError(t, b.Advance("slot/1", Cursor{Offset: 3}))
	assert.ErrorIs(t, b.Flush(), boom)
}

func (b *CursorBatcher) isArmed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.armed
}

func TestBatcherConcurrentAdvance(t *testing.T) {
	clk := clock.NewMock()
	st := NewMemory()
	b, err := NewCursorBatcher(st, clk, BatcherOptions{Interval: time.Second})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				assert.NoError(t, b.Advance(fmt.Sprintf("slot/%d", w), Cursor{Offset: int64(i)}))
			}
		}()
	}
	for range 20 {
		clk.Add(100 * time.Millisecond)
	}
	wg.Wait()
	require.NoError(t, b.Close())
	for w := range 4 {
		c, ok, err := st.LoadCursor(fmt.Sprintf("slot/%d", w))
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, int64(999), c.Offset)
	}
}

func TestBatcherValidation(t *testing.T) {
	_, err := NewCursorBatcher(nil, clock.NewMock(), BatcherOptions{})
	assert.ErrorIs(t, err, ErrInvalidInput)
	_, err = NewCursorBatcher(NewMemory(), nil, BatcherOptions{})
	assert.ErrorIs(t, err, ErrInvalidInput)
	_, err = NewCursorBatcher(NewMemory(), clock.NewMock(), BatcherOptions{Interval: -1})
	assert.ErrorIs(t, err, ErrInvalidInput)
	b, err := NewCursorBatcher(NewMemory(), clock.NewMock(), BatcherOptions{})
	require.NoError(t, err)
	defer b.Close()
	assert.ErrorIs(t, b.Advance("", Cursor{}), ErrInvalidInput)
	_, _, err = b.Load("")
	assert.ErrorIs(t, err, ErrInvalidInput)
}

func BenchmarkCursorBatcherAdvance(b *testing.B) {
	st, err := OpenBolt(filepath.Join(b.TempDir(), "state.db"), BoltOptions{})
	require.NoError(b, err)
	defer st.Close()
	// Real clock: flushes happen every 10ms while the loop runs.
	cb, err := NewCursorBatcher(st, clock.New(), BatcherOptions{Interval: 10 * time.Millisecond})
	require.NoError(b, err)
	slots := make([]string, 16)
	for i := range slots {
		slots[i] = fmt.Sprintf("slot/%d", i)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := cb.Advance(slots[i%len(slots)], Cursor{ID: "r", Offset: int64(i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	require.NoError(b, cb.Close())
	b.ReportMetric(float64(cb.Stats().Flushes), "flushes")
}

func BenchmarkBoltAppendMilestone(b *testing.B) {
	st, err := OpenBolt(filepath.Join(b.TempDir(), "state.db"), BoltOptions{})
	require.NoError(b, err)
	defer st.Close()
	for i := 0; b.Loop(); i++ {
		if _, err := st.AppendMilestone(Milestone{Key: fmt.Sprintf("k%d", i), Kind: "shard_connected"}); err != nil {
			b.Fatal(err)
		}
	}
}
