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

// Put queues v; call it with the owner's lock held.
func (b *Mailbox[T]) Put(v T) { b.out = append(b.out, v) }

// Len is how many items are queued and not yet handed out.
func (b *Mailbox[T]) Len() int { return len(b.out) }

// At returns the queued item i, for filling in a placeholder Put earlier.
func (b *Mailbox[T]) At(i int) *T { return &b.out[i] }

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
