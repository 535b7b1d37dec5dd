// Package resptest runs a real redis-server for tests and talks to it with
// the resp package.
//
//	srv := resptest.Start(t, resptest.Options{})
//	c := srv.Dial(t)
//	v, err := c.Do("SET", "k", "v")
//
// The servers are internal/redisproc's: they listen on 127.0.0.1 only, on a
// free port, with persistence off unless Options ask for a dump file, each in
// its own process group; they are stopped in t.Cleanup (SIGTERM, then
// SIGKILL after a grace period), which logs the tail of the server's log when
// the test failed. When redis-server is not installed the test fails and
// says how to install it: a missing dependency is never a silently skipped
// test.
//
// This is test support only. It drives real processes over real sockets, so
// unlike the library packages it uses wall-clock time (readiness polling,
// shutdown grace period, I/O deadlines).
package resptest

import (
	"bufio"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/replsm/replsm/internal/redisproc"
	"github.com/replsm/replsm/redis/resp"
)

// Options configure Start.
type Options struct {
	// Dir is the server's working directory (--dir); a temporary directory
	// when empty. Several servers may share one: their log files are named
	// after their ports.
	Dir string
	// DBFilename is the dump file name (--dbfilename) inside Dir;
	// "dump.rdb" when empty. A server started on an existing file loads it.
	DBFilename string
	// Args are extra command-line arguments, e.g. "--repl-timeout", "5".
	Args []string
}

// Server is a running redis-server.
type Server struct {
	// Addr is "127.0.0.1:<Port>".
	Addr string
	// Port is the TCP port the server listens on.
	Port int
	// Dir is the server's working directory, where its dump file goes.
	Dir string
	// LogFile is the server's log file, inside Dir.
	LogFile string
}

// Binary returns the path of a command-line tool from the Redis
// distribution (redis-server, redis-cli, redis-check-rdb), or fails the
// test with the command that installs it; it never skips.
func Binary(t testing.TB, name string) string {
	t.Helper()
	path, err := redisproc.LookPath(name)
	if err != nil {
		t.Fatalf("resptest: %v (or: make deps)", err)
	}
	return path
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := redisproc.FreePort()
	if err != nil {
		t.Fatalf("resptest: %v", err)
	}
	return port
}

// Start runs redis-server and waits until it answers PING. It fails the
// test when the server does not come up, with the tail of its log.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := Binary(t, "redis-server")
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.DBFilename == "" {
		opts.DBFilename = "dump.rdb"
	}
	proc, err := redisproc.Start(context.Background(), redisproc.Options{
		Binary:     bin,
		Dir:        opts.Dir,
		DBFilename: opts.DBFilename,
		Args:       opts.Args,
	})
	if err != nil {
		t.Fatalf("resptest.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := proc.Close(); err != nil {
			t.Errorf("resptest: %v", err)
		}
		if t.Failed() {
			t.Logf("resptest: redis-server on %s, log tail:\n%s", proc.Addr(), proc.LogTail())
		}
	})
	return &Server{Addr: proc.Addr(), Port: proc.Port(), Dir: proc.Dir(), LogFile: proc.LogPath()}
}

// Dial connects to the server, failing the test on error; the connection is
// closed in t.Cleanup.
func (s *Server) Dial(t testing.TB) *Client {
	t.Helper()
	c, err := Dial(s.Addr)
	if err != nil {
		t.Fatalf("dialing %s: %v", s.Addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Client is a minimal synchronous RESP client.
type Client struct {
	conn net.Conn
	r    *resp.Reader
	w    *bufio.Writer
}

// Dial connects to addr.
func Dial(addr string) (*Client, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	return &Client{conn: conn, r: resp.NewReader(bufio.NewReader(conn)), w: bufio.NewWriter(conn)}, nil
}

// Do sends one command and returns its reply. A Redis error reply is
// returned as a KindError value, not as an error.
func (c *Client) Do(args ...string) (resp.Value, error) {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	return c.DoBytes(b...)
}

// DoBytes is Do with byte-slice arguments.
func (c *Client) DoBytes(args ...[]byte) (resp.Value, error) {
	if err := c.conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return resp.Value{}, err
	}
	if _, err := c.w.Write(resp.AppendCommand(nil, args...)); err != nil {
		return resp.Value{}, err
	}
	if err := c.w.Flush(); err != nil {
		return resp.Value{}, err
	}
	for {
		v, _, err := c.r.ReadValue()
		if err != nil {
			return resp.Value{}, err
		}
		if v.Kind != resp.KindKeepalive {
			return v, nil
		}
	}
}

// MustDo is Do that fails the test on a transport error or an error reply.
func (c *Client) MustDo(t testing.TB, args ...string) resp.Value {
	t.Helper()
	v, err := c.Do(args...)
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	if v.Kind == resp.KindError {
		t.Fatalf("%q: %s", args, v.Text())
	}
	return v
}

// Close closes the connection.
func (c *Client) Close() error {
	err := c.conn.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
