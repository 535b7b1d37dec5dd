package redistest

import (
	"errors"

	"github.com/replsm/replsm/internal/redisproc"
	"github.com/replsm/replsm/internal/redisview"
)

// InstallHint is the command that installs the Redis binaries these helpers
// run. It is part of every [ErrBinaryNotFound] message.
const InstallHint = redisproc.InstallHint

// The errors shared with internal/redisproc are its values, so errors.Is
// matches whichever package's name a caller uses.
var (
	// ErrBinaryNotFound (redisproc.ErrBinaryNotFound) is returned when
	// redis-server or redis-benchmark is not on PATH (or the configured
	// binary does not exist). [Start] turns it into a test failure;
	// [RunBenchmark] returns it wrapped.
	ErrBinaryNotFound = redisproc.ErrBinaryNotFound

	// ErrTimeout (redisproc.ErrTimeout) is returned by [Eventually],
	// [WaitReplicaUp] and [WaitCaughtUp] when their deadline passes before
	// the condition holds. The wrapping error carries the last reason the
	// condition gave.
	ErrTimeout = redisproc.ErrTimeout

	// ErrNotLoopback (redisproc.ErrNotLoopback) is returned by
	// [RunBenchmark] when the address is not on the loopback interface;
	// load is only ever sent to this machine.
	ErrNotLoopback = redisproc.ErrNotLoopback

	// ErrUnsupportedType is redisview.ErrUnsupportedType, returned by
	// [Digest] for a key it cannot read with the basic read commands.
	ErrUnsupportedType = redisview.ErrUnsupportedType

	// ErrMalformedInfo is returned by [ReplicationInfo] when the INFO reply
	// holds no "field:value" lines.
	ErrMalformedInfo = errors.New("malformed INFO reply")

	// ErrBenchmarkOutput (redisproc.ErrBenchmarkOutput) is returned by
	// [RunBenchmark] when redis-benchmark exited successfully but its output
	// holds no "requests per second" line.
	ErrBenchmarkOutput = redisproc.ErrBenchmarkOutput

	// ErrInvalidArgument (redisproc.ErrInvalidArgument) is returned when a
	// helper is called with an argument outside its documented range (a
	// negative count, an empty prefix, ...).
	ErrInvalidArgument = redisproc.ErrInvalidArgument
)
