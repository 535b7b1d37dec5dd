package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// benchArgs are redis-benchmark's arguments for cfg's SET load on addr.
func benchArgs(addr string, cfg Config) ([]string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("load goes to loopback addresses only, not %q", addr)
	}
	args := []string{"-h", host, "-p", port, "-t", "set",
		"-n", strconv.Itoa(cfg.Requests), "-c", strconv.Itoa(cfg.Clients),
		"-P", strconv.Itoa(cfg.Pipeline), "-d", strconv.Itoa(cfg.DataSize)}
	if cfg.Keyspace > 0 {
		args = append(args, "-r", strconv.Itoa(cfg.Keyspace))
	}
	return append(args, "-q"), nil
}

var rpsLine = regexp.MustCompile(`SET: ([0-9.]+) requests per second`)

// runBenchmark runs redis-benchmark bin with args and waits for it, at most
// timeout (then, or when ctx ends, its process group is killed). It returns
// the SET throughput redis-benchmark reported.
func runBenchmark(ctx context.Context, bin string, args []string, timeout time.Duration) (float64, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	text := out.String()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return 0, text, fmt.Errorf("redis-benchmark %v: %w; output ends: %s", args, err, lastLines(text, 3))
	}
	m := rpsLine.FindAllStringSubmatch(text, -1)
	if m == nil {
		return 0, text, fmt.Errorf("redis-benchmark printed no SET throughput; output ends: %s", lastLines(text, 3))
	}
	rps, err := strconv.ParseFloat(m[len(m)-1][1], 64)
	if err != nil {
		return 0, text, fmt.Errorf("redis-benchmark throughput %q: %w", m[len(m)-1][1], err)
	}
	return rps, text, nil
}

// lastLines returns the last n non-blank lines of redis-benchmark's output
// (whose progress lines end in "\r"), trimmed and joined with " | ".
func lastLines(s string, n int) string {
	var out []string
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.Join(out, " | ")
}
