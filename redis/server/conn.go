package server

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/replsm/replsm/redis/resp"
)

// Conn is one client connection as a Handler sees it. A Conn is used only
// by its own connection goroutine, so its fields need no locking; the
// exception is that Server.Close may close the underlying net.Conn at any
// time, which makes pending and later I/O fail.
type Conn struct {
	// DB is the selected database. It starts at 0; a Handler sets it on
	// SELECT. The server itself never reads it.
	DB int
	// Data holds the Handler's own per-connection state (for example what a
	// replica said in REPLCONF before PSYNC). The server never touches it.
	Data any

	id     uint64
	srv    *Server
	nc     net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	w      *resp.Writer
	remote string

	// wmu serialises the connection's writers: the connection goroutine
	// holds it while a Handler runs and while it flushes; Push takes it
	// between requests.
	wmu      sync.Mutex
	hijacked atomic.Bool
	killed   atomic.Bool
	name     atomic.Pointer[string] // CLIENT SETNAME
	onClose  []func()               // run by the connection goroutine when it exits
}

func newConn(s *Server, id uint64, nc net.Conn) *Conn {
	c := &Conn{id: id, srv: s, nc: nc, remote: nc.RemoteAddr().String()}
	c.br = bufio.NewReaderSize(nc, 16<<10)
	c.bw = bufio.NewWriterSize(nc, 16<<10)
	c.w = resp.NewWriter(guard{c})
	return c
}

// guard sends a resp.Writer's bytes to the buffered writer until the
// connection is hijacked.
type guard struct{ c *Conn }

func (g guard) Write(p []byte) (int, error) {
	if g.c.hijacked.Load() {
		return 0, ErrHijacked
	}
	return g.c.bw.Write(p)
}

// ID is the connection's number, unique within its Server, from 1.
func (c *Conn) ID() uint64 { return c.id }

// Remote is the peer's address, "ip:port".
func (c *Conn) Remote() string { return c.remote }

// Writer returns the buffered RESP writer for replies. Writes fail with
// ErrHijacked after Hijack.
func (c *Conn) Writer() *resp.Writer { return c.w }

// WriteValue writes v as the reply (or part of it).
func (c *Conn) WriteValue(v resp.Value) error { return c.w.WriteValue(v) }

// WriteOK writes "+OK".
func (c *Conn) WriteOK() error { return c.w.WriteSimpleString("OK") }

// WriteSimpleString writes "+s".
func (c *Conn) WriteSimpleString(s string) error { return c.w.WriteSimpleString(s) }

// WriteError writes "-msg". By Redis convention msg starts with an
// upper-case code: "ERR ...", "WRONGTYPE ...".
func (c *Conn) WriteError(msg string) error { return c.w.WriteError(msg) }

// WriteErrorf writes "-" followed by the formatted message.
func (c *Conn) WriteErrorf(format string, args ...any) error {
	return c.w.WriteError(fmt.Sprintf(format, args...))
}

// WriteInteger writes ":n".
func (c *Conn) WriteInteger(n int64) error { return c.w.WriteInteger(n) }

// WriteBulk writes b as a bulk string.
func (c *Conn) WriteBulk(b []byte) error { return c.w.WriteBulk(b) }

// WriteBulkString writes s as a bulk string.
func (c *Conn) WriteBulkString(s string) error { return c.w.WriteBulkString(s) }

// WriteNull writes the null bulk string, Redis's nil reply.
func (c *Conn) WriteNull() error { return c.w.WriteNull() }

// WriteArrayHeader writes "*n"; the caller writes the n elements.
func (c *Conn) WriteArrayHeader(n int) error { return c.w.WriteArrayHeader(n) }

// WriteUnknownCommand writes Redis 7's reply to a command it does not know:
// "-ERR unknown command '<name>', with args beginning with: '<a1>' ...".
func (c *Conn) WriteUnknownCommand(args [][]byte) error {
	return c.w.WriteError(UnknownCommand(args))
}

// UnknownCommand is the message of Redis 7's unknown-command error for args,
// without the leading '-'. Like Redis it quotes at most 128 bytes of the
// name, and of the arguments 128 bytes in all.
func UnknownCommand(args [][]byte) string {
	name := ""
	if len(args) > 0 {
		name = clip(args[0], 128)
	}
	var quoted strings.Builder
	for i := 1; i < len(args) && quoted.Len() < 128; i++ {
		fmt.Fprintf(&quoted, "'%s' ", clip(args[i], 128-quoted.Len()))
	}
	return fmt.Sprintf("ERR unknown command '%s', with args beginning with: %s", name, quoted.String())
}

func clip(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// WrongArgs is Redis's "wrong number of arguments for '<cmd>' command"
// message for the command name (lower-cased as Redis does).
func WrongArgs(name []byte) string {
	return fmt.Sprintf("ERR wrong number of arguments for '%s' command", strings.ToLower(clip(name, 128)))
}

// Flush sends every buffered reply now. The server flushes on its own when
// no pipelined request is waiting; a Handler flushes only to push a partial
// reply out early.
func (c *Conn) Flush() error {
	if c.hijacked.Load() {
		return ErrHijacked
	}
	return c.bw.Flush()
}

// Hijack flushes buffered replies and hands the connection over: the caller
// now owns nc and br (br may already hold bytes the client pipelined after
// the current request) and must close nc when done. After the Handler
// returns, the server neither reads from nor closes the connection; while
// the Handler is still running, Server.Close still closes nc so that a
// session running inside the Handler ends. Hijack fails with ErrHijacked if
// called twice and with the flush's error if the buffered replies cannot be
// sent.
func (c *Conn) Hijack() (net.Conn, *bufio.Reader, error) {
	if c.hijacked.Load() {
		return nil, nil, ErrHijacked
	}
	if err := c.bw.Flush(); err != nil {
		return nil, nil, err
	}
	c.hijacked.Store(true)
	// The Handler runs on under the writers' lock the server took for it;
	// release it, so that a Push to this connection fails instead of
	// waiting for the session to end.
	c.wmu.Unlock()
	return c.nc, c.br, nil
}

// Hijacked reports whether the connection has been hijacked. Safe from any
// goroutine.
func (c *Conn) Hijacked() bool { return c.hijacked.Load() }

// Push writes an out-of-band reply (a pub/sub message) from another
// goroutine: write is called with the connection's writer between two
// requests, never inside a reply, and what it wrote is flushed. Push waits
// while a Handler runs on the connection; it fails with ErrHijacked after
// Hijack, and with the write's error once the connection is closed.
func (c *Conn) Push(write func(w *resp.Writer) error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.hijacked.Load() {
		return ErrHijacked
	}
	if err := write(c.w); err != nil {
		return err
	}
	return c.bw.Flush()
}

// OnClose registers fn to run when the connection ends (on its own
// goroutine, after the last request). A Handler calls it; fn must not block
// for long.
func (c *Conn) OnClose(fn func()) { c.onClose = append(c.onClose, fn) }

func (c *Conn) runOnClose() {
	for _, fn := range c.onClose {
		fn()
	}
}

// Name is the name given with CLIENT SETNAME ("" when none). Safe from any
// goroutine.
func (c *Conn) Name() string {
	if p := c.name.Load(); p != nil {
		return *p
	}
	return ""
}

// SetName sets the connection's name (CLIENT SETNAME).
func (c *Conn) SetName(name string) { c.name.Store(&name) }

// Kill closes the network connection now, as CLIENT KILL does: pending and
// later I/O fail and the connection goroutine ends. Safe from any
// goroutine.
func (c *Conn) Kill() {
	c.killed.Store(true)
	_ = c.nc.Close()
}
