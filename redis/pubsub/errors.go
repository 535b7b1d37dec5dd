package pubsub

import "errors"

// ErrClosed is returned by Command for a SUBSCRIBE after Close.
var ErrClosed = errors.New("pubsub: hub closed")
