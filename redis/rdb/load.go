package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/benbjohnson/clock"
	"github.com/hdt3213/rdb/core"
	"github.com/hdt3213/rdb/crc64jones"
	"github.com/hdt3213/rdb/model"

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

// Load reads an entire RDB from r and loads it into a new keyspace that reads
// time from clk. The keyspace is in primary mode; a replica calls SetReplica
// and then swaps it in with ReplaceWith, so a failed load never touches live
// data. Errors from r are returned as they are; bad content yields errors
// wrapping ErrCorrupt or ErrUnsupported.
func Load(r io.Reader, clk clock.Clock) (*keyspace.Keyspace, Info, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, Info{}, err
	}
	return LoadBytes(b, clk)
}

// LoadBytes is Load for an RDB already in memory, such as the payload
// ReadPayload returns. b must hold exactly one RDB. Function libraries in
// the file are ignored: Redis 7.0 replicates the effects of FCALL, not the
// call.
func LoadBytes(b []byte, clk clock.Clock) (*keyspace.Keyspace, Info, error) {
	f, err := scanFrame(b)
	if err != nil {
		// A flipped byte can make a type or version look unsupported; a
		// checksum mismatch says what really happened.
		if errors.Is(err, ErrUnsupported) {
			if cerr := verifyChecksum(b); cerr != nil {
				return nil, Info{}, cerr
			}
		}
		return nil, Info{}, err
	}
	info := Info{Version: f.version, Aux: map[string]string{}, ReplOffset: -1}
	if err := verifyChecksum(b); err != nil {
		return nil, Info{}, err
	}
	info.Checksummed = binary.LittleEndian.Uint64(b[len(b)-8:]) != 0
	ks := keyspace.New(clk)
	if err := decode(b, f, ks, &info); err != nil {
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

// verifyChecksum checks the trailing CRC-64 of a file that ends in one. An
// all-zero checksum, written by a server with rdbchecksum off, passes.
func verifyChecksum(b []byte) error {
	if len(b) < headerLen+1+8 {
		return nil
	}
	body, sum := b[:len(b)-8], binary.LittleEndian.Uint64(b[len(b)-8:])
	if sum == 0 {
		return nil
	}
	h := crc64jones.New()
	_, _ = h.Write(body)
	if got := h.Sum64(); got != sum {
		return fmt.Errorf("%w: checksum mismatch: file says %016x, content hashes to %016x", ErrCorrupt, sum, got)
	}
	return nil
}

// decode runs the hdt3213 decoder over a file scanFrame accepted.
func decode(b []byte, f *frame, ks *keyspace.Keyspace, info *Info) (err error) {
	// The decoder indexes into ziplists and listpacks without bounds
	// checks; a corrupt blob makes it panic. This is the one place that
	// turns a panic into an error.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: decoder: %v", ErrCorrupt, p)
		}
	}()
	seen := make([]map[string]struct{}, keyspace.NumDBs)
	n := 0
	var cbErr error
	parseErr := core.NewDecoder(bytes.NewReader(b)).WithSpecialOpCode().Parse(func(obj model.RedisObject) bool {
		switch o := obj.(type) {
		case *model.AuxObject:
			info.Aux[o.Key] = o.Value
			return true
		case *model.DBSizeObject, *model.FunctionsObject:
			return true
		}
		if n >= len(f.keys) {
			cbErr = fmt.Errorf("%w: decoder found more keys than the file holds", ErrCorrupt)
			return false
		}
		fk := f.keys[n]
		n++
		if obj.GetDBIndex() != fk.db {
			cbErr = fmt.Errorf("%w: key %q: database %d, expected %d", ErrCorrupt, obj.GetKey(), obj.GetDBIndex(), fk.db)
			return false
		}
		v, ok, err := toValue(obj, fk)
		if err != nil {
			cbErr = err
			return false
		}
		if !ok {
			info.SkippedEmpty++
			return true
		}
		// The decoder's key strings alias its buffers; keep a copy.
		key := string([]byte(obj.GetKey()))
		if seen[fk.db] == nil {
			seen[fk.db] = map[string]struct{}{}
		}
		if _, dup := seen[fk.db][key]; dup {
			cbErr = fmt.Errorf("%w: duplicate key %q in database %d", ErrCorrupt, key, fk.db)
			return false
		}
		seen[fk.db][key] = struct{}{}
		if err := ks.Put(fk.db, key, v, fk.expireAt); err != nil {
			cbErr = fmt.Errorf("%w: %w", ErrCorrupt, err)
			return false
		}
		info.Keys++
		return true
	})
	switch {
	case cbErr != nil:
		return cbErr
	case parseErr != nil:
		return fmt.Errorf("%w: decoder: %v", ErrCorrupt, parseErr)
	case n != len(f.keys):
		return fmt.Errorf("%w: decoder returned %d of %d keys", ErrCorrupt, n, len(f.keys))
	}
	return nil
}

// toValue converts a decoded object; ok is false for an empty collection.
func toValue(obj model.RedisObject, fk frameKey) (v keyspace.Value, ok bool, err error) {
	switch o := obj.(type) {
	case *model.StreamObject:
		if fk.stream == nil {
			return v, false, fmt.Errorf("%w: key %q: decoder found a stream the framing did not", ErrCorrupt, o.Key)
		}
		// Redis keeps empty streams (they carry groups and IDs).
		return keyspace.Value{Type: keyspace.TypeStream, Stream: fk.stream}, true, nil
	case *model.StringObject:
		return keyspace.Value{Type: keyspace.TypeString, Str: o.Value}, true, nil
	case *model.ListObject:
		return keyspace.Value{Type: keyspace.TypeList, List: o.Values}, len(o.Values) > 0, nil
	case *model.HashObject:
		if len(o.FieldExpirations) > 0 {
			return v, false, fmt.Errorf("%w: key %q: hash field expiry", ErrUnsupported, o.Key)
		}
		hash := make(map[string][]byte, len(o.Hash))
		for f, val := range o.Hash {
			hash[string([]byte(f))] = val
		}
		return keyspace.Value{Type: keyspace.TypeHash, Hash: hash}, len(hash) > 0, nil
	case *model.SetObject:
		set := make([]string, len(o.Members))
		for i, m := range o.Members {
			set[i] = string(m)
		}
		return keyspace.Value{Type: keyspace.TypeSet, Set: set}, len(set) > 0, nil
	case *model.ZSetObject:
		z := make([]keyspace.ZMember, len(o.Entries))
		for i, e := range o.Entries {
			z[i] = keyspace.ZMember{Member: string([]byte(e.Member)), Score: e.Score}
		}
		return keyspace.Value{Type: keyspace.TypeZSet, ZSet: z}, len(z) > 0, nil
	}
	return v, false, fmt.Errorf("%w: key %q: %s value", ErrUnsupported, obj.GetKey(), obj.GetType())
}
