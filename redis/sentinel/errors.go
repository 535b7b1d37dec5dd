package sentinel

import "errors"

var (
	// ErrInvalidConfig is returned by NewWatcher (wrapped) for a config it
	// cannot run: no sentinels, a bad address, no names, no callback.
	ErrInvalidConfig = errors.New("sentinel: invalid config")

	// ErrNoAnswer is returned (wrapped) by Resolve when no sentinel named a
	// primary for the name; the message says what each one answered.
	ErrNoAnswer = errors.New("sentinel: no sentinel named a primary")

	// ErrUnknownMaster is returned (wrapped) by AskMaster when the sentinel
	// answered that it does not monitor the name (a null reply).
	ErrUnknownMaster = errors.New("sentinel: name not monitored")

	// ErrBadReply is returned (wrapped) for a reply or message that does
	// not have the shape Sentinel gives it.
	ErrBadReply = errors.New("sentinel: unexpected reply")
)
