package fsm

import "sync"

// Mailbox holds what a machine decided under its owner's lock and hands it
// out after the lock is released, in order. One goroutine at a time does the
// handing out; others that add work meanwhile leave it to that one, so
// observers see records in the order they were made and effects may re-enter
// the owner without deadlock.
type Mailbox[T any] struct {
	out      []T
	spare    []T
	flushing bool
}

// Add queues a zero item and returns it to be filled in, in place (an
// item is written once, not built and then copied); call it with the
// owner's lock held and fill it in before releasing the lock.
func (b *Mailbox[T]) Add() *T {
	n := len(b.out)
	if n == cap(b.out) {
		var zero T
		b.out = append(b.out, zero)
	} else {
		// Items past the length are zero: handed-out batches are cleared.
		b.out = b.out[:n+1]
	}
	return &b.out[n]
}

// UnlockAndFlush must be called with mu held; it releases it and calls
// deliver for every queued item, in order, without the lock.
func (b *Mailbox[T]) UnlockAndFlush(mu *sync.Mutex, deliver func(*T)) {
	if b.flushing || len(b.out) == 0 {
		mu.Unlock()
		return
	}
	b.flushing = true
	for {
		batch := b.out
		b.out = b.spare[:0]
		mu.Unlock()
		for i := range batch {
			deliver(&batch[i])
		}
		clear(batch)
		mu.Lock()
		b.spare = batch[:0]
		if len(b.out) == 0 {
			b.flushing = false
			mu.Unlock()
			return
		}
	}
}
