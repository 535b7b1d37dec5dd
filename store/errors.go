package store

import "errors"

var (
	// ErrCorruptStore is returned by OpenBolt when the file exists but cannot be
	// trusted: it is truncated, garbled, not a bbolt file, or carries a schema
	// marker or version this build does not understand. The file is left
	// exactly as it was; the message names it and says how to recover (move it
	// aside, which forces a full resync of every slot). Operations on an open
	// store return it (wrapped) if bbolt reports damage found while reading.
	ErrCorruptStore = errors.New("store: corrupt state file")

	// ErrStoreUnavailable is returned by OpenBolt when the file cannot be
	// opened for writing: its parent directory is missing, not a directory, or
	// not writable, or the file itself is not writable. The message names the
	// path. It is also wrapped by ErrStoreLocked errors.
	ErrStoreUnavailable = errors.New("store: state file unavailable")

	// ErrStoreLocked is returned by OpenBolt when another process (or another
	// open Bolt in this process) holds the file's lock for longer than
	// BoltOptions.LockTimeout. Errors carrying it also match ErrStoreUnavailable.
	ErrStoreLocked = errors.New("store: state file locked by another process")

	// ErrClosed is returned by every Store method, and by CursorBatcher
	// methods, called after Close.
	ErrClosed = errors.New("store: closed")

	// ErrInvalidInput is returned for arguments that can never succeed: an
	// empty or oversized slot name or milestone key, an empty milestone kind,
	// a non-positive limit, or invalid options.
	ErrInvalidInput = errors.New("store: invalid input")
)
