// Package resptest runs a real redis-server for tests and talks to it with
// the resp package.
//
//	srv := resptest.Start(t, resptest.Options{})
//	c := srv.Dial(t)
//	v, err := c.Do("SET", "k", "v")
//
// Servers listen on 127.0.0.1 only, on a free port, with persistence off
// unless Options ask for a dump file; they are stopped in t.Cleanup (SIGTERM,
// then SIGKILL after a grace period). When redis-server is not installed the
// test fails and says how to install it: a missing dependency is never a
// silently skipped test.
//
// This is test support only. It drives real processes over real sockets, so
// unlike the library packages it uses wall-clock time (readiness polling,
// shutdown grace period, I/O deadlines).
package resptest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/replsm/replsm/redis/resp"
)

// Options configure Start.
type Options struct {
	// Dir is the server's working directory (--dir); a temporary directory
	// when empty.
	Dir string
	// DBFilename is the dump file name (--dbfilename) inside Dir; a server
	// started on an existing file loads it.
	DBFilename string
	// Args are extra command-line arguments, e.g. "--repl-timeout", "5".
	Args []string
}

// Server is a running redis-server.
type Server struct {
	Addr    string
	Port    int
	Dir     string
	LogFile string
	cmd     *exec.Cmd
	done    chan struct{}
}

// Binary returns the path of a command-line tool from the Redis
// distribution (redis-server, redis-cli, redis-check-rdb), or fails the
// test with the command that installs it.
func Binary(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not installed (apt-get install -y redis-server redis-tools, or make deps): %v", name, err)
	}
	return path
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs redis-server and waits until it answers PING.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := Binary(t, "redis-server")
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.DBFilename == "" {
		opts.DBFilename = "dump.rdb"
	}
	// A port can be taken between FreePort and the server's bind; retry.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := FreePort(t)
		s := &Server{
			Addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			Port:    port,
			Dir:     opts.Dir,
			LogFile: filepath.Join(opts.Dir, fmt.Sprintf("redis-%d.log", port)),
			done:    make(chan struct{}),
		}
		args := []string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--daemonize", "no",
			"--dir", opts.Dir, "--dbfilename", opts.DBFilename,
			"--logfile", s.LogFile, "--shutdown-timeout", "0",
		}
		s.cmd = exec.Command(bin, append(args, opts.Args...)...)
		if err := s.cmd.Start(); err != nil {
			t.Fatalf("starting redis-server: %v", err)
		}
		go func() { _ = s.cmd.Wait(); close(s.done) }()
		t.Cleanup(s.stop)
		if lastErr = s.waitReady(10 * time.Second); lastErr == nil {
			return s
		}
		s.stop()
	}
	t.Fatalf("redis-server did not become ready: %v", lastErr)
	return nil
}

func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-s.done:
			log, _ := os.ReadFile(s.LogFile)
			return fmt.Errorf("redis-server exited; log:\n%s", log)
		default:
		}
		c, err := Dial(s.Addr)
		if err == nil {
			v, err := c.Do("PING")
			c.Close()
			if err == nil && v.Text() == "PONG" {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PONG from %s within %v (last error: %v)", s.Addr, timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *Server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(3 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
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
