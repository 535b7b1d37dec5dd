package replica

import "errors"

var (
	// ErrInvalidConfig is returned by New and Config.Validate for a config
	// that cannot work: no shards, an empty or malformed endpoint, a
	// non-positive duration, a port out of range. The message names the
	// field. (Invalid slot or instance policies return the core's
	// ErrInvalidConfig instead.)
	ErrInvalidConfig = errors.New("redis replica: invalid config")

	// ErrUnknownShard is returned by Cursor, Stats and Reset for a shard id
	// the replica was not configured with; REPLSM.SHARD and REPLSM.RESET
	// answer such an id with its message.
	ErrUnknownShard = errors.New("redis replica: unknown shard")

	// ErrStateDir is returned by New when Config.StateDir cannot hold the
	// replica's state: it does not exist, is not a directory, or a probe
	// file cannot be created, written and synced in it (read-only, full,
	// no permission). The message names the path and the cause. Problems
	// with the store file itself come back as the store's errors
	// (store.ErrCorruptStore, store.ErrStoreUnavailable, store.ErrStoreLocked),
	// whose messages name the file and what to do.
	ErrStateDir = errors.New("redis replica: unusable state directory")

	// ErrClosed is returned by Start after Close or when called twice, and
	// by the slot driver's Sync once Close has begun.
	ErrClosed = errors.New("redis replica: closed")
)

// Why a session failed. The slot's fail record carries the error's text as
// its reason; ShardStats.LastFailure holds the error itself, so callers can
// tell these apart with errors.Is.
var (
	// ErrProtocol: the primary broke the replication protocol: an
	// unexpected handshake reply, a malformed +FULLRESYNC or +CONTINUE, a
	// stream element that is not a command, EXEC without MULTI.
	ErrProtocol = errors.New("redis replica: protocol violation")

	// ErrApply: the stream cannot be applied past this point (a SELECT of
	// a database this replica lacks); the slot's next sync is a full one.
	// Single commands the keyspace cannot apply (unknown, wrong type, bad
	// arguments) are skipped and counted instead (ShardStats.Unapplied),
	// because a full sync would meet them again.
	ErrApply = errors.New("redis replica: cannot apply command")

	// ErrReadTimeout: the primary sent nothing for Config.ReadTimeout.
	ErrReadTimeout = errors.New("redis replica: read timeout")
)
