package redisproc_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redisproc"
	"github.com/replsm/replsm/internal/redisview"
)

// start starts a server for t (Dir defaults to t.TempDir()) and closes it
// at the test's cleanup.
func start(t *testing.T, opts redisproc.Options) *redisproc.Server {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	s, err := redisproc.Start(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

func client(t *testing.T, s *redisproc.Server) *redis.Client {
	t.Helper()
	c := redisview.NewClient(s.Addr(), 0)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// fake returns the options that run the test binary as a fake redis-server
// in mode (see runFake).
func fake(t *testing.T, mode string) redisproc.Options {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	t.Setenv(fakeEnv, mode)
	return redisproc.Options{Binary: exe, Dir: t.TempDir(), Name: "fake"}
}

// requireGone checks that the fake that ran in dir has exited and been
// reaped.
func requireGone(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "fake.pid"))
	require.NoError(t, err)
	pid, err := strconv.Atoi(string(b))
	require.NoError(t, err)
	require.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "the fake (pid %d) is still there", pid)
}

// advanceUntil moves mock forward a PollInterval at a time until done
// yields a value.
func advanceUntil[T any](mock *clock.Mock, done <-chan T) T {
	for {
		select {
		case v := <-done:
			return v
		default:
			mock.Add(redisproc.PollInterval)
		}
	}
}

func TestStartStandardArgs(t *testing.T) {
	s := start(t, redisproc.Options{
		Name:       "primary",
		DBFilename: "x.rdb",
		Args:       []string{"--repl-backlog-size", "2mb", "--repl-timeout", "5"},
	})
	ctx := context.Background()
	assert.Equal(t, "primary", s.Name())
	assert.Equal(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port())), s.Addr())
	assert.True(t, s.Running())
	pgid, err := syscall.Getpgid(s.PID())
	require.NoError(t, err)
	assert.Equal(t, s.PID(), pgid, "redis-server leads its own process group")
	require.NoError(t, redisproc.Ping(s.Addr(), time.Second))

	cfg, err := client(t, s).ConfigGet(ctx, "*").Result()
	require.NoError(t, err)
	for k, want := range map[string]string{
		"bind": "127.0.0.1", "save": "", "appendonly": "no", "daemonize": "no",
		"dir": s.Dir(), "logfile": s.LogPath(), "dbfilename": "x.rdb",
		"repl-diskless-sync-delay": "0", "shutdown-timeout": "0",
		"repl-backlog-size": "2097152", "repl-timeout": "5",
		"port": strconv.Itoa(s.Port()),
	} {
		assert.Equal(t, want, cfg[k], k)
	}
	assert.Equal(t, filepath.Join(s.Dir(), "redis-"+strconv.Itoa(s.Port())+".log"), s.LogPath())
	assert.Contains(t, s.LogTail(), "Ready to accept connections")
	assert.Equal(t, []string{"--repl-timeout", "5"}, s.Args()[len(s.Args())-2:])
}

func TestTwoServersShareADir(t *testing.T) {
	dir := t.TempDir()
	a := start(t, redisproc.Options{Dir: dir})
	b := start(t, redisproc.Options{Dir: dir, Args: redisproc.ReplicaOfArgs(a.Port())})
	assert.NotEqual(t, a.LogPath(), b.LogPath())
	assert.NotContains(t, a.LogTail(), "MASTER")
	require.NoError(t, redisproc.Poll(context.Background(), nil, 10*time.Second, func() error {
		if !strings.Contains(b.LogTail(), "MASTER <-> REPLICA sync: Finished with success") {
			return errors.New("replica not synced yet")
		}
		return nil
	}))
}

func TestKillRestartClose(t *testing.T) {
	port, err := redisproc.FreePort()
	require.NoError(t, err)
	s := start(t, redisproc.Options{Port: port})
	ctx := context.Background()
	c := client(t, s)
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	pid := s.PID()

	require.NoError(t, s.Kill())
	assert.False(t, s.Running())
	assert.Zero(t, s.PID())
	assert.Error(t, redisproc.Ping(s.Addr(), time.Second), "a killed server answers nothing")
	require.NoError(t, s.Kill(), "killing a dead server does nothing")
	assert.ErrorIs(t, s.Stop(), redisproc.ErrNotRunning)
	assert.ErrorIs(t, s.Cont(), redisproc.ErrNotRunning)

	require.NoError(t, s.Restart(ctx))
	assert.Equal(t, port, s.Port())
	assert.NotEqual(t, pid, s.PID())
	n, err := c.DBSize(ctx).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "no persistence: a restarted server is empty")

	pid = s.PID()
	require.NoError(t, s.Restart(ctx), "restart of a running server kills it first")
	assert.NotEqual(t, pid, s.PID())
	require.NoError(t, redisproc.Ping(s.Addr(), time.Second))

	require.NoError(t, s.Close())
	assert.False(t, s.Running())
	require.NoError(t, s.Close(), "closing again does nothing")
	assert.ErrorIs(t, s.Restart(ctx), redisproc.ErrClosed)
	assert.ErrorIs(t, s.Stop(), redisproc.ErrNotRunning)
	assert.NoError(t, s.Kill())
}

func TestStopCont(t *testing.T) {
	s := start(t, redisproc.Options{})
	require.NoError(t, s.Stop())
	assert.Error(t, redisproc.Ping(s.Addr(), 300*time.Millisecond), "a SIGSTOPped server must not answer")
	require.NoError(t, s.Cont())
	require.NoError(t, redisproc.Poll(context.Background(), nil, 5*time.Second, func() error {
		return redisproc.Ping(s.Addr(), time.Second)
	}))
}

func TestCloseEndsAFrozenServer(t *testing.T) {
	s, err := redisproc.Start(context.Background(), redisproc.Options{Dir: t.TempDir()})
	require.NoError(t, err)
	require.NoError(t, s.Stop())
	require.NoError(t, s.Close(), "SIGCONT, SIGTERM")
	assert.False(t, s.Running())
}

func TestCloseSendsSIGKILLAfterTheGrace(t *testing.T) {
	opts := fake(t, "ignore-term")
	mock := clock.NewMock()
	opts.Clock = mock
	opts.StopGrace = time.Second
	started := make(chan error, 1)
	var s *redisproc.Server
	go func() {
		var err error
		s, err = redisproc.Start(context.Background(), opts)
		started <- err
	}()
	require.NoError(t, advanceUntil(mock, started))

	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	require.NoError(t, advanceUntil(mock, closed))
	assert.False(t, s.Running())
	requireGone(t, opts.Dir)
}

func TestStartTimesOutOnTheClock(t *testing.T) {
	opts := fake(t, "silent")
	mock := clock.NewMock()
	opts.Clock = mock
	opts.StartTimeout = 200 * time.Millisecond
	done := make(chan error, 1)
	go func() {
		s, err := redisproc.Start(context.Background(), opts)
		if s != nil {
			_ = s.Close()
		}
		done <- err
	}()
	err := advanceUntil(mock, done)
	require.ErrorIs(t, err, redisproc.ErrTimeout)
	t.Log(err)
	assert.Contains(t, err.Error(), "start fake on 127.0.0.1:")
	requireGone(t, opts.Dir)
}

func TestStartCancelled(t *testing.T) {
	opts := fake(t, "silent")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := redisproc.Start(ctx, opts)
	require.ErrorIs(t, err, context.Canceled)
}

func TestStartExited(t *testing.T) {
	opts := fake(t, "exit")
	_, err := redisproc.Start(context.Background(), opts)
	require.ErrorIs(t, err, redisproc.ErrExited)
	t.Log(err)
	assert.Contains(t, err.Error(), "exit status 3")
	assert.Contains(t, err.Error(), "boom")
}

func TestStartRetriesATakenFreePort(t *testing.T) {
	opts := fake(t, "in-use-once")
	s := start(t, opts)
	assert.FileExists(t, filepath.Join(opts.Dir, "attempted"))
	require.NoError(t, redisproc.Ping(s.Addr(), time.Second))
}

func TestStartOnATakenFixedPortFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	_, err = redisproc.Start(context.Background(), redisproc.Options{
		Dir: t.TempDir(), Port: ln.Addr().(*net.TCPAddr).Port,
	})
	require.ErrorIs(t, err, redisproc.ErrExited, "a fixed port is not replaced")
	t.Log(err)
	assert.Contains(t, err.Error(), "Address already in use")
}

func TestStartErrors(t *testing.T) {
	_, err := redisproc.Start(context.Background(), redisproc.Options{})
	assert.ErrorIs(t, err, redisproc.ErrInvalidArgument)

	_, err = redisproc.Start(context.Background(), redisproc.Options{Dir: t.TempDir(), Binary: "redis-server-that-does-not-exist"})
	require.ErrorIs(t, err, redisproc.ErrBinaryNotFound)
	assert.Contains(t, err.Error(), redisproc.InstallHint)
	assert.Contains(t, err.Error(), "redis-server-that-does-not-exist")

	path, err := redisproc.LookPath("redis-server")
	require.NoError(t, err, "redis-server must be installed for these tests: %s", redisproc.InstallHint)
	assert.NotEmpty(t, path)
}
