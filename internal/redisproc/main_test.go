package redisproc_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

// fakeEnv names the environment variable that turns the test binary into a
// fake redis-server (see runFake): the tests pass os.Executable() as
// Options.Binary to see how the launcher copes with servers that exit, never
// answer, or ignore SIGTERM.
const fakeEnv = "REDISPROC_FAKE_SERVER"

// TestMain runs the fake server when asked to, and otherwise the tests,
// checking that none leaves a goroutine behind (process waiters, timers).
func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeEnv); mode != "" {
		os.Exit(runFake(mode, os.Args[1:]))
	}
	goleak.VerifyTestMain(m)
}

// runFake is a stand-in for redis-server (or redis-benchmark), run with
// its arguments. Given a --dir, it writes its pid to fake.pid there and
// works in that directory; then by mode:
//
//   - "exit": prints "boom" on stderr and exits 3;
//   - "silent": answers nothing until killed;
//   - "in-use-once": the first time (no file "attempted" yet) it prints
//     redis-server's "Address already in use" and exits 1; then as "pong";
//   - "pong": answers +PONG to whatever it reads on --port;
//   - "ignore-term": "pong" with SIGTERM ignored.
func runFake(mode string, args []string) int {
	port, dir := "", ""
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "--port":
			port = args[i+1]
		case "--dir":
			dir = args[i+1]
		}
	}
	if dir != "" {
		if err := os.Chdir(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if err := os.WriteFile("fake.pid", []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	switch mode {
	case "exit":
		fmt.Fprintln(os.Stderr, "boom")
		return 3
	case "silent":
		select {}
	case "in-use-once":
		if _, err := os.Stat("attempted"); err != nil {
			_ = os.WriteFile("attempted", nil, 0o644)
			fmt.Fprintln(os.Stderr, "Warning: Could not create server TCP listening socket 127.0.0.1: bind: Address already in use")
			return 1
		}
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			return 1
		}
		go func() {
			defer conn.Close()
			r := bufio.NewReader(conn)
			for {
				if _, err := r.ReadString('\n'); err != nil {
					return
				}
				if _, err := conn.Write([]byte("+PONG\r\n")); err != nil {
					return
				}
			}
		}()
	}
}
