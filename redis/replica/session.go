package replica

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/redis/resp"
	"github.com/replsm/replsm/slot"
)

// phase is how far a session got; it decides whether bytes received count
// as slot.Data (only in WaitDBSync and Connected does the slot accept it)
// and whether the ticker sends ACKs.
type phase int32

const (
	phaseHandshake phase = iota // dial, PING, REPLCONF, PSYNC and its reply
	phaseTransfer               // +FULLRESYNC received; RDB payload arriving
	phaseLoad                   // payload received; loading, the stream spooled
	phaseStream                 // the command stream
)

// errLeft ends a session quietly: the slot has left it (Driver.Close came,
// or the slot refused its data or reply as stale), so nobody is told.
var errLeft = errors.New("session left by its slot")

// session is one sync request of one shard and everything that follows
// from it on one connection: handshake, transfer, stream. It runs on its
// own goroutine (run) plus a ticker goroutine (ACKs and the read timeout),
// both counted in the Replica's WaitGroup. Sessions of one shard never
// overlap in what they touch: each waits for its predecessor to exit before
// it dials, so the shard's keyspace and cursor have one writer at a time.
type session struct {
	rep      *Replica
	sh       *shard
	id       slot.Session
	full     bool
	endpoint string // the primary this session talks to (fixed at its start)

	prev <-chan struct{} // closed when the previous session of the shard ended
	done chan struct{}   // closed when run returns

	ctx    context.Context
	cancel context.CancelCauseFunc
	left   atomic.Bool // the slot left this session, or the replica is closing

	mu    sync.Mutex
	conn  net.Conn
	cause error // why we closed the connection ourselves (read timeout, failed ACK)

	wmu      sync.Mutex // one writer at a time: GETACK replies and periodic ACKs
	phase    atomic.Int32
	lastRead atomic.Int64 // UnixNano on the replica's clock of the last byte received

	// awaitStream is set after a full sync until the stream's first value
	// is read; streamStart tells the ticker to ACK fast meanwhile.
	awaitStream atomic.Bool
	streamStart chan struct{}

	// snapOff is the offset of the snapshot loading in phaseLoad: what
	// the ACKs say until it is installed (transfer.go).
	snapOff atomic.Int64
}

func newSession(rep *Replica, sh *shard, req slot.Request, prev <-chan struct{}) *session {
	ctx, cancel := context.WithCancelCause(context.Background())
	ep := req.Endpoint
	if ep == "" {
		ep = sh.addr()
	}
	s := &session{rep: rep, sh: sh, id: req.Session, full: req.Full, endpoint: ep, prev: prev, done: make(chan struct{}), ctx: ctx, cancel: cancel,
		streamStart: make(chan struct{}, 1)}
	// Cancelling the session closes its connection, which unblocks any read
	// or write in flight.
	context.AfterFunc(ctx, func() { s.closeConn(nil) })
	return s
}

// stop ends the session because its slot left it (or the replica closes).
// It does not wait: it may be called from the session's own goroutine, in
// the middle of a slot transition.
func (s *session) stop(reason string) {
	s.left.Store(true)
	s.cancel(fmt.Errorf("%w: %s", errLeft, reason))
}

// abort closes the connection for a reason of our own; the read in flight
// fails and the session reports cause to the slot.
func (s *session) abort(cause error) { s.closeConn(cause) }

func (s *session) closeConn(cause error) {
	s.mu.Lock()
	if s.cause == nil && cause != nil {
		s.cause = cause
	}
	c := s.conn
	s.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

func (s *session) setConn(c net.Conn) bool {
	s.mu.Lock()
	s.conn = c
	s.mu.Unlock()
	if s.ctx.Err() != nil { // stopped while dialling: AfterFunc ran before conn was set
		_ = c.Close()
		return false
	}
	return true
}

func (s *session) ownCause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cause
}

func (s *session) logger() *slog.Logger {
	return s.rep.log.With(slog.String("id", s.sh.id.String()), slog.Uint64("session", uint64(s.id)))
}

// errUnreached marks a session that never reached its primary.
var errUnreached = errors.New("primary unreachable")

// run is the session's goroutine: wait for the previous session of the
// shard to end, dial, sync, stream, and report how it ended.
func (s *session) run() {
	defer s.rep.wg.Done()
	defer close(s.done)
	if s.prev != nil {
		<-s.prev // it was stopped before we were started; it exits promptly
	}
	if s.left.Load() {
		return
	}
	err := s.sync()
	s.cancel(err)
	if s.left.Load() || errors.Is(err, errLeft) {
		s.logger().Debug("session ended", slog.String("reason", context.Cause(s.ctx).Error()))
		return
	}
	if cause := s.ownCause(); cause != nil {
		err = cause
	}
	if errors.Is(err, errBusy) {
		// Alive but not ready: not a failure, no budget spent.
		if berr := s.sh.slot.Busy(s.id, err.Error()); berr != nil {
			s.logger().Debug("busy reply not delivered", slog.String("reply", err.Error()), slog.String("why", berr.Error()))
		}
		return
	}
	if errors.Is(err, ErrApply) {
		// Replica and primary disagree about the data: only a full sync
		// repairs that, so do not retry the same stream.
		s.sh.slot.RequestFullSync()
	}
	s.sh.noteFailure(err)
	fail := s.sh.slot.Fail
	if errors.Is(err, errUnreached) {
		fail = s.sh.slot.FailUnreached // says nothing about incremental sync
	}
	if ferr := fail(s.id, err.Error()); ferr != nil {
		s.logger().Debug("failure not delivered", slog.String("err", err.Error()), slog.String("why", ferr.Error()))
	}
}

// sync runs the session's phases in order and returns why it ended.
func (s *session) sync() error {
	if err := s.rep.failoverHold(s.sh, s.endpoint); err != nil {
		return err // a sentinel failover of this primary is under way (sentinel.go)
	}
	if err := s.dial(); err != nil {
		return fmt.Errorf("%w: %w", errUnreached, err)
	}
	s.lastRead.Store(s.rep.clk.Now().UnixNano())
	s.rep.wg.Add(1)
	go s.tick()

	br := bufio.NewReaderSize(&sessionReader{s: s}, 64<<10)
	rd := resp.NewReader(br)
	hs, err := s.handshake(rd)
	if err != nil {
		return err
	}
	if hs.full {
		if rd, err = s.transfer(br, hs); err != nil {
			return err
		}
	} else if err := s.cont(hs); err != nil {
		return err
	}
	return s.stream(rd)
}

// dial connects to the shard's primary, bounded by DialTimeout on the
// replica's clock and by the session's own cancellation.
func (s *session) dial() error {
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	t := s.rep.clk.AfterFunc(s.rep.cfg.DialTimeout, cancel)
	defer t.Stop()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", s.endpoint)
	if err != nil {
		if s.ctx.Err() != nil {
			return errLeft
		}
		if ctx.Err() != nil {
			return fmt.Errorf("dial %s: no connection in %s", s.endpoint, s.rep.cfg.DialTimeout)
		}
		return fmt.Errorf("dial %s: %w", s.endpoint, err)
	}
	if !s.setConn(c) {
		return errLeft
	}
	s.sh.sessions.Add(1)
	return nil
}

// write sends one command to the primary; writes of the reader and of the
// ticker do not interleave.
func (s *session) write(args ...string) error {
	buf := resp.AppendCommandStrings(nil, args...)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if _, err := c.Write(buf); err != nil {
		if s.ctx.Err() != nil {
			return errLeft
		}
		return fmt.Errorf("write %s to %s: %w", args[0], s.endpoint, err)
	}
	return nil
}

// tick sends REPLCONF ACK every AckPeriod while streaming (and every
// StreamStartAckPeriod after a full sync until the stream starts) and drops
// the connection when the primary has been silent for ReadTimeout. All of
// it runs on the replica's clock.
func (s *session) tick() {
	defer s.rep.wg.Done()
	cfg := s.rep.cfg
	t := s.rep.clk.Ticker(cfg.AckPeriod)
	defer t.Stop()
	var fast *clock.Ticker
	var fastC <-chan time.Time
	defer func() {
		if fast != nil {
			fast.Stop()
		}
	}()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.streamStart:
			if fast == nil {
				fast = s.rep.clk.Ticker(cfg.streamStartAckPeriod())
				fastC = fast.C
			}
			continue
		case <-fastC:
			if !s.awaitStream.Load() {
				fast.Stop()
				fast, fastC = nil, nil
				continue
			}
			if err := s.ack(); err != nil {
				s.abort(err)
				return
			}
			continue
		case <-t.C:
		}
		now := s.rep.clk.Now()
		if idle := now.Sub(timeOf(s.lastRead.Load())); idle >= cfg.ReadTimeout {
			s.abort(fmt.Errorf("%w: nothing from %s in %s", ErrReadTimeout, s.endpoint, idle.Round(time.Millisecond)))
			return
		}
		// A write blocked on a frozen primary stops this loop too; the slot's
		// keepalive timer then closes the session.
		if ph := phase(s.phase.Load()); ph >= phaseLoad {
			if err := s.ack(); err != nil {
				s.abort(err)
				return
			}
			if d := s.rep.dur; ph == phaseStream && d != nil {
				d.tick(s.sh, now)
			}
		}
	}
}

// ack sends REPLCONF ACK with the offset of the last byte applied; while
// a snapshot loads, with the snapshot's offset: a Redis 7.0 primary starts
// the stream only on an ACK, and what it streams meanwhile is spooled.
func (s *session) ack() error {
	off := s.sh.cursor().Offset
	if phase(s.phase.Load()) == phaseLoad {
		off = s.snapOff.Load()
	}
	return s.write("REPLCONF", "ACK", itoa(off))
}

// setReadDeadline sets the connection's read deadline: a past one wakes
// the session's goroutine out of a read (transfer.go), the zero one clears
// it. Nothing else uses read deadlines (ReadTimeout is the ticker's).
func (s *session) setReadDeadline(t time.Time) {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c != nil {
		_ = c.SetReadDeadline(t)
	}
}

// sessionReader is what the session's bufio.Reader reads from: the
// connection, noting when bytes arrive (for the read timeout) and, once the
// slot is in WaitDBSync or Connected, telling the slot (slot.Data keeps its
// transfer-idle and keepalive timers quiet). A slot that refuses the data
// has left the session, which ends the read.
type sessionReader struct{ s *session }

func (r *sessionReader) Read(p []byte) (int, error) {
	s := r.s
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	n, err := c.Read(p)
	if n > 0 {
		s.sh.obs.rx.Add(int64(n))
		now := s.rep.clk.Now().UnixNano()
		s.lastRead.Store(now)
		s.sh.lastIO.Store(now)
		if phase(s.phase.Load()) != phaseHandshake {
			if derr := s.sh.slot.Data(s.id); derr != nil {
				s.stop("slot refused data: " + derr.Error())
				return 0, errLeft
			}
		}
	}
	if err != nil && s.ctx.Err() != nil {
		return n, errLeft
	}
	return n, err
}
