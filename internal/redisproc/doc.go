// Package redisproc starts and manages real redis-server processes, and runs
// the real redis-benchmark, for the test helpers (internal/redistest,
// redis/resp/resptest) and for programs such as `make bench-interop`
// (internal/benchinterop). It does not import "testing": the test helpers
// wrap it and turn its errors into test failures.
//
// The pieces:
//
//   - [Start] launches redis-server on 127.0.0.1 and a free port (starting
//     again on a new port when another process took the one picked), with
//     persistence off, diskless sync without delay and an immediate
//     shutdown, in its own process group (on Linux also killed by the
//     kernel when the launching program dies), and returns a [Server] once
//     it answers PING. A Server can be killed, frozen (SIGSTOP), thawed,
//     restarted on the same port and closed (SIGTERM, then SIGKILL).
//   - [RunBenchmark] runs redis-benchmark's SET load against a loopback
//     address in its own process group, bounded by a context and a timeout.
//   - [Ping], [FreePort], [LookPath] and [Poll] are the small pieces those
//     are built from, exported for the callers' own waits and checks.
//
// Every wait (readiness, the shutdown grace period, the wait for an exit,
// the benchmark's timeout, [Poll]) runs on an injected
// github.com/benbjohnson/clock Clock, clock.New() when none is given. Socket
// I/O deadlines are the exception: the kernel enforces them, so they are
// wall-clock time.
//
// When a binary is missing the error wraps [ErrBinaryNotFound], whose
// message says how to install it: apt-get install -y redis-server
// redis-tools.
package redisproc
