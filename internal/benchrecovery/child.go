package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// childStopGrace is how long stop waits after SIGTERM before SIGKILL.
const childStopGrace = 10 * time.Second

// child is the `replsm replica` process, its stdout and stderr in log.
type child struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}

	mu  sync.Mutex
	err error // the exit status, once done
}

func startChild(bin, log string, args ...string) (*child, error) {
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child keeps its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	c := &child{cmd: cmd, log: log, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.done)
	}()
	return c, nil
}

// exited returns an error once the process has exited, nil while it runs.
func (c *child) exited() error {
	select {
	case <-c.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return fmt.Errorf("replsm exited: %v", c.err)
	default:
		return nil
	}
}

// stop ends the process: SIGTERM (it closes cleanly and exits 0), SIGKILL
// after childStopGrace.
func (c *child) stop() error {
	select {
	case <-c.done:
		return nil
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(childStopGrace)
	defer t.Stop()
	select {
	case <-c.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		var exit *exec.ExitError
		if errors.As(c.err, &exit) && !exit.Exited() {
			return nil // ended by our signal
		}
		return c.err
	case <-t.C:
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("replsm (pid %d) ignored SIGTERM for %s", c.cmd.Process.Pid, childStopGrace)
	}
}

// tail is the end of the log, for error messages.
func (c *child) tail() string {
	data, err := os.ReadFile(c.log)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
