package redistest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStartPingAndClient(t *testing.T) {
	s := Start(t, Options{Name: "primary"})
	ctx := context.Background()

	assert.Equal(t, "127.0.0.1", strings.Split(s.Addr(), ":")[0])
	assert.NotZero(t, s.Port())
	assert.True(t, s.Running())
	c := s.Client()
	require.NoError(t, c.Ping(ctx).Err())
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	assert.Equal(t, "v", c.Get(ctx, "k").Val())

	// The fixed arguments are in force.
	cfg, err := c.ConfigGet(ctx, "*").Result()
	require.NoError(t, err)
	assert.Equal(t, "", cfg["save"])
	assert.Equal(t, "no", cfg["appendonly"])
	assert.Equal(t, "0", cfg["repl-diskless-sync-delay"])
	assert.Equal(t, "0", cfg["shutdown-timeout"])
	assert.Equal(t, s.Dir(), cfg["dir"])
	assert.Contains(t, s.LogTail(), "Ready to accept connections")
}

func TestStartExtraArgs(t *testing.T) {
	s := Start(t, Options{Args: []string{"--repl-backlog-size", "2mb", "--repl-timeout", "5"}})
	cfg, err := s.Client().ConfigGet(context.Background(), "repl-*").Result()
	require.NoError(t, err)
	assert.Equal(t, "2097152", cfg["repl-backlog-size"])
	assert.Equal(t, "5", cfg["repl-timeout"])
}

func TestStartFixedPortAndRestart(t *testing.T) {
	port, err := FreePort()
	require.NoError(t, err)
	s := Start(t, Options{Port: port})
	require.Equal(t, port, s.Port())
	ctx := context.Background()
	c := s.Client()
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	pid := s.PID()

	s.Kill()
	assert.False(t, s.Running())
	pingCtx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	assert.Error(t, c.Ping(pingCtx).Err(), "a killed server answers nothing")

	s.Restart()
	assert.Equal(t, port, s.Port())
	assert.NotEqual(t, pid, s.PID())
	require.NoError(t, c.Ping(ctx).Err())
	n, err := c.DBSize(ctx).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "no persistence: a restarted server is empty")

	// Restart of a running server kills it first.
	pid = s.PID()
	s.Restart()
	assert.NotEqual(t, pid, s.PID())
	require.NoError(t, s.Client().Ping(ctx).Err())
}

func TestStopCont(t *testing.T) {
	s := Start(t, Options{})
	c := s.Client()
	ctx := context.Background()
	require.NoError(t, c.Ping(ctx).Err())

	s.Stop()
	pingCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err := c.Ping(pingCtx).Err()
	cancel()
	require.Error(t, err, "a SIGSTOPped server must not answer")

	s.Cont()
	RequireEventually(t, 5*time.Second, "PING after SIGCONT", func(ctx context.Context) error {
		return c.Ping(ctx).Err()
	})
}

func TestCleanupStopsAFrozenServer(t *testing.T) {
	var s *Server
	t.Run("inner", func(t *testing.T) {
		s = Start(t, Options{})
		s.Stop() // cleanup must still end it: SIGCONT, SIGTERM
	})
	assert.False(t, s.Running(), "cleanup left the process running")
}

// TestStartMissingBinaryFails checks that a missing redis-server fails the
// test (never skips it) and says how to install it.
func TestStartMissingBinaryFails(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(ft, Options{Binary: "redis-server-that-does-not-exist"})
		ft.returned = true
	}()
	<-done
	assert.False(t, ft.returned, "Start returned without failing the test")
	assert.Contains(t, ft.fatal, InstallHint)
	assert.Contains(t, ft.fatal, "redis-server-that-does-not-exist")
	assert.False(t, ft.skipped, "a missing binary must fail the test, not skip it")
}

// fatalRecorder is a testing.TB whose Fatalf and Skip* record the message
// and end the calling goroutine, as testing.T's do, without failing the
// real test; everything else (TempDir, Cleanup, Logf) is the real t's.
type fatalRecorder struct {
	testing.TB
	fatal    string
	skipped  bool
	returned bool
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fatalRecorder) Skip(args ...any) { f.skipped = true; runtime.Goexit() }

func (f *fatalRecorder) Skipf(format string, args ...any) { f.skipped = true; runtime.Goexit() }

func (f *fatalRecorder) SkipNow() { f.skipped = true; runtime.Goexit() }
