package store

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
)

// DefaultFlushInterval is the CursorBatcher interval when none is given:
// about as often as a Redis replica acks its offset.
const DefaultFlushInterval = time.Second

// BatcherOptions configures a CursorBatcher. The zero value is usable.
type BatcherOptions struct {
	// Interval is the minimum time between two timer-driven flushes. Zero
	// means DefaultFlushInterval. A crash loses at most this much cursor
	// progress, which costs a slightly longer incremental resync, never data.
	Interval time.Duration
	// Logger receives a warning when a background flush fails. Nil discards.
	Logger *slog.Logger
}

// BatcherStats is a snapshot of a CursorBatcher.
type BatcherStats struct {
	Dirty     int    // slots advanced since their last successful flush
	Flushes   uint64 // successful flushes that wrote at least one cursor
	LastError error  // error of the most recent failed flush, nil after a success
}

// CursorBatcher keeps the latest cursor of every slot in memory and writes
// the changed ones to the Store in one transaction at most once per
// interval. Advance is called for every applied command, so it only updates
// a map; the fsync cost is one per interval, not one per command.
type CursorBatcher struct {
	st       Store
	clk      clock.Clock
	interval time.Duration
	log      *slog.Logger

	flushMu sync.Mutex // serializes flushes: an older batch never lands after a newer one

	mu      sync.Mutex
	latest  map[string]Cursor
	dirty   map[string]Cursor
	armed   bool
	timer   *clock.Timer
	closed  bool
	flushes uint64
	lastErr error
	wg      sync.WaitGroup // armed timer or running timer callback
}

// NewCursorBatcher returns a batcher writing to st, timed by clk.
func NewCursorBatcher(st Store, clk clock.Clock, opts BatcherOptions) (*CursorBatcher, error) {
	if st == nil {
		return nil, fmt.Errorf("%w: nil Store", ErrInvalidInput)
	}
	if clk == nil {
		return nil, fmt.Errorf("%w: nil clock", ErrInvalidInput)
	}
	if opts.Interval < 0 {
		return nil, fmt.Errorf("%w: negative flush interval %v", ErrInvalidInput, opts.Interval)
	}
	if opts.Interval == 0 {
		opts.Interval = DefaultFlushInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &CursorBatcher{
		st:       st,
		clk:      clk,
		interval: opts.Interval,
		log:      opts.Logger,
		latest:   make(map[string]Cursor),
		dirty:    make(map[string]Cursor),
	}, nil
}

// Advance records c as slot's latest cursor. It does no I/O; the first
// Advance after a flush arms the flush timer.
func (b *CursorBatcher) Advance(slot string, c Cursor) error {
	if err := validateCursor(slot, c); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	b.latest[slot] = c
	b.dirty[slot] = c
	b.armLocked()
	return nil
}

// Load returns slot's latest cursor: the one last passed to Advance, or
// else the one in the Store.
func (b *CursorBatcher) Load(slot string) (Cursor, bool, error) {
	if err := validateSlot(slot); err != nil {
		return Cursor{}, false, err
	}
	b.mu.Lock()
	closed := b.closed
	c, ok := b.latest[slot]
	b.mu.Unlock()
	if closed {
		return Cursor{}, false, ErrClosed
	}
	if ok {
		return c, true, nil
	}
	return b.st.LoadCursor(slot)
}

// Flush writes every dirty cursor now, in one transaction. Use it in tests
// and before a planned shutdown (Close also flushes).
func (b *CursorBatcher) Flush() error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return b.flush()
}

// Close stops the timer, waits for a flush in progress, then flushes what
// is left. It does not close the Store. Calling it again is a no-op.
func (b *CursorBatcher) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	if b.armed && b.timer.Stop() {
		b.armed = false
		b.wg.Done()
	}
	b.mu.Unlock()
	b.wg.Wait()
	return b.flush()
}

// Stats returns a snapshot.
func (b *CursorBatcher) Stats() BatcherStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return BatcherStats{Dirty: len(b.dirty), Flushes: b.flushes, LastError: b.lastErr}
}

// armLocked starts the flush timer unless one is pending. b.mu is held.
func (b *CursorBatcher) armLocked() {
	if b.armed || b.closed || len(b.dirty) == 0 {
		return
	}
	b.armed = true
	b.wg.Add(1)
	b.timer = b.clk.AfterFunc(b.interval, b.onTimer)
}

func (b *CursorBatcher) onTimer() {
	defer b.wg.Done()
	b.mu.Lock()
	b.armed = false
	b.timer = nil
	b.mu.Unlock()
	if err := b.flush(); err != nil {
		b.log.Warn("cursor flush failed; will retry", "store", storeName(b.st), "err", err)
		b.mu.Lock()
		b.armLocked() // retry after another interval
		b.mu.Unlock()
	}
}

func (b *CursorBatcher) flush() error {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	b.mu.Lock()
	batch := b.dirty
	if len(batch) == 0 {
		b.mu.Unlock()
		return nil
	}
	b.dirty = make(map[string]Cursor, len(batch))
	b.mu.Unlock()

	// I/O outside b.mu: Advance never waits for a disk.
	err := b.st.SaveCursors(batch)

	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		for slot, c := range batch {
			if _, newer := b.dirty[slot]; !newer {
				b.dirty[slot] = c
			}
		}
		b.lastErr = err
		return fmt.Errorf("store: flush %d cursors: %w", len(batch), err)
	}
	b.flushes++
	b.lastErr = nil
	return nil
}

func storeName(st Store) string {
	if s, ok := st.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", st)
}
