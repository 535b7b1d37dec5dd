package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/redis/resp"
)

// Handler serves one request. args holds the command name and its
// arguments (at least one element; the slices are the Handler's to keep).
// The Handler writes its reply on c; returning an error closes the
// connection after the replies written so far are flushed.
type Handler func(c *Conn, args [][]byte) error

// Options configure ListenOptions. The zero value is usable.
type Options struct {
	// Logger receives connection-level events (protocol errors at Info,
	// accept failures at Warn, recovered Handler panics at Error). Nil
	// discards them.
	Logger *slog.Logger
	// Limits bound what a client may send; zero fields take
	// resp.DefaultLimits.
	Limits resp.Limits
	// Clock spaces retries after a failed Accept; nil means clock.New().
	Clock clock.Clock
}

// Server is a running RESP server. Its methods are safe for concurrent use.
type Server struct {
	ln  net.Listener
	h   Handler
	log *slog.Logger
	lim resp.Limits
	clk clock.Clock

	done chan struct{} // closed by Close

	mu     sync.Mutex
	conns  map[*Conn]struct{} // every connection whose goroutine is running
	nextID uint64
	closed bool

	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Listen binds addr (for example "127.0.0.1:0") and serves every
// connection with h. log may be nil.
func Listen(addr string, h Handler, log *slog.Logger) (*Server, error) {
	return ListenOptions(addr, h, Options{Logger: log})
}

// ListenOptions is Listen with limits and a clock.
func ListenOptions(addr string, h Handler, opts Options) (*Server, error) {
	if h == nil {
		return nil, ErrNilHandler
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("server: listen %s: %w", addr, err)
	}
	s := &Server{
		ln:    ln,
		h:     h,
		log:   opts.Logger,
		lim:   opts.Limits,
		clk:   opts.Clock,
		done:  make(chan struct{}),
		conns: map[*Conn]struct{}{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clk == nil {
		s.clk = clock.New()
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Addr is the address the server listens on, "ip:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops accepting, closes every connection (hijacked ones whose
// Handler is still running included) and waits for every goroutine the
// server started. It is safe to call more than once; it returns the
// listener's close error from the first call, or nil.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		conns := make([]*Conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		close(s.done)
		err = s.ln.Close()
		for _, c := range conns {
			_ = c.nc.Close()
		}
	})
	s.wg.Wait()
	return err
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	var delay time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off as net/http
			// does, from 5 ms up to 1 s, instead of spinning.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed; retrying", "addr", s.Addr(), "err", err, "retry_in", delay)
			t := s.clk.Timer(delay)
			select {
			case <-t.C:
			case <-s.done:
				t.Stop()
				return
			}
			continue
		}
		delay = 0
		c, ok := s.track(nc)
		if !ok {
			_ = nc.Close()
			return
		}
		go s.serve(c)
	}
}

// track registers a new connection, or refuses it when the server is
// closing (Close may already have taken its list of connections).
func (s *Server) track(nc net.Conn) (*Conn, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	s.nextID++
	c := newConn(s, s.nextID, nc)
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return c, true
}

// Kill closes every connection for which match returns true, except skip
// (the connection asking, as CLIENT KILL's SKIPME yes), and returns how
// many it closed. match runs under the server's lock and must only read
// what is safe from any goroutine (Hijacked, Name, ID, Remote, the
// Handler's own synchronised state).
func (s *Server) Kill(match func(*Conn) bool, skip *Conn) int {
	s.mu.Lock()
	var victims []*Conn
	for c := range s.conns {
		// A connection already killed is on its way out: not counted twice.
		if c != skip && !c.killed.Load() && match(c) {
			victims = append(victims, c)
		}
	}
	s.mu.Unlock()
	for _, c := range victims {
		c.Kill()
	}
	return len(victims)
}

func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) serve(c *Conn) {
	defer s.wg.Done()
	// The Handler's OnClose functions run last, once the server no longer
	// lists the connection (CLIENT KILL never sees it half gone).
	defer c.runOnClose()
	defer s.forget(c)
	defer func() {
		if !c.hijacked.Load() {
			_ = c.nc.Close()
		}
	}()
	defer func() {
		// A bug in one Handler must not take the process down with it:
		// log it loudly and drop only this connection.
		if r := recover(); r != nil {
			s.log.Error("handler panic; connection closed", "remote", c.remote, "panic", r, "stack", string(debug.Stack()))
		}
	}()

	rd := resp.NewReaderLimits(c.br, s.lim)
	for {
		args, _, err := rd.ReadCommand()
		if err != nil {
			c.wmu.Lock()
			s.readFailed(c, err)
			c.wmu.Unlock()
			return
		}
		if bytes.EqualFold(args[0], []byte("QUIT")) {
			c.wmu.Lock()
			_ = c.WriteOK()
			_ = c.bw.Flush()
			c.wmu.Unlock()
			return
		}
		c.wmu.Lock()
		herr := s.h(c, args)
		if c.hijacked.Load() {
			return // Hijack released the writers' lock
		}
		if herr != nil {
			_ = c.bw.Flush()
			c.wmu.Unlock()
			s.log.Debug("handler closed connection", "remote", c.remote, "err", herr)
			return
		}
		// Flush once the pipeline is drained: N pipelined requests, one
		// write.
		var ferr error
		if c.br.Buffered() == 0 {
			ferr = c.bw.Flush()
		}
		c.wmu.Unlock()
		if ferr != nil {
			s.log.Debug("write failed", "remote", c.remote, "err", ferr)
			return
		}
	}
}

// readFailed answers malformed input the way Redis does and logs the rest.
func (s *Server) readFailed(c *Conn, err error) {
	switch {
	case errors.Is(err, resp.ErrProtocol):
		msg := strings.TrimPrefix(err.Error(), resp.ErrProtocol.Error()+": ")
		s.log.Info("protocol error; connection closed", "remote", c.remote, "err", msg)
		_ = c.WriteError("ERR Protocol error: " + msg)
		_ = c.bw.Flush()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		_ = c.bw.Flush()
	default:
		s.log.Debug("read failed", "remote", c.remote, "err", err)
	}
}
