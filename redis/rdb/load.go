package rdb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/redis/keyspace"
)

// Info describes a loaded RDB.
type Info struct {
	// Version is the RDB format version from the header (Redis 7.0 writes 10).
	Version int
	// Aux holds the auxiliary fields (redis-ver, repl-id, ...).
	Aux map[string]string
	// ReplID is the "repl-id" aux field, "" when absent.
	ReplID string
	// ReplOffset is the "repl-offset" aux field, -1 when absent or not a
	// number.
	ReplOffset int64
	// Keys is the number of keys loaded.
	Keys int
	// SkippedEmpty counts empty collections, which Redis also skips.
	SkippedEmpty int
	// Checksummed is false when the file carried the all-zero checksum of a
	// server with rdbchecksum off, so nothing was verified.
	Checksummed bool
}

// DefaultMaxValue is LoadOptions.MaxValue's default: Redis's own limit on
// a string (proto-max-bulk-len, 512 MB), which also bounds every encoded
// collection blob a real primary writes.
const DefaultMaxValue = 512 << 20

// LoadOptions tune LoadWith.
type LoadOptions struct {
	// Clock is the new keyspace's clock; nil: the wall clock.
	Clock clock.Clock
	// MaxValue is the longest string (or encoded collection, or LZF
	// expansion) accepted, in bytes; a longer declared length fails with
	// ErrValueTooLarge before anything is allocated for it. 0:
	// DefaultMaxValue.
	MaxValue int64
}

// Load reads an RDB from r and loads it into a new keyspace that reads time
// from clk: LoadWith with default options.
func Load(r io.Reader, clk clock.Clock) (*keyspace.Keyspace, Info, error) {
	return LoadWith(r, LoadOptions{Clock: clk})
}

// LoadWith reads an RDB from r, streaming, into a new keyspace. The
// keyspace is in primary mode; a replica calls SetReplica and then swaps it
// in with ReplaceWith, so a failed load never touches live data. r must end
// right after the RDB's checksum. Memory: the keyspace being built, one
// read buffer, and a value only as its bytes arrive (each bounded by
// MaxValue). Errors from r are returned as they are; bad content yields
// errors wrapping ErrCorrupt, ErrUnsupported or ErrValueTooLarge.
func LoadWith(r io.Reader, opts LoadOptions) (*keyspace.Keyspace, Info, error) {
	if opts.Clock == nil {
		opts.Clock = clock.New()
	}
	if opts.MaxValue <= 0 {
		opts.MaxValue = DefaultMaxValue
	}
	d := newDecoder(r, opts.MaxValue)
	info := Info{Aux: map[string]string{}, ReplOffset: -1}
	ks := keyspace.New(opts.Clock)
	if err := decodeFile(d, ks, &info); err != nil {
		// A flipped byte can make a type or version look unsupported; a
		// checksum mismatch says what really happened.
		if errors.Is(err, ErrUnsupported) {
			if cerr := d.drainChecksum(); cerr != nil {
				return nil, Info{}, cerr
			}
		}
		return nil, Info{}, err
	}
	if id, ok := info.Aux["repl-id"]; ok {
		info.ReplID = id
	}
	if n, err := strconv.ParseInt(info.Aux["repl-offset"], 10, 64); err == nil {
		info.ReplOffset = n
	}
	return ks, info, nil
}

// LoadBytes is Load for an RDB already in memory, such as the payload
// ReadPayload returns. b must hold exactly one RDB. Function libraries in
// the file are ignored: Redis 7.0 replicates the effects of FCALL, not the
// call.
func LoadBytes(b []byte, clk clock.Clock) (*keyspace.Keyspace, Info, error) {
	ks, info, err := Load(bytes.NewReader(b), clk)
	if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
		// A bytes.Reader fails only by ending, which is truncation.
		err = fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return ks, info, err
}
