package primary

import "errors"

var (
	// ErrInvalidConfig is returned by New and Config.Validate for a config
	// that cannot work: a backlog smaller than 1 byte, a non-positive
	// period or timeout, a malformed replication id. The wrapping error
	// names the field.
	ErrInvalidConfig = errors.New("redis primary: invalid config")

	// ErrClosed is returned by Listen, ForgetHistory and DisconnectFollower
	// after Close.
	ErrClosed = errors.New("redis primary: closed")

	// ErrAlreadyListening is returned by a second Listen.
	ErrAlreadyListening = errors.New("redis primary: already listening")

	// ErrUnknownFollower is returned by DisconnectFollower for an id no
	// live follower has.
	ErrUnknownFollower = errors.New("redis primary: unknown follower")

	// errHistoryForgotten ends a replication session whose stream belongs
	// to a history ForgetHistory discarded.
	errHistoryForgotten = errors.New("replication history forgotten")
)
