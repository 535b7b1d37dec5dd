package rdb

import "errors"

// ErrCorrupt is wrapped by every error Load, LoadBytes and ReadPayload return
// for bytes that are not a valid RDB or transfer: a bad header, a length that
// runs past the end, an unknown opcode, a checksum mismatch, trailing bytes,
// a duplicate key, a missing or wrong EOF mark. The wrapping error says what
// was wrong and at which offset.
var ErrCorrupt = errors.New("rdb: corrupt")

// ErrUnsupported is wrapped by errors for well-formed RDB content this
// package does not load: module values and module aux data, hashes
// with per-field TTLs (RDB 12), more than 16 databases, RDB versions before 5
// (no checksum) or after 12. Write wraps it for a list the encoder cannot
// represent.
var ErrUnsupported = errors.New("rdb: unsupported")

// ErrTooLarge is wrapped by ReadPayload's error when the announced or
// received payload exceeds its max.
var ErrTooLarge = errors.New("rdb: payload too large")

// ErrValueTooLarge is wrapped (with ErrCorrupt) by LoadWith's error when the
// RDB declares a string, encoded collection or LZF expansion longer than
// LoadOptions.MaxValue: it is refused before anything is allocated for it.
var ErrValueTooLarge = errors.New("rdb: value exceeds the load ceiling")
