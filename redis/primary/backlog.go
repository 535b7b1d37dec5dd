package primary

import "fmt"

// Backlog is a ring holding the last len(buf) bytes of the replication
// stream, exactly as they were sent, so that a follower that lost its
// connection can resume with +CONTINUE from where it stopped.
//
// Positions are stream offsets counted as Redis counts them: a follower
// that has processed r bytes is "at r" and asks with PSYNC for r+1. The
// ring holds the bytes at positions [start, end) where end is the primary's
// offset; the byte at position p lives in buf[p mod len(buf)].
//
// A Backlog is not safe for concurrent use; Primary guards it with its
// replication mutex.
type Backlog struct {
	buf  []byte
	end  int64 // the primary's offset: bytes ever appended
	hist int64 // bytes held, at most len(buf)
}

func NewBacklog(size int, offset int64) *Backlog {
	return &Backlog{buf: make([]byte, size), end: offset}
}

// size is the ring's capacity (Redis's repl_backlog_size).
func (b *Backlog) size() int64 { return int64(len(b.buf)) }

// start is the position of the oldest byte held.
func (b *Backlog) start() int64 { return b.end - b.hist }

// reset forgets every byte held and restarts the stream at offset.
func (b *Backlog) reset(offset int64) { b.end, b.hist = offset, 0 }

// truncate drops the bytes after position end (end <= b.end), as if they
// had never been appended; when end lies before the oldest byte held, the
// ring is left empty at end.
func (b *Backlog) truncate(end int64) {
	if end >= b.end {
		return
	}
	if end < b.start() {
		b.reset(end)
		return
	}
	b.hist -= b.end - end
	b.end = end
}

// write appends p to the stream. When p alone is larger than the ring only
// its tail is kept.
func (b *Backlog) write(p []byte) {
	n := int64(len(p))
	size := b.size()
	if n >= size {
		// Only the last size bytes survive; lay them out so the byte at
		// position q still sits at q mod size.
		tail := p[n-size:]
		b.end += n
		from := b.end - size
		at := from % size
		copy(b.buf[at:], tail)
		copy(b.buf, tail[size-at:])
		b.hist = size
		return
	}
	at := b.end % size
	c := copy(b.buf[at:], p)
	copy(b.buf, p[c:])
	b.end += n
	b.hist = min(b.hist+n, size)
}

// covers reports whether a follower at position r (one that asked for
// PSYNC r+1) can be served from the ring: every byte from r on is held.
// r == end is served too: nothing is missing.
func (b *Backlog) covers(r int64) bool {
	return r >= b.start() && r <= b.end
}

// errPurged is returned by readAt for a position the ring has overwritten.
type errPurged struct{ at, start int64 }

func (e errPurged) Error() string {
	return fmt.Sprintf("stream position %d is no longer in the backlog (oldest held: %d)", e.at, e.start)
}

// readAt appends to dst up to max bytes of the stream from position r and
// returns the result. It returns dst unchanged when r == end, and errPurged
// when r has been overwritten (or lies beyond end, which only a bug could
// ask for).
func (b *Backlog) readAt(dst []byte, r int64, max int) ([]byte, error) {
	if !b.covers(r) {
		return dst, errPurged{at: r, start: b.start()}
	}
	n := min(b.end-r, int64(max))
	if n == 0 {
		return dst, nil
	}
	size := b.size()
	at := r % size
	first := min(n, size-at)
	dst = append(dst, b.buf[at:at+first]...)
	return append(dst, b.buf[:n-first]...), nil
}

// The exported face of the ring, for the Redis replica: a replica shard
// keeps the stream it applied in a Backlog, and a promoted shard hands it
// to Promote so that replicas of the old primary continue from it.

// Write appends stream bytes.
func (b *Backlog) Write(p []byte) { b.write(p) }

// End is the stream offset after the last byte appended.
func (b *Backlog) End() int64 { return b.end }

// Reset forgets every byte held and restarts the stream at offset.
func (b *Backlog) Reset(offset int64) { b.reset(offset) }

// Len is the number of bytes held.
func (b *Backlog) Len() int64 { return b.hist }

// Size is the ring's capacity.
func (b *Backlog) Size() int64 { return b.size() }

// ReadAt appends to dst up to max bytes of the stream from position r
// (an error when r is no longer held).
func (b *Backlog) ReadAt(dst []byte, r int64, max int) ([]byte, error) { return b.readAt(dst, r, max) }
