package redisproc

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// LookPath resolves name (a command on PATH, or a path) to the path of an
// executable. When there is none the error wraps [ErrBinaryNotFound], whose
// message says how to install the Redis binaries.
func LookPath(name string) (string, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBinaryNotFound, name, err)
	}
	return path, nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process may take it before the caller binds it; [Start] copes
// with that by starting again on a new port.
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

// Ping connects to addr, sends a RESP PING and expects +PONG, all within
// timeout (a wall-clock socket deadline). It returns nil on +PONG, and the
// dial, I/O or unexpected-reply error otherwise.
func Ping(addr string, timeout time.Duration) error {
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

// ReplicaOfArgs returns the arguments that make a server replicate from the
// primary at 127.0.0.1:port: "--replicaof", "127.0.0.1", "<port>".
func ReplicaOfArgs(port int) []string {
	return []string{"--replicaof", "127.0.0.1", strconv.Itoa(port)}
}

// isLoopback reports whether host is "localhost" or a loopback IP address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
