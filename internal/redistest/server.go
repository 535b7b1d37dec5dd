package redistest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// DefaultStartTimeout bounds how long [Start] and [Server.Restart] wait
	// for a new redis-server to answer PING.
	DefaultStartTimeout = 10 * time.Second

	// StopGrace is how long the cleanup waits after SIGTERM before it sends
	// SIGKILL.
	StopGrace = 3 * time.Second

	// logTailLines is how many log lines [Server.LogTail] returns.
	logTailLines = 40

	// startAttempts is how often Start retries on a free port that another
	// process took between picking and binding it.
	startAttempts = 3
)

// Options configure [Start]. The zero value starts a plain primary.
type Options struct {
	// Args are extra redis-server arguments appended after the fixed ones,
	// e.g. "--replicaof", "127.0.0.1", "6380", "--repl-timeout", "5",
	// "--repl-backlog-size", "1mb". A later argument overrides an earlier one.
	Args []string

	// Binary is the redis-server executable; empty means "redis-server"
	// looked up on PATH.
	Binary string

	// Port to listen on; 0 picks a free loopback port.
	Port int

	// StartTimeout bounds the wait for the first PONG; 0 means
	// [DefaultStartTimeout].
	StartTimeout time.Duration

	// Name labels the server in test logs; empty means "redis".
	Name string
}

// Server is one real redis-server process listening on 127.0.0.1, owned by
// one test. Its methods are meant to be called from the test's goroutine;
// they fail the test (t.Fatalf) when the process cannot be controlled.
type Server struct {
	t       testing.TB
	opts    Options
	binary  string
	port    int
	dir     string
	logPath string
	args    []string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the current process has exited
	waitErr error         // the current process's exit status, after done
	clients []*redis.Client
}

// Start launches a real redis-server for the test t and returns it once it
// answers PING. The fixed arguments are
//
//	--port <port> --bind 127.0.0.1 --save '' --appendonly no --daemonize no
//	--dir <t.TempDir()> --logfile <dir>/redis.log
//	--repl-diskless-sync-delay 0 --shutdown-timeout 0
//
// followed by opts.Args. The process lives in its own process group; the
// test's cleanup sends SIGCONT and SIGTERM to it, then SIGKILL after
// [StopGrace], and logs the tail of its log if the test failed.
//
// If the binary is not on PATH, Start fails the test with a message that says
// to run "apt-get install -y redis-server redis-tools"; it never skips.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	binary, err := lookupBinary(opts.Binary, "redis-server")
	if err != nil {
		t.Fatalf("redistest.Start: %v", err)
	}
	if opts.Name == "" {
		opts.Name = "redis"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	dir := t.TempDir()
	s := &Server{
		t:       t,
		opts:    opts,
		binary:  binary,
		dir:     dir,
		logPath: filepath.Join(dir, "redis.log"),
	}
	t.Cleanup(s.cleanup)

	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		port := opts.Port
		if port == 0 {
			if port, err = FreePort(); err != nil {
				t.Fatalf("redistest.Start: %v", err)
			}
		}
		s.port = port
		s.args = s.buildArgs()
		lastErr = s.spawn()
		if lastErr == nil {
			return s
		}
		if opts.Port != 0 || !strings.Contains(s.LogTail(), "Address already in use") {
			break
		}
	}
	t.Fatalf("redistest.Start %s: %v\nlog tail:\n%s", opts.Name, lastErr, s.LogTail())
	return nil
}

// lookupBinary resolves name (or fallback when name is empty) to a path, or
// returns an error wrapping ErrBinaryNotFound.
func lookupBinary(name, fallback string) (string, error) {
	if name == "" {
		name = fallback
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBinaryNotFound, name, err)
	}
	return path, nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	return port, nil
}

func (s *Server) buildArgs() []string {
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", s.dir,
		"--logfile", s.logPath,
		"--repl-diskless-sync-delay", "0",
		"--shutdown-timeout", "0",
	}
	return append(args, s.opts.Args...)
}

// spawn starts a fresh process with s.args and waits for its PONG.
func (s *Server) spawn() error {
	stdio, err := os.OpenFile(filepath.Join(s.dir, "stdio.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open stdio log: %w", err)
	}
	defer stdio.Close() // the child keeps its own descriptor

	cmd := exec.Command(s.binary, s.args...)
	cmd.Dir = s.dir
	cmd.Stdout = stdio
	cmd.Stderr = stdio
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.binary, err)
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.cmd = cmd
	s.done = done
	s.waitErr = nil
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.waitErr = err
		s.mu.Unlock()
		close(done)
	}()

	deadline := time.NewTimer(s.opts.StartTimeout)
	defer deadline.Stop()
	ticker := time.NewTicker(PollInterval)
	defer ticker.Stop()
	var last error
	for {
		if last = pingRaw(s.Addr(), time.Second); last == nil {
			return nil
		}
		select {
		case <-done:
			s.mu.Lock()
			werr := s.waitErr
			s.mu.Unlock()
			return fmt.Errorf("redis-server exited before answering PING (%v); stdio: %s", werr, s.stdioTail())
		case <-deadline.C:
			s.killAndWait()
			return fmt.Errorf("%w: no PONG within %v: %v", ErrTimeout, s.opts.StartTimeout, last)
		case <-ticker.C:
		}
	}
}

// pingRaw sends an inline-free RESP PING and expects +PONG.
func pingRaw(addr string, timeout time.Duration) error {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := io.WriteString(conn, "*1\r\n$4\r\nPING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line = strings.TrimRight(line, "\r\n"); line != "+PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// Addr returns "127.0.0.1:<port>".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port returns the TCP port the server listens on; it stays the same across
// [Server.Restart].
func (s *Server) Port() int { return s.port }

// Dir returns the server's working directory (a t.TempDir()).
func (s *Server) Dir() string { return s.dir }

// LogPath returns the path of the server's log file.
func (s *Server) LogPath() string { return s.logPath }

// PID returns the current process id, or 0 when no process is running.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil || s.exitedLocked() {
		return 0
	}
	return s.cmd.Process.Pid
}

// Running reports whether the current process has not exited.
func (s *Server) Running() bool { return s.PID() != 0 }

func (s *Server) exitedLocked() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// ReplicaOfArgs returns the arguments that make a server replicate from the
// primary at 127.0.0.1:port: "--replicaof", "127.0.0.1", "<port>".
func ReplicaOfArgs(port int) []string {
	return []string{"--replicaof", "127.0.0.1", strconv.Itoa(port)}
}

// Kill sends SIGKILL to the server's process group and waits for the process
// to exit. Killing a server that is not running does nothing.
func (s *Server) Kill() {
	s.t.Helper()
	if !s.killAndWait() {
		s.t.Fatalf("redistest: %s did not exit after SIGKILL", s.opts.Name)
	}
}

// killAndWait SIGKILLs the group and waits (bounded) for the exit.
func (s *Server) killAndWait() bool {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return true
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-done:
		return true
	case <-time.After(10 * time.Second):
		return false
	}
}

// Stop freezes the server with SIGSTOP: its sockets stay open but it reads,
// writes and times out nothing until [Server.Cont].
func (s *Server) Stop() {
	s.t.Helper()
	s.signal(syscall.SIGSTOP)
}

// Cont resumes a server frozen by [Server.Stop] with SIGCONT.
func (s *Server) Cont() {
	s.t.Helper()
	s.signal(syscall.SIGCONT)
}

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	cmd := s.cmd
	exited := s.exitedLocked()
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil || exited {
		s.t.Fatalf("redistest: %s is not running; cannot send %v", s.opts.Name, sig)
		return
	}
	if err := syscall.Kill(-cmd.Process.Pid, sig); err != nil {
		s.t.Fatalf("redistest: send %v to %s: %v", sig, s.opts.Name, err)
	}
}

// Restart kills the current process if it still runs (SIGKILL) and starts a
// fresh one with the same port, directory and arguments, returning once it
// answers PING. With no persistence the new process starts empty, with a new
// replication id.
func (s *Server) Restart() {
	s.t.Helper()
	if !s.killAndWait() {
		s.t.Fatalf("redistest: %s did not exit after SIGKILL", s.opts.Name)
	}
	if err := s.spawn(); err != nil {
		s.t.Fatalf("redistest: restart %s: %v\nlog tail:\n%s", s.opts.Name, err, s.LogTail())
	}
}

// Client returns a new go-redis client for database 0 of this server, built
// by [NewClient]. It is closed at the test's cleanup.
func (s *Server) Client() *redis.Client {
	return s.ClientDB(0)
}

// ClientDB is [Server.Client] for database db.
func (s *Server) ClientDB(db int) *redis.Client {
	c := NewClient(s.Addr(), db)
	s.mu.Lock()
	s.clients = append(s.clients, c)
	s.mu.Unlock()
	return c
}

// LogTail returns the last lines of the server's log file (and of its
// stdout/stderr if the log is empty), for failure messages.
func (s *Server) LogTail() string {
	tail := fileTail(s.logPath, logTailLines)
	if tail == "" {
		tail = s.stdioTail()
	}
	return tail
}

func (s *Server) stdioTail() string {
	return fileTail(filepath.Join(s.dir, "stdio.log"), logTailLines)
}

// fileTail returns the last n lines of path, or "" if it cannot be read.
func fileTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// cleanup closes the clients and stops the process: SIGCONT (in case it was
// frozen), SIGTERM, then SIGKILL after StopGrace.
func (s *Server) cleanup() {
	s.mu.Lock()
	clients := s.clients
	s.clients = nil
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	for _, c := range clients {
		_ = c.Close()
	}
	if cmd != nil && cmd.Process != nil {
		pgid := -cmd.Process.Pid
		_ = syscall.Kill(pgid, syscall.SIGCONT)
		_ = syscall.Kill(pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(StopGrace):
			_ = syscall.Kill(pgid, syscall.SIGKILL)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				s.t.Errorf("redistest: %s (pid %d) did not exit after SIGKILL", s.opts.Name, cmd.Process.Pid)
			}
		}
		// A child forked for a diskless sync may outlive its parent briefly.
		_ = syscall.Kill(pgid, syscall.SIGKILL)
	}
	if s.t.Failed() {
		s.t.Logf("redistest: %s on %s, log tail:\n%s", s.opts.Name, s.Addr(), s.LogTail())
	}
}
