package redistest

import (
	"errors"

	"github.com/replsm/replsm/internal/redisview"
)

// InstallHint is the command that installs the Redis binaries these helpers
// run. It is part of every [ErrBinaryNotFound] message.
const InstallHint = "apt-get install -y redis-server redis-tools"

var (
	// ErrBinaryNotFound is returned when redis-server or redis-benchmark is
	// not on PATH (or the configured binary does not exist). [Start] turns it
	// into a test failure; [RunBenchmark] returns it wrapped.
	ErrBinaryNotFound = errors.New("redis binary not found (install with: " + InstallHint + ")")

	// ErrTimeout is returned by [Eventually], [WaitReplicaUp] and
	// [WaitCaughtUp] when their deadline passes before the condition holds.
	// The wrapping error carries the last reason the condition gave.
	ErrTimeout = errors.New("condition not met before the deadline")

	// ErrNotLoopback is returned by [RunBenchmark] when the address is not on
	// the loopback interface; load is only ever sent to this machine.
	ErrNotLoopback = errors.New("address is not a loopback address")

	// ErrUnsupportedType is redisview.ErrUnsupportedType, returned by
	// [Digest] for a key it cannot read with the basic read commands.
	ErrUnsupportedType = redisview.ErrUnsupportedType

	// ErrMalformedInfo is returned by [ReplicationInfo] when the INFO reply
	// holds no "field:value" lines.
	ErrMalformedInfo = errors.New("malformed INFO reply")

	// ErrBenchmarkOutput is returned by [RunBenchmark] when redis-benchmark
	// exited successfully but its output holds no "requests per second" line.
	ErrBenchmarkOutput = errors.New("unrecognised redis-benchmark output")

	// ErrInvalidArgument is returned when a helper is called with an argument
	// outside its documented range (a negative count, an empty prefix, ...).
	ErrInvalidArgument = errors.New("invalid argument")
)
