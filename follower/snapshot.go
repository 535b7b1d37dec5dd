package follower

import (
	"context"
	"sync"
)

// Snapshots lets concurrent full-sync requests for one shard share one
// snapshot: the first request starts building it, later ones join it while
// it is in flight, and all get the same result. A request that arrives
// during a build waits for it rather than failing with "another snapshot in
// progress".
type Snapshots[K comparable, T any] struct {
	mu       sync.Mutex
	inflight map[K]*flight[T]
	started  uint64
	joined   uint64
}

type flight[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// Acquire returns the snapshot for key, making one with build unless one is
// already being made. build runs on its own goroutine with a context that
// outlives any one caller, so a caller giving up does not spoil the
// snapshot for the others; a caller whose ctx ends gets ctx's error.
// shared reports whether this caller joined a snapshot another started.
func (c *Snapshots[K, T]) Acquire(ctx context.Context, key K, build func(context.Context) (T, error)) (val T, shared bool, err error) {
	c.mu.Lock()
	if c.inflight == nil {
		c.inflight = map[K]*flight[T]{}
	}
	f, ok := c.inflight[key]
	if ok {
		c.joined++
	} else {
		c.started++
		f = &flight[T]{done: make(chan struct{})}
		c.inflight[key] = f
		go func() {
			v, e := build(context.WithoutCancel(ctx))
			c.mu.Lock()
			f.val, f.err = v, e
			delete(c.inflight, key)
			c.mu.Unlock()
			close(f.done)
		}()
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.val, ok, f.err
	case <-ctx.Done():
		var zero T
		return zero, ok, ctx.Err()
	}
}

// Counts returns how many snapshots were started and how many requests
// joined one already in flight.
func (c *Snapshots[K, T]) Counts() (started, joined uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.started, c.joined
}
