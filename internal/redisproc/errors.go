package redisproc

import "errors"

// InstallHint is the command that installs the Redis binaries this package
// runs. It is part of every [ErrBinaryNotFound] message.
const InstallHint = "apt-get install -y redis-server redis-tools"

var (
	// ErrBinaryNotFound is returned (wrapped, with the name looked up) by
	// [LookPath], [Start] and [RunBenchmark] when redis-server or
	// redis-benchmark is not on PATH, or the configured binary does not
	// exist.
	ErrBinaryNotFound = errors.New("redis binary not found (install with: " + InstallHint + ")")

	// ErrTimeout is returned (wrapped, with the last reason) by [Poll] when
	// its timeout passes before the condition holds, and so by [Start] and
	// [Server.Restart] when the server does not answer PING within
	// Options.StartTimeout.
	ErrTimeout = errors.New("condition not met before the deadline")

	// ErrExited is returned by [Start] and [Server.Restart] when
	// redis-server exits before it answers PING (a bad argument, a port in
	// use, an unreadable dump file); the error carries the exit status and
	// the tail of its log.
	ErrExited = errors.New("redis-server exited before answering PING")

	// ErrNotRunning is returned by [Server.Stop] and [Server.Cont] when the
	// server has no live process (killed, exited or closed).
	ErrNotRunning = errors.New("redis-server is not running")

	// ErrStillRunning is returned by [Server.Kill], [Server.Restart] and
	// [Server.Close] when the process has not exited within the bound after
	// SIGKILL.
	ErrStillRunning = errors.New("process did not exit after SIGKILL")

	// ErrClosed is returned by [Server.Restart] after [Server.Close].
	ErrClosed = errors.New("redis-server closed")

	// ErrNotLoopback is returned by [RunBenchmark] and [Benchmark.Args] when
	// the address is not on the loopback interface; load is only ever sent
	// to this machine.
	ErrNotLoopback = errors.New("address is not a loopback address")

	// ErrInvalidArgument is returned when an argument is outside its
	// documented range: [Start] without Options.Dir, [RunBenchmark] and
	// [Benchmark.Args] with a malformed address or a count out of range.
	ErrInvalidArgument = errors.New("invalid argument")

	// ErrBenchmarkOutput is returned by [RunBenchmark] when redis-benchmark
	// exited successfully but its output holds no readable "requests per
	// second" line for SET.
	ErrBenchmarkOutput = errors.New("unrecognised redis-benchmark output")
)
