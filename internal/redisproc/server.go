package redisproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/benbjohnson/clock"
)

const (
	// DefaultStartTimeout bounds how long [Start] and [Server.Restart] wait
	// for a new redis-server to answer PING when Options.StartTimeout is 0.
	DefaultStartTimeout = 10 * time.Second

	// DefaultStopGrace is how long [Server.Close] waits after SIGTERM before
	// it sends SIGKILL when Options.StopGrace is 0.
	DefaultStopGrace = 3 * time.Second

	// KillWait bounds the wait for a process to exit after SIGKILL.
	KillWait = 10 * time.Second

	// LogTailLines is how many lines [Server.LogTail] returns.
	LogTailLines = 40

	// startAttempts is how often Start tries a new free port when another
	// process took the one picked before redis-server bound it.
	startAttempts = 3

	// stdioTailLines is how much of stdout/stderr an ErrExited carries.
	stdioTailLines = 10

	// pingTimeout bounds one readiness PING.
	pingTimeout = time.Second

	// addrInUse is what redis-server logs when its port is taken.
	addrInUse = "Address already in use"
)

// Options configure [Start]. Dir is required; the zero value of every other
// field starts a plain primary.
type Options struct {
	// Dir is the server's working directory (--dir), created if missing.
	// Its log files are named after the port, so several servers may share
	// one directory (and one dump file).
	Dir string

	// DBFilename is the dump file name inside Dir (--dbfilename); empty
	// leaves redis-server's default. A server started on an existing file
	// loads it.
	DBFilename string

	// Args are extra redis-server arguments appended after the standard
	// ones, e.g. "--replicaof", "127.0.0.1", "6380", "--repl-timeout", "5".
	// A later argument overrides an earlier one.
	Args []string

	// Binary is the redis-server executable; empty means "redis-server"
	// looked up on PATH.
	Binary string

	// Port to listen on; 0 picks a free loopback port (and a new one when
	// another process takes it first).
	Port int

	// StartTimeout bounds the wait for the first PONG; 0 means
	// [DefaultStartTimeout].
	StartTimeout time.Duration

	// StopGrace is how long [Server.Close] waits after SIGTERM before
	// SIGKILL; 0 means [DefaultStopGrace].
	StopGrace time.Duration

	// Clock times every wait; nil means clock.New(). With a mock clock the
	// caller advances it while Start, Restart, Kill or Close wait.
	Clock clock.Clock

	// Name labels the server in errors; empty means "redis-server".
	Name string

	// ConfigFile, when set, is passed as redis-server's first argument
	// (before the standard ones), as sentinel mode requires; see
	// [StartSentinel].
	ConfigFile string
}

// Server is one real redis-server process listening on 127.0.0.1, in its
// own process group. Its accessors are safe for concurrent use; Kill, Stop,
// Cont, Restart and Close are meant to be called from one goroutine at a
// time. Close must be called when the server is no longer needed.
type Server struct {
	name      string
	binary    string
	port      int
	dir       string
	logPath   string
	stdioPath string
	args      []string
	clk       clock.Clock
	timeout   time.Duration
	grace     time.Duration

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the current process has exited
	waitErr error         // the current process's exit status, after done
	closed  bool
}

// Start launches redis-server and returns it once it answers PING. Its
// arguments are
//
//	--port <port> --bind 127.0.0.1 --save '' --appendonly no --daemonize no
//	--dir <Dir> --logfile <Dir>/redis-<port>.log
//	--repl-diskless-sync-delay 0 --shutdown-timeout 0
//	[--dbfilename <DBFilename>] <Args...>
//
// Its stdout and stderr go to <Dir>/redis-<port>.stdio.log. When Port is 0
// and redis-server reports its free port taken, Start tries again on a new
// one, up to three times.
//
// Errors: [ErrInvalidArgument] without Dir; [ErrBinaryNotFound] when the
// binary is missing; [ErrExited] or [ErrTimeout] (with the log tail) when
// the server does not come up; ctx's error when ctx ends first. On error
// nothing is left running.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Name == "" {
		opts.Name = "redis-server"
	}
	if opts.Dir == "" {
		return nil, fmt.Errorf("start %s: %w: no directory", opts.Name, ErrInvalidArgument)
	}
	if opts.Binary == "" {
		opts.Binary = "redis-server"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = DefaultStopGrace
	}
	if opts.Clock == nil {
		opts.Clock = clock.New()
	}
	binary, err := LookPath(opts.Binary)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", opts.Name, err)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("start %s: %w", opts.Name, err)
	}
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		port := opts.Port
		if port == 0 {
			if port, err = FreePort(); err != nil {
				return nil, fmt.Errorf("start %s: %w", opts.Name, err)
			}
		}
		s := newServer(opts, binary, port)
		if err := s.spawn(ctx); err != nil {
			lastErr = s.failure("start", err)
			if opts.Port == 0 && errors.Is(err, ErrExited) && strings.Contains(s.LogTail(), addrInUse) {
				continue
			}
			return nil, lastErr
		}
		return s, nil
	}
	return nil, lastErr
}

// newServer is a not yet started server of opts (defaults filled in) on
// port, with its file names and arguments.
func newServer(opts Options, binary string, port int) *Server {
	s := &Server{
		name:      opts.Name,
		binary:    binary,
		port:      port,
		dir:       opts.Dir,
		logPath:   filepath.Join(opts.Dir, fmt.Sprintf("redis-%d.log", port)),
		stdioPath: filepath.Join(opts.Dir, fmt.Sprintf("redis-%d.stdio.log", port)),
		clk:       opts.Clock,
		timeout:   opts.StartTimeout,
		grace:     opts.StopGrace,
	}
	if opts.ConfigFile != "" {
		s.args = append(s.args, opts.ConfigFile)
	}
	s.args = append(s.args,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", s.dir,
		"--logfile", s.logPath,
		"--repl-diskless-sync-delay", "0",
		"--shutdown-timeout", "0",
	)
	if opts.DBFilename != "" {
		s.args = append(s.args, "--dbfilename", opts.DBFilename)
	}
	s.args = append(s.args, opts.Args...)
	return s
}

// failure describes a failed start or restart with the tail of the log
// file, or of stdout and stderr when the log is empty and err does not
// carry them already (an ErrExited does).
func (s *Server) failure(what string, err error) error {
	tail := fileTail(s.logPath, LogTailLines)
	if tail == "" && !errors.Is(err, ErrExited) {
		tail = fileTail(s.stdioPath, LogTailLines)
	}
	if tail == "" {
		return fmt.Errorf("%s %s on %s: %w", what, s.name, s.Addr(), err)
	}
	return fmt.Errorf("%s %s on %s: %w\nlog tail:\n%s", what, s.name, s.Addr(), err, tail)
}

// spawn starts a fresh process with s.args and waits for its PONG. On error
// the process is gone.
func (s *Server) spawn(ctx context.Context) error {
	stdio, err := os.OpenFile(s.stdioPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open stdio log: %w", err)
	}
	defer stdio.Close() // the child keeps its own descriptor

	cmd := exec.Command(s.binary, s.args...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = stdio, stdio
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", s.binary, err)
	}
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.waitErr = err
		s.mu.Unlock()
		close(done)
	}()
	s.mu.Lock()
	closed := s.closed
	s.cmd, s.done, s.waitErr = cmd, done, nil
	s.mu.Unlock()
	if closed { // Close ran meanwhile: it saw no process
		return errors.Join(ErrClosed, s.killAndWait())
	}

	err = Poll(ctx, s.clk, s.timeout, func() error {
		select {
		case <-done:
			if out := fileTail(s.stdioPath, stdioTailLines); out != "" {
				return Permanent(fmt.Errorf("%w (%v); stdout/stderr ends:\n%s", ErrExited, s.exitErr(), out))
			}
			return Permanent(fmt.Errorf("%w (%v)", ErrExited, s.exitErr()))
		default:
		}
		return Ping(s.Addr(), pingTimeout)
	})
	if err != nil {
		return errors.Join(err, s.killAndWait())
	}
	return nil
}

func (s *Server) exitErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waitErr
}

// Name returns the label given in Options.Name.
func (s *Server) Name() string { return s.name }

// Addr returns "127.0.0.1:<port>".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port returns the TCP port the server listens on; it stays the same across
// [Server.Restart].
func (s *Server) Port() int { return s.port }

// Dir returns the server's working directory.
func (s *Server) Dir() string { return s.dir }

// LogPath returns the path of the server's log file.
func (s *Server) LogPath() string { return s.logPath }

// Args returns a copy of the arguments redis-server runs with.
func (s *Server) Args() []string { return append([]string(nil), s.args...) }

// PID returns the current process id, or 0 when no process is running.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.exitedLocked() {
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

// Kill sends SIGKILL to the server's process group and waits for the
// process to exit, at most [KillWait] ([ErrStillRunning] then). Killing a
// server that is not running does nothing.
func (s *Server) Kill() error {
	return s.killAndWait()
}

// killAndWait SIGKILLs the group and waits (bounded) for the exit.
func (s *Server) killAndWait() error {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if !s.waitExit(done, KillWait) {
		return fmt.Errorf("%s (pid %d): %w", s.name, cmd.Process.Pid, ErrStillRunning)
	}
	return nil
}

// waitExit waits up to d on s.clk for done, and reports whether it closed.
func (s *Server) waitExit(done <-chan struct{}, d time.Duration) bool {
	t := s.clk.Timer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// Stop freezes the server with SIGSTOP to its process group: its sockets
// stay open but it reads, writes and times out nothing until [Server.Cont].
// It returns [ErrNotRunning] when there is no live process.
func (s *Server) Stop() error { return s.signal(syscall.SIGSTOP) }

// Cont resumes a server frozen by [Server.Stop] with SIGCONT. It returns
// [ErrNotRunning] when there is no live process.
func (s *Server) Cont() error { return s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	cmd := s.cmd
	exited := cmd == nil || s.exitedLocked()
	s.mu.Unlock()
	if exited {
		return fmt.Errorf("%s: %w; cannot send %v", s.name, ErrNotRunning, sig)
	}
	if err := syscall.Kill(-cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("%s: send %v: %w", s.name, sig, err)
	}
	return nil
}

// Restart kills the current process if it still runs (SIGKILL) and starts a
// fresh one with the same port, directory and arguments, returning once it
// answers PING. With no persistence the new process starts empty, with a
// new replication id.
//
// Errors: [ErrClosed] after [Server.Close]; [ErrStillRunning] when the old
// process does not die; [ErrExited] or [ErrTimeout] (with the log tail) when
// the new one does not come up, which leaves the server not running.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return fmt.Errorf("restart %s: %w", s.name, ErrClosed)
	}
	if err := s.killAndWait(); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	if err := s.spawn(ctx); err != nil {
		return s.failure("restart", err)
	}
	return nil
}

// Close stops the server for good: SIGCONT (in case it is frozen) and
// SIGTERM to its process group, SIGKILL after the grace period
// (Options.StopGrace), and a last SIGKILL to the group for a child forked
// for a diskless sync that may outlive its parent. It returns
// [ErrStillRunning] when the process has not exited [KillWait] after
// SIGKILL. Closing again does nothing.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	pgid := -cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGCONT)
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	var err error
	if !s.waitExit(done, s.grace) {
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		if !s.waitExit(done, KillWait) {
			err = fmt.Errorf("%s (pid %d): %w", s.name, cmd.Process.Pid, ErrStillRunning)
		}
	}
	_ = syscall.Kill(pgid, syscall.SIGKILL)
	return err
}

// LogTail returns the last [LogTailLines] lines of the server's log file
// (or of its stdout and stderr when the log is empty), for error messages.
func (s *Server) LogTail() string {
	if tail := fileTail(s.logPath, LogTailLines); tail != "" {
		return tail
	}
	return fileTail(s.stdioPath, LogTailLines)
}
