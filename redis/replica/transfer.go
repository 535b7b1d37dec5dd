package replica

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/replsm/replsm/redis/keyspace"
	"github.com/replsm/replsm/redis/rdb"
	"github.com/replsm/replsm/redis/resp"
)

// transfer receives and loads the snapshot that follows +FULLRESYNC
// without ever leaving the socket unread (docs/fullsync.md, "No full-sync
// loop"): the session's goroutine copies the payload into a spool (memory
// up to Config.SpoolMemory, then a file in the spool dir) at the speed it
// arrives, with slot.Data as its bytes come; at the end mark a loader
// goroutine builds the new keyspace from the spool while a receiver
// goroutine reads the stream that follows into a second spool and the
// ACKs carry the snapshot's offset, so the primary always sees a reader
// at wire speed. The loaded keyspace is swapped in
// only once complete, with the cursor at the snapshot's offset; then the
// spooled stream is applied in order and live streaming carries on
// through the reader returned. A failed or abandoned transfer leaves the
// shard's data and cursor as they were, and its spool files are removed.
func (s *session) transfer(br *bufio.Reader, hs handshakeResult) (*resp.Reader, error) {
	if err := s.sh.slot.DBSyncStarted(s.id, hs.line); err != nil {
		return nil, fmt.Errorf("%w: %v", errLeft, err)
	}
	s.phase.Store(int32(phaseTransfer))
	log := s.logger()
	log.Info("full resync: receiving snapshot", slog.String("reply", hs.line))

	o := &s.sh.obs
	start := s.rep.clk.Now()
	o.xferStart.Store(start.UnixNano())
	o.xferTotal.Store(-1)
	o.xferBase.Store(o.rx.Load() - int64(br.Buffered()))
	o.xferActive.Store(true)
	defer o.xferActive.Store(false)
	if total, pre, ok := peekPayloadSize(br); ok {
		o.xferTotal.Store(total)
		o.xferBase.Store(o.rx.Load() - int64(br.Buffered()) + int64(pre))
	}

	cfg := s.rep.cfg
	dir, mem := cfg.spoolDir(), cfg.spoolMemory()
	snap := newSpool("snapshot", dir, mem, cfg.MaxPayload)
	stream := newSpool("stream", dir, mem, cfg.MaxStreamSpool)
	// Leaving the session (or its end) closes both spools: a loader
	// waiting on the snapshot's stops, and the files go. The snapshot's
	// goes when the load is over in any case; the stream's once it is
	// drained (drainSpool) or with the session.
	stopSnap := context.AfterFunc(s.ctx, func() { _ = snap.Close() })
	defer func() {
		stopSnap()
		_ = snap.Close()
	}()
	context.AfterFunc(s.ctx, func() { _ = stream.Close() })
	if hook := testHookSpools; hook != nil {
		hook(snap, stream)
	}
	size, err := receivePayload(br, snap, cfg.MaxPayload)
	snap.finish(err)
	if err != nil {
		if s.left.Load() || errors.Is(err, errLeft) {
			return nil, errLeft
		}
		return nil, err
	}
	// Loading starts at the end mark, not during the transfer: on a small
	// machine a loader beside the receiver slows the transfer, and the
	// primary buffers every write from its fork until the stream starts
	// (docs/fullsync.md).
	ld := s.startLoader(snap)
	o.xferTotal.Store(size)
	log.Info("full resync: snapshot received, loading", slog.Int64("bytes", size),
		slog.Int64("spooled_to_file", max(size-mem, 0)), slog.String("spool_dir", dir))

	// After a diskless (EOF-marked) transfer a Redis 7.0 primary streams
	// nothing until an ACK that arrives after it reaped its fork child.
	// This ACK is often too early, so the ticker repeats it every
	// StreamStartAckPeriod until the stream's first bytes are read.
	s.snapOff.Store(hs.offset)
	s.phase.Store(int32(phaseLoad))
	s.awaitStream.Store(true)
	select {
	case s.streamStart <- struct{}{}:
	default:
	}
	if err := s.ack(); err != nil {
		_ = snap.Close()
		<-ld.done
		return nil, err
	}
	rc := s.startReceiver(br, stream)
	// Until the load is over the receiver reads on; if it fails with the
	// spool's own error (over MaxStreamSpool) the sync cannot complete. A
	// failed link does not stop the load: what was spooled is applied,
	// then the stream reports the failure and the next PSYNC continues.
	select {
	case <-ld.done:
	case <-rc.done:
		if rc.err != nil && !isLinkError(rc.err) {
			_ = snap.Close()
			<-ld.done
			return nil, rc.err
		}
		<-ld.done
	}
	fail := func(err error) (*resp.Reader, error) {
		rc.stop(s)
		<-rc.done
		return nil, err
	}
	if ld.err != nil {
		if errors.Is(ld.err, errLeft) || s.left.Load() {
			return fail(errLeft)
		}
		return fail(fmt.Errorf("load snapshot of %d bytes: %w", size, ld.err))
	}
	// The transfer is over before the slot hears it: INFO must not show a
	// sync in progress on a Connected shard.
	o.xferActive.Store(false)
	end := s.rep.clk.Now()
	o.lastFullDur.Store(int64(end.Sub(start)))
	o.lastFullBytes.Store(size)
	o.lastFullAt.Store(end.UnixNano())
	if s.left.Load() {
		return fail(errLeft) // the slot gave up on this transfer: keep the old data
	}
	s.sh.install(ld.ks, Cursor{ReplID: hs.replID, Offset: hs.offset})
	if d := s.rep.dur; d != nil {
		// After a full sync the saved snapshot is of other data: replace it
		// now rather than at the next trigger.
		d.take(s.sh, true)
	}
	log.Info("full resync: snapshot loaded", slog.Int64("bytes", size), slog.Int("keys", s.sh.ks.Len()),
		slog.String("replid", hs.replID), slog.Int64("offset", hs.offset),
		slog.Int64("stream_spooled", stream.Len()), slog.Duration("took", end.Sub(start)))
	if err := s.sh.slot.DBSyncDone(s.id); err != nil {
		return fail(fmt.Errorf("%w: %v", errLeft, err))
	}
	s.phase.Store(int32(phaseStream))
	// The spooled stream first, the receiver still reading behind it until
	// the applier catches up; then the socket (and, if the link failed
	// meanwhile, that failure after what was spooled).
	return resp.NewReader(bufio.NewReaderSize(io.MultiReader(&drainSpool{s: s, sp: stream, rc: rc}, br), 64<<10)), nil
}

// loadRDB builds a keyspace from an RDB; tests replace it to hold a load.
var loadRDB = rdb.LoadWith

// testHookSpools, when set by a test, sees the two spools of every
// transfer as it starts.
var testHookSpools func(snapshot, stream *spool)

// loader is the goroutine that builds the new keyspace from the
// snapshot's spool; done is closed once ks or err is set.
type loader struct {
	done chan struct{}
	ks   *keyspace.Keyspace
	err  error
}

func (s *session) startLoader(sp *spool) *loader {
	ld := &loader{done: make(chan struct{})}
	s.rep.wg.Add(1)
	go func() {
		defer s.rep.wg.Done()
		ld.ks, _, ld.err = loadRDB(sp, rdb.LoadOptions{Clock: s.rep.clk, MaxValue: s.rep.cfg.MaxValue})
		close(ld.done)
	}()
	return ld
}

// receiver is the goroutine that reads what follows the snapshot into the
// stream spool, from the end mark until the applier has caught up with
// the spool (drainSpool) or the link fails; done is closed once err is
// set (nil: stopped).
type receiver struct {
	done     chan struct{}
	err      error
	stopping atomic.Bool
}

func (s *session) startReceiver(br *bufio.Reader, sp *spool) *receiver {
	rc := &receiver{done: make(chan struct{})}
	s.rep.wg.Add(1)
	go func() {
		defer s.rep.wg.Done()
		rc.err = s.spoolStream(br, sp, rc)
		if rc.err != nil && !isLinkError(rc.err) {
			sp.finish(rc.err)
		} else {
			// After the spool the applier reads br itself, and meets a
			// link failure there again.
			sp.finish(nil)
		}
		close(rc.done)
	}()
	return rc
}

// stop asks the receiver to end: a past read deadline wakes it out of its
// read. The caller clears the deadline once done is closed.
func (rc *receiver) stop(s *session) {
	if rc.stopping.CompareAndSwap(false, true) {
		s.setReadDeadline(time.Unix(1, 0))
	}
}

// spoolStream copies what br receives into sp until stopped, and returns
// nil then; or the link's failure, or the spool's (ErrSpoolFull).
func (s *session) spoolStream(br *bufio.Reader, sp *spool, rc *receiver) error {
	for !rc.stopping.Load() {
		chunk, err := peekSome(br)
		if err != nil {
			if rc.stopping.Load() && errors.Is(err, os.ErrDeadlineExceeded) {
				return nil
			}
			return err
		}
		s.awaitStream.Store(false) // the stream has started: back to AckPeriod
		if _, err := sp.Write(chunk); err != nil {
			return fmt.Errorf("the stream that followed the snapshot: %w", err)
		}
		_, _ = br.Discard(len(chunk))
	}
	return nil
}

// isLinkError tells a failure of the connection (after which the snapshot
// may still be loaded and the spooled stream applied) from the spool's own.
func isLinkError(err error) bool {
	return !errors.Is(err, ErrSpoolFull) && !errors.Is(err, errSpoolIO)
}

// drainSpool is what the applier reads first after a full sync: the
// stream spool, while the receiver keeps filling it. When the applier has
// read all there is, the receiver is stopped (the socket is the
// applier's again once the spool ends); at its end the spool is removed.
type drainSpool struct {
	s       *session
	sp      *spool
	rc      *receiver
	stopped bool
}

func (d *drainSpool) Read(p []byte) (int, error) {
	if !d.stopped && d.sp.caughtUp() {
		d.rc.stop(d.s)
		d.stopped = true
	}
	n, err := d.sp.Read(p)
	if errors.Is(err, io.EOF) {
		<-d.rc.done
		d.s.setReadDeadline(time.Time{})
		_ = d.sp.Close()
	}
	return n, err
}

// peekPayloadSize reads ahead, without consuming, to the payload preamble
// "$<len>\r\n" and returns len and the preamble's length (keepalive
// newlines before it included), for the transfer's progress. An EOF-marked
// payload has no length (ok false), as does anything unexpected; then
// ReadPayload reports the problem. It only waits for bytes the preamble is
// made of, which ReadPayload would wait for too.
func peekPayloadSize(br *bufio.Reader) (size int64, preamble int, ok bool) {
	const maxLine = 64
	skip := 0
	for i := 1; i <= skip+maxLine && i <= br.Size(); i++ {
		p, err := br.Peek(i)
		if err != nil {
			return 0, 0, false
		}
		c := p[i-1]
		if i-1 == skip && (c == '\n' || c == '\r') {
			skip = i // a keepalive before the preamble
			continue
		}
		if c != '\n' {
			continue
		}
		line := strings.TrimSuffix(string(p[skip:i-1]), "\r")
		digits, found := strings.CutPrefix(line, "$")
		if !found {
			return 0, 0, false
		}
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false
		}
		return n, i, true
	}
	return 0, 0, false
}
