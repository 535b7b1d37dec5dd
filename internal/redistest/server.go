package redistest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/replsm/replsm/internal/redisproc"
)

// The process handling is internal/redisproc's; these are its bounds.
const (
	// DefaultStartTimeout bounds how long [Start] and [Server.Restart] wait
	// for a new redis-server to answer PING.
	DefaultStartTimeout = redisproc.DefaultStartTimeout

	// StopGrace is how long the cleanup waits after SIGTERM before it sends
	// SIGKILL.
	StopGrace = redisproc.DefaultStopGrace
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
// one test: an internal/redisproc Server whose errors fail the test. Its
// methods are meant to be called from the test's goroutine; they fail the
// test (t.Fatalf) when the process cannot be controlled.
type Server struct {
	t    testing.TB
	name string
	proc *redisproc.Server

	mu      sync.Mutex
	clients []*redis.Client
}

// Start launches a real redis-server for the test t with
// internal/redisproc and returns it once it answers PING. The fixed
// arguments are
//
//	--port <port> --bind 127.0.0.1 --save '' --appendonly no --daemonize no
//	--dir <t.TempDir()> --logfile <dir>/redis-<port>.log
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
	if opts.Name == "" {
		opts.Name = "redis"
	}
	proc, err := redisproc.Start(context.Background(), redisproc.Options{
		Dir:          t.TempDir(),
		Args:         opts.Args,
		Binary:       opts.Binary,
		Port:         opts.Port,
		StartTimeout: opts.StartTimeout,
		Name:         opts.Name,
	})
	if err != nil {
		t.Fatalf("redistest.Start: %v", err)
	}
	s := &Server{t: t, name: opts.Name, proc: proc}
	t.Cleanup(s.cleanup)
	return s
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) { return redisproc.FreePort() }

// Addr returns "127.0.0.1:<port>".
func (s *Server) Addr() string { return s.proc.Addr() }

// Port returns the TCP port the server listens on; it stays the same across
// [Server.Restart].
func (s *Server) Port() int { return s.proc.Port() }

// Dir returns the server's working directory (a t.TempDir()).
func (s *Server) Dir() string { return s.proc.Dir() }

// LogPath returns the path of the server's log file.
func (s *Server) LogPath() string { return s.proc.LogPath() }

// PID returns the current process id, or 0 when no process is running.
func (s *Server) PID() int { return s.proc.PID() }

// Running reports whether the current process has not exited.
func (s *Server) Running() bool { return s.proc.Running() }

// ReplicaOfArgs returns the arguments that make a server replicate from the
// primary at 127.0.0.1:port: "--replicaof", "127.0.0.1", "<port>".
func ReplicaOfArgs(port int) []string { return redisproc.ReplicaOfArgs(port) }

// Kill sends SIGKILL to the server's process group and waits for the process
// to exit. Killing a server that is not running does nothing.
func (s *Server) Kill() {
	s.t.Helper()
	s.must(s.proc.Kill())
}

// Stop freezes the server with SIGSTOP: its sockets stay open but it reads,
// writes and times out nothing until [Server.Cont].
func (s *Server) Stop() {
	s.t.Helper()
	s.must(s.proc.Stop())
}

// Cont resumes a server frozen by [Server.Stop] with SIGCONT.
func (s *Server) Cont() {
	s.t.Helper()
	s.must(s.proc.Cont())
}

// Restart kills the current process if it still runs (SIGKILL) and starts a
// fresh one with the same port, directory and arguments, returning once it
// answers PING. With no persistence the new process starts empty, with a new
// replication id.
func (s *Server) Restart() {
	s.t.Helper()
	s.must(s.proc.Restart(context.Background()))
}

// must fails the test when controlling the process failed.
func (s *Server) must(err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatalf("redistest: %v", err)
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
func (s *Server) LogTail() string { return s.proc.LogTail() }

// cleanup closes the clients and stops the process: SIGCONT (in case it was
// frozen), SIGTERM, then SIGKILL after StopGrace.
func (s *Server) cleanup() {
	s.mu.Lock()
	clients := s.clients
	s.clients = nil
	s.mu.Unlock()
	for _, c := range clients {
		_ = c.Close()
	}
	if err := s.proc.Close(); err != nil {
		s.t.Errorf("redistest: %v", err)
	}
	if s.t.Failed() {
		s.t.Logf("redistest: %s on %s, log tail:\n%s", s.name, s.Addr(), s.LogTail())
	}
}
