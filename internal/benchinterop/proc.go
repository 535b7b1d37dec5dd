package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
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
	"time"

	"github.com/benbjohnson/clock"
)

// A small redis-server launcher for a program (internal/redistest's needs a
// testing.TB). Same fixed arguments, same process-group handling, same
// SIGTERM-then-SIGKILL stop.

const (
	// stopGrace is how long stop waits after SIGTERM before SIGKILL.
	stopGrace = 3 * time.Second
	// killWait bounds the wait for the exit after SIGKILL.
	killWait = 10 * time.Second
	// startAttempts is how often a server is started again on a new free
	// port when another process took the one picked.
	startAttempts = 3
	// pollInterval is the pause between two polls of a condition.
	pollInterval = 10 * time.Millisecond
	// logTailLines is how much of a log goes into an error message.
	logTailLines = 20
)

// errBinaryNotFound says how to install the binaries this program runs.
var errBinaryNotFound = errors.New("binary not found (install with: apt-get install -y redis-server redis-tools)")

// errTimeout is returned when a bounded wait runs out.
var errTimeout = errors.New("condition not met before the deadline")

// redisProc is one real redis-server process on 127.0.0.1.
type redisProc struct {
	name    string
	bin     string
	port    int
	dir     string
	logPath string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited

	mu      sync.Mutex
	waitErr error
	stopped bool
}

// lookupBinary resolves name on PATH (or as a path).
func lookupBinary(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", errBinaryNotFound, name, err)
	}
	return p, nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
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

// startRedis starts redis-server bin as name in a new directory under root
// with
//
//	--port <free port> --bind 127.0.0.1 --save '' --appendonly no
//	--daemonize no --dir <dir> --logfile <dir>/redis.log
//	--repl-diskless-sync-delay 0 --shutdown-timeout 0 <extra...>
//
// and returns once it answers PING, within timeout on clk. On error nothing
// is left running.
func startRedis(ctx context.Context, clk clock.Clock, bin, root, name string, extra []string, timeout time.Duration) (*redisProc, error) {
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		p := &redisProc{name: name, bin: bin, port: port, dir: dir, logPath: filepath.Join(dir, "redis.log")}
		lastErr = p.spawn(ctx, clk, extra, timeout)
		if lastErr == nil {
			return p, nil
		}
		if !strings.Contains(p.logTail(), "Address already in use") {
			break
		}
	}
	return nil, fmt.Errorf("start %s: %w", name, lastErr)
}

func (p *redisProc) spawn(ctx context.Context, clk clock.Clock, extra []string, timeout time.Duration) error {
	args := append([]string{
		"--port", strconv.Itoa(p.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", p.dir,
		"--logfile", p.logPath,
		"--repl-diskless-sync-delay", "0",
		"--shutdown-timeout", "0",
	}, extra...)
	stdio, err := os.OpenFile(filepath.Join(p.dir, "stdio.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer stdio.Close() // the child keeps its own descriptor
	cmd := exec.Command(p.bin, args...)
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = stdio, stdio
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.bin, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.done)
	}()

	err = poll(ctx, clk, timeout, func() error {
		select {
		case <-p.done:
			return stopPolling{fmt.Errorf("redis-server exited before answering PING: %v; log: %s", p.exitErr(), p.logTail())}
		default:
		}
		return pingRaw(p.addr(), time.Second)
	})
	if err != nil {
		p.stop()
		return err
	}
	return nil
}

func (p *redisProc) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

func (p *redisProc) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

// stop sends SIGTERM to the process group, SIGKILL after stopGrace, and
// waits for the exit. It is idempotent and returns an error only when the
// process would not die.
func (p *redisProc) stop() error {
	p.mu.Lock()
	if p.stopped || p.cmd == nil || p.cmd.Process == nil {
		p.mu.Unlock()
		return nil
	}
	p.stopped = true
	p.mu.Unlock()
	pgid := -p.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGCONT)
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		k := time.NewTimer(killWait)
		defer k.Stop()
		select {
		case <-p.done:
		case <-k.C:
			return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
		}
	}
	// A child forked for a diskless sync may outlive its parent briefly.
	_ = syscall.Kill(pgid, syscall.SIGKILL)
	return nil
}

// logTail returns the last lines of the server's log (or of its stdio).
func (p *redisProc) logTail() string {
	if t := fileTail(p.logPath, logTailLines); t != "" {
		return t
	}
	return fileTail(filepath.Join(p.dir, "stdio.log"), logTailLines)
}

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

// pingRaw sends a RESP PING and expects +PONG.
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

// stopPolling wraps an error that ends a poll at once.
type stopPolling struct{ err error }

func (b stopPolling) Error() string { return b.err.Error() }
func (b stopPolling) Unwrap() error { return b.err }

// poll calls cond at once and then every pollInterval on clk until it
// returns nil (poll returns nil), returns a stopPolling (poll returns its
// error), timeout passes (errTimeout with the last reason) or ctx ends.
func poll(ctx context.Context, clk clock.Clock, timeout time.Duration, cond func() error) error {
	deadline := clk.Timer(timeout)
	defer deadline.Stop()
	tick := clk.Ticker(pollInterval)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		var stop stopPolling
		if errors.As(err, &stop) {
			return stop.err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-deadline.C:
			return fmt.Errorf("%w after %v: %v", errTimeout, timeout, err)
		case <-tick.C:
		}
	}
}
