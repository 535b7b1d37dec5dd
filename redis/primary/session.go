package primary

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/replsm/replsm/follower"

	"github.com/replsm/replsm/redis/resp"
	"github.com/replsm/replsm/redis/server"
	"github.com/replsm/replsm/slot"
)

// replconf is what a connection announced with REPLCONF before PSYNC.
type replconf struct {
	port   int    // listening-port; 0 when never sent
	ip     string // ip-address; empty means the connection's remote ip
	eof    bool   // capa eof: accepts an EOF-marked (diskless) snapshot
	psync2 bool   // capa psync2: understands "+CONTINUE <replid>"
}

// phase is where a session's sending side stands; INFO shows it as Redis's
// replica state.
type phase int32

const (
	phaseWaitSnapshot phase = iota // full sync: snapshot being built ("wait_bgsave")
	phaseSendBulk                  // full sync: snapshot being sent ("send_bulk")
	phaseWaitAck                   // EOF-marked snapshot sent; stream held until the first ACK
	phaseOnline                    // streaming ("online")
)

func (ph phase) redisState() string {
	switch ph {
	case phaseWaitSnapshot:
		return "wait_bgsave"
	case phaseSendBulk, phaseWaitAck:
		return "send_bulk"
	}
	return "online"
}

// errSessionClosed ends the sending side of a session closed from
// elsewhere (the follower machine removed it, the operator, Close).
var errSessionClosed = errors.New("session closed")

// session is one follower's replication connection after PSYNC. Its
// handler goroutine reads the follower's ACKs; one sender goroutine writes
// the sync reply, the snapshot if any, and then the stream, read straight
// from the backlog. The backlog is the only buffer: a follower that falls
// further behind than the backlog is dropped and comes back with a full
// sync, as Redis drops a replica over its output-buffer limit.
type session struct {
	p      *Primary
	id     string // the follower's id: its announced "ip:port"
	ip     string
	port   int
	remote string
	conf   replconf
	legacy bool // SYNC, not PSYNC: the snapshot comes with no +FULLRESYNC line
	nc     net.Conn
	br     *bufio.Reader
	f      *follower.Follower
	sess   slot.Session

	phase atomic.Int32
	sent  atomic.Int64 // stream position written to nc
	full  atomic.Bool  // this session began with a full sync

	done      chan struct{}
	closeOnce sync.Once
	reason    string // why the session ended; written once inside closeOnce

	firstAck chan struct{}
	ackOnce  sync.Once
}

func newSession(p *Primary, c *server.Conn, nc net.Conn, br *bufio.Reader, conf replconf) *session {
	s := &session{
		p:        p,
		remote:   c.Remote(),
		conf:     conf,
		nc:       nc,
		br:       br,
		done:     make(chan struct{}),
		firstAck: make(chan struct{}),
	}
	host, _, err := net.SplitHostPort(s.remote)
	if err != nil {
		host = s.remote
	}
	s.ip, s.port = host, conf.port
	if conf.ip != "" {
		s.ip = conf.ip
	}
	// A follower is known by the address it serves on, so that its
	// reconnection replaces its old session. One that never announced a
	// port is known by its connection alone.
	s.id = s.remote
	if s.port != 0 {
		s.id = net.JoinHostPort(s.ip, strconv.Itoa(s.port))
	}
	return s
}

// close ends the session: the connection is closed, which stops both of
// its goroutines. The first reason given is kept.
func (s *session) close(reason string) {
	s.closeOnce.Do(func() {
		s.reason = reason
		close(s.done)
		_ = s.nc.Close()
	})
}

// handlePSYNC answers "PSYNC <replid> <offset>": malformed arguments get an
// error reply on the ordinary path; otherwise the connection is hijacked
// and the replication session runs in this handler goroutine until it
// ends.
func (p *Primary) handlePSYNC(c *server.Conn, args [][]byte) error {
	if len(args) != 3 {
		return c.WriteError(server.WrongArgs(args[0]))
	}
	askedOff, err := strconv.ParseInt(string(args[2]), 10, 64)
	if err != nil {
		return c.WriteError("ERR value is not an integer or out of range")
	}
	askedID := string(args[1])
	conf := stateOf(c).repl
	nc, br, err := c.Hijack()
	if err != nil {
		return err
	}
	p.runSession(newSession(p, c, nc, br, conf), askedID, askedOff)
	return nil
}

// handleSYNC answers the pre-PSYNC "SYNC": always a full sync, the payload
// without a +FULLRESYNC line and always "$<len>" framed, as Redis serves
// old replicas and tools.
func (p *Primary) handleSYNC(c *server.Conn, args [][]byte) error {
	if len(args) != 1 {
		return c.WriteError(server.WrongArgs(args[0]))
	}
	conf := stateOf(c).repl
	conf.eof = false
	nc, br, err := c.Hijack()
	if err != nil {
		return err
	}
	s := newSession(p, c, nc, br, conf)
	s.legacy = true
	p.runSession(s, "?", -1)
	return nil
}

func (p *Primary) runSession(s *session, askedID string, askedOff int64) {
	defer s.nc.Close()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.sessWG.Add(1) // under p.mu, so Close's Wait never races an Add
	p.mu.Unlock()
	defer p.sessWG.Done()
	s.f = p.followers.Add(s.id) // closes a previous session of this follower
	s.sess = s.f.Session()
	if !p.register(s) {
		_ = s.f.Close("primary closing")
		return
	}
	defer p.unregister(s)
	p.log.Info("replication session started", "follower", s.id, "remote", s.remote,
		"session", uint64(s.sess), "psync_replid", askedID, "psync_offset", askedOff)

	sent := make(chan error, 1)
	go func() {
		err := s.send(askedID, askedOff)
		s.close(endReason("sending", err))
		sent <- err
	}()
	err := s.readAcks()
	s.close(endReason("reading", err))
	<-sent
	// The connection is gone: the follower machine goes to Removed (a no-op
	// when a timeout or a newer session already put it there).
	_ = s.f.Close(s.reason)
	p.log.Info("replication session ended", "follower", s.id, "session", uint64(s.sess),
		"reason", s.reason, "sent_offset", s.sent.Load())
}

func endReason(side string, err error) string {
	switch {
	case err == nil, errors.Is(err, errSessionClosed):
		return "session closed"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by follower"
	}
	return side + ": " + err.Error()
}

func (p *Primary) register(s *session) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.sessions[s.sess] = s
	return true
}

func (p *Primary) unregister(s *session) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sessions[s.sess] == s {
		delete(p.sessions, s.sess)
	}
}

// followerDriver carries out the follower machines' effects: it closes the
// connection of a follower its machine removed (an ack or sync timeout, or
// a newer session of the same follower). It runs outside the follower's
// lock.
type followerDriver struct{ p *Primary }

func (d followerDriver) Close(_ string, sess follower.Session, reason string) {
	d.p.mu.Lock()
	s := d.p.sessions[sess]
	d.p.mu.Unlock()
	if s != nil {
		s.close("follower removed: " + reason)
	}
}

// readAcks reads what the follower sends after PSYNC until the connection
// fails. Only "REPLCONF ACK <offset> [FACK <offset>]" means anything; it is
// never answered.
func (s *session) readAcks() error {
	rd := resp.NewReaderLimits(s.br, s.p.cfg.Limits)
	for {
		args, _, err := rd.ReadCommand()
		if err != nil {
			return err
		}
		if len(args) < 3 || !bytes.EqualFold(args[0], []byte("REPLCONF")) || !bytes.EqualFold(args[1], []byte("ACK")) {
			continue
		}
		off, err := strconv.ParseInt(string(args[2]), 10, 64)
		if err != nil {
			s.p.log.Debug("malformed REPLCONF ACK ignored", "follower", s.id, "arg", string(args[2]))
			continue
		}
		s.p.ack(s, off)
	}
}

// ack hands an acknowledged offset to the follower machine under the
// session it came from. An ack from a session that is no longer the
// follower's live one changes nothing: it is dropped and counted.
func (p *Primary) ack(s *session, off int64) {
	f, ok := p.followers.Get(s.id)
	if !ok {
		p.stats.staleAcks.Add(1)
		return
	}
	if err := f.Ack(s.sess, off); err != nil {
		if errors.Is(err, follower.ErrStaleSession) {
			p.stats.staleAcks.Add(1)
			p.log.Debug("stale ack dropped", "follower", s.id, "err", err)
			return
		}
		p.log.Warn("ack not applied", "follower", s.id, "err", err)
		return
	}
	s.ackOnce.Do(func() { close(s.firstAck) })
}

// send writes the answer to PSYNC and then the stream, until the stream
// fails or the session closes.
func (s *session) send(askedID string, askedOff int64) error {
	p := s.p
	p.mu.Lock()
	id, epoch := p.replID, p.epoch
	plan := planPSYNC2(history{id: id, id2: p.replID2, offset2: p.offset2}, p.bl, askedID, askedOff)
	p.mu.Unlock()

	if plan.resume {
		if err := s.f.Continue(plan.reason); err != nil {
			return err
		}
		p.stats.partialSyncs.Add(1)
		p.stats.resumedBytes.Add(uint64(plan.owed))
		line := "+CONTINUE\r\n"
		if s.conf.psync2 {
			line = "+CONTINUE " + id + "\r\n"
		}
		if _, err := io.WriteString(s.nc, line); err != nil {
			return err
		}
		s.phase.Store(int32(phaseOnline))
		return s.stream(plan.pos, epoch)
	}

	if err := s.f.FullSyncRequested(plan.reason); err != nil {
		return err
	}
	p.stats.fullSyncs.Add(1)
	if askedID != "?" {
		p.stats.partialErr.Add(1)
	}
	p.log.Info("full resync", "follower", s.id, "reason", plan.reason)
	s.full.Store(true)
	snap, err := s.awaitSnapshot(epoch)
	if err != nil {
		return err
	}
	if !s.legacy {
		if _, err := fmt.Fprintf(s.nc, "+FULLRESYNC %s %d\r\n", snap.replID, snap.offset); err != nil {
			return err
		}
	}
	s.sent.Store(snap.offset)
	s.phase.Store(int32(phaseSendBulk))
	eof := p.cfg.DisklessEOF && s.conf.eof
	if err := writeSnapshot(progressWriter{w: s.nc, f: s.f}, snap.rdb, eof); err != nil {
		return err
	}
	if eof {
		// Redis holds the stream after a diskless transfer until the
		// replica's first ACK says it has loaded the snapshot.
		s.phase.Store(int32(phaseWaitAck))
		select {
		case <-s.firstAck:
		case <-s.done:
			return errSessionClosed
		}
	}
	s.phase.Store(int32(phaseOnline))
	return s.stream(snap.offset, snap.epoch)
}

// streamChunk bounds one write of stream bytes to a follower.
const streamChunk = 64 << 10

// stream sends the replication stream from position pos of history epoch
// as it grows, until the session closes, the history is forgotten, or the
// follower falls out of the backlog.
func (s *session) stream(pos int64, epoch uint64) error {
	p := s.p
	s.sent.Store(pos)
	buf := make([]byte, 0, streamChunk)
	for {
		p.mu.Lock()
		if p.epoch != epoch {
			p.mu.Unlock()
			return errHistoryForgotten
		}
		var err error
		buf, err = p.bl.readAt(buf[:0], pos, streamChunk)
		wake := p.wake
		p.mu.Unlock()
		if err != nil {
			p.stats.fellBehind.Add(1)
			return fmt.Errorf("follower fell behind the backlog: %w", err)
		}
		if len(buf) > 0 {
			if _, err := s.nc.Write(buf); err != nil {
				return err
			}
			pos += int64(len(buf))
			s.sent.Store(pos)
			continue
		}
		select {
		case <-wake:
		case <-s.done:
			return errSessionClosed
		}
	}
}

// progressWriter tells the follower machine that a snapshot transfer moves,
// a chunk at a time: its sync timeout is an idle limit, so a long transfer
// that keeps going is never cut.
type progressWriter struct {
	w io.Writer
	f *follower.Follower
}

func (pw progressWriter) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		c := b[:min(len(b), streamChunk)]
		m, err := pw.w.Write(c)
		n += m
		if err != nil {
			return n, err
		}
		pw.f.Progress()
		b = b[m:]
	}
	return n, nil
}
