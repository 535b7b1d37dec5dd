package replica

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// ErrSpoolFull is wrapped by the failure of a full sync whose snapshot
// exceeded Config.MaxPayload or whose following stream exceeded
// Config.MaxStreamSpool while the snapshot loaded. The shard goes to Error
// with the reason; its spool files are removed. (A snapshot over
// MaxPayload also wraps rdb.ErrTooLarge.)
var ErrSpoolFull = errors.New("redis replica: spool limit exceeded")

// errSpoolIO is wrapped by a spool's file errors (create, write, read).
var errSpoolIO = errors.New("spool file")

// errSpoolClosed is what a reader of a closed spool gets.
var errSpoolClosed = errors.New("spool closed")

// spoolChunk is the allocation unit of a spool's memory part: big enough
// for few allocations, small enough that a spool holding a few bytes
// holds little more.
const spoolChunk = 256 << 10

// spoolFilePattern names spool files (os.CreateTemp) in Config.SpoolDir.
const spoolFilePattern = "replsm-spool-*.tmp"

// spool is a byte queue between the goroutine that reads a primary's
// socket and the one that consumes what it read (the snapshot loader, or
// the stream applier once the snapshot is in): the writer never waits for
// the reader. The first memMax bytes are kept in memory, the rest in a
// temporary file in dir (created on the first byte past memMax, removed
// by Close); more than max bytes in all (max > 0) fail with ErrSpoolFull.
// The memory part is released chunk by chunk as the reader consumes it.
//
// One writer (Write, finish) and one reader (Read) may run concurrently;
// Close may be called from any goroutine, more than once.
type spool struct {
	what   string // "snapshot" or "stream", for errors
	dir    string
	memMax int64
	max    int64

	mu      sync.Mutex
	cond    *sync.Cond // Broadcast on every write, finish and Close
	chunks  [][]byte   // the memory part; consumed chunks are nil
	memLen  int64      // bytes written to the memory part
	memLive int64      // bytes of the memory part still held
	memPeak int64      // the most memLive ever was (tests check the bound)
	f       *os.File   // the file part, nil until spilled
	path    string
	fLen    int64 // bytes of the file part the reader may read
	done    bool  // finish was called: after the data, the reader gets endErr
	endErr  error // io.EOF after a complete write
	closed  bool
	closedC chan struct{} // closed by Close

	// The reader's position: chunk index and offset in it, then the file.
	rChunk int
	rOff   int
	rFile  int64
	rTotal int64 // bytes read in all
}

func newSpool(what, dir string, memMax, max int64) *spool {
	sp := &spool{what: what, dir: dir, memMax: memMax, max: max, closedC: make(chan struct{})}
	sp.cond = sync.NewCond(&sp.mu)
	return sp
}

// Len is the number of bytes written.
func (sp *spool) Len() int64 {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.memLen + sp.fLen
}

// Write appends p. It fails with ErrSpoolFull past max (writing nothing of
// p), and with the file system's error when the file part cannot be
// created or written.
func (sp *spool) Write(p []byte) (int, error) {
	sp.mu.Lock()
	if sp.closed {
		sp.mu.Unlock()
		return 0, errSpoolClosed
	}
	total := sp.memLen + sp.fLen
	if sp.max > 0 && total+int64(len(p)) > sp.max {
		sp.mu.Unlock()
		return 0, fmt.Errorf("%w: the %s would pass %d bytes (%d received)", ErrSpoolFull, sp.what, sp.max, total)
	}
	n := 0
	for sp.f == nil && n < len(p) && sp.memLen < sp.memMax {
		last := len(sp.chunks) - 1
		if last < 0 || len(sp.chunks[last]) == cap(sp.chunks[last]) {
			sp.chunks = append(sp.chunks, make([]byte, 0, min(spoolChunk, sp.memMax-sp.memLen)))
			last++
		}
		c := sp.chunks[last]
		m := copy(c[len(c):cap(c)], p[n:])
		sp.chunks[last] = c[:len(c)+m]
		n += m
		sp.memLen += int64(m)
		sp.memLive += int64(m)
		sp.memPeak = max(sp.memPeak, sp.memLive)
	}
	if n == len(p) {
		sp.cond.Broadcast()
		sp.mu.Unlock()
		return n, nil
	}
	if sp.f == nil {
		f, err := os.CreateTemp(sp.dir, spoolFilePattern)
		if err != nil {
			sp.cond.Broadcast()
			sp.mu.Unlock()
			return n, fmt.Errorf("%w: spool the %s past %d bytes in memory: %w", errSpoolIO, sp.what, sp.memMax, err)
		}
		sp.f, sp.path = f, f.Name()
	}
	f, off := sp.f, sp.fLen
	sp.cond.Broadcast() // for what went to memory
	sp.mu.Unlock()
	// Only the writer appends, and the reader stays below fLen: the file
	// is written outside the lock.
	m, err := f.WriteAt(p[n:], off)
	sp.mu.Lock()
	sp.fLen += int64(m)
	sp.cond.Broadcast()
	sp.mu.Unlock()
	if err != nil {
		return n + m, fmt.Errorf("%w: spool the %s to %s: %w", errSpoolIO, sp.what, sp.path, err)
	}
	return len(p), nil
}

// finish ends the writes: once the reader has read everything it gets
// io.EOF when err is nil, err otherwise.
func (sp *spool) finish(err error) {
	if err == nil {
		err = io.EOF
	}
	sp.mu.Lock()
	if !sp.done {
		sp.done, sp.endErr = true, err
	}
	sp.cond.Broadcast()
	sp.mu.Unlock()
}

// Read reads what was written, in order, waiting for the writer when it
// has read everything written so far and finish was not called.
func (sp *spool) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	for {
		if sp.closed {
			return 0, errSpoolClosed
		}
		if sp.rChunk < len(sp.chunks) {
			c := sp.chunks[sp.rChunk]
			if sp.rOff < len(c) {
				n := copy(p, c[sp.rOff:])
				sp.rOff += n
				sp.rTotal += int64(n)
				if sp.rOff == cap(c) { // full and read: release it
					sp.chunks[sp.rChunk] = nil
					sp.memLive -= int64(cap(c))
					sp.rChunk++
					sp.rOff = 0
				}
				return n, nil
			}
			if len(c) < cap(c) && sp.f == nil {
				// The last chunk, not full yet: more may come into it.
				if sp.done {
					return 0, sp.endErr
				}
				sp.cond.Wait()
				continue
			}
			// Filled as far as it goes (the rest spilled to the file).
			sp.chunks[sp.rChunk] = nil
			sp.memLive -= int64(len(c))
			sp.rChunk++
			sp.rOff = 0
			continue
		}
		if sp.rFile < sp.fLen {
			f, off, n := sp.f, sp.rFile, min(int64(len(p)), sp.fLen-sp.rFile)
			sp.mu.Unlock()
			m, err := f.ReadAt(p[:n], off)
			sp.mu.Lock()
			sp.rFile += int64(m)
			sp.rTotal += int64(m)
			if err != nil && m == 0 {
				if sp.closed {
					return 0, errSpoolClosed
				}
				return 0, fmt.Errorf("%w: read the spooled %s back from %s: %w", errSpoolIO, sp.what, sp.path, err)
			}
			return m, nil
		}
		if sp.done {
			return 0, sp.endErr
		}
		sp.cond.Wait()
	}
}

// Close releases the memory, closes and removes the file, and makes a
// waiting or later Read fail. It returns the removal's error.
func (sp *spool) Close() error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.closed {
		return nil
	}
	sp.closed = true
	close(sp.closedC)
	sp.chunks, sp.memLive = nil, 0
	sp.cond.Broadcast()
	if sp.f == nil {
		return nil
	}
	err := sp.f.Close()
	if rerr := os.Remove(sp.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return err
}

// caughtUp reports whether the reader has read everything written so far.
func (sp *spool) caughtUp() bool {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.rTotal == sp.memLen+sp.fLen
}

// closedCh is closed once the spool is closed.
func (sp *spool) closedCh() <-chan struct{} { return sp.closedC }

// peak is the most memory the spool held at once.
func (sp *spool) peak() int64 {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.memPeak
}

// filePath is the spool file's path, "" while everything is in memory.
func (sp *spool) filePath() string {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.path
}
