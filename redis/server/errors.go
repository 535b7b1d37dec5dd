package server

import "errors"

var (
	// ErrHijacked is returned by a Conn's write methods and by a second
	// Hijack once the connection has been hijacked: its bytes belong to
	// whoever called Hijack.
	ErrHijacked = errors.New("server: connection hijacked")

	// ErrNilHandler is returned by Listen when the Handler is nil.
	ErrNilHandler = errors.New("server: nil handler")
)
