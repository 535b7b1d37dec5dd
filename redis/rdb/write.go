package rdb

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"

	"github.com/hdt3213/rdb/core"
	"github.com/hdt3213/rdb/crc64jones"
	"github.com/hdt3213/rdb/model"

	"github.com/replsm/replsm/redis/keyspace"
)

// RedisVersion is the "redis-ver" aux field Write records: the Redis
// release whose RDB format (version 10) it writes.
const RedisVersion = "7.0.15"

// Redis 7.0's default listpack limits; smaller values get the compact
// ziplist encodings, as Redis itself would choose.
const (
	hashMaxListpackEntries = 128
	hashMaxListpackValue   = 64
	zsetMaxListpackEntries = 128
	zsetMaxListpackValue   = 64
	// maxZiplistScoreLen is how much of a ziplist score Redis parses.
	maxZiplistScoreLen = 127
)

// Write serializes snap as an RDB that Redis 7.0 loads, with the aux fields
// redis-ver, redis-bits, repl-stream-db, repl-id, repl-offset and aof-base.
// Keys go out by database and then in byte order; hash fields and set
// members follow the encoder's map order, so two runs may differ in bytes
// but never in content.
func Write(w io.Writer, snap *keyspace.Snapshot, replID string, offset int64) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	pw := &patchWriter{w: bw, crc: crc64jones.New()}
	enc := core.NewEncoder(pw).
		SetHashZipListOpt(hashMaxListpackValue, hashMaxListpackEntries).
		SetZSetZipListOpt(zsetMaxListpackValue, zsetMaxListpackEntries)
	if err := writeAll(enc, pw, snap, replID, offset); err != nil {
		return err
	}
	if err := pw.finish(); err != nil {
		return err
	}
	return bw.Flush()
}

func writeAll(enc *core.Encoder, pw io.Writer, snap *keyspace.Snapshot, replID string, offset int64) error {
	if err := enc.WriteHeader(); err != nil {
		return err
	}
	aux := [][2]string{
		{"redis-ver", RedisVersion},
		{"redis-bits", "64"},
		{"repl-stream-db", "0"},
		{"repl-id", replID},
		{"repl-offset", strconv.FormatInt(offset, 10)},
		{"aof-base", "0"},
	}
	for _, kv := range aux {
		if err := enc.WriteAux(kv[0], kv[1]); err != nil {
			return err
		}
	}
	// Streams bypass the encoder (see stream_write.go). The encoder must
	// have written an object of a database before its next database header
	// or its end, so a database's streams go out after its other keys, and
	// a database holding only streams gets its header from us too.
	curDB := -1
	var streams []byte
	flush := func() error {
		if len(streams) == 0 {
			return nil
		}
		_, err := pw.Write(streams)
		streams = streams[:0]
		return err
	}
	err := snap.Each(func(db int, key string, v keyspace.Value, expireAt int64) error {
		if db != curDB {
			if err := flush(); err != nil {
				return err
			}
			curDB = db
			if onlyStreams(snap, db) {
				keys, ttls := snap.DBLen(db)
				streams = append(streams, opSelectDB)
				streams = appendRDBLen(streams, uint64(db))
				streams = append(streams, opResizeDB)
				streams = appendRDBLen(streams, uint64(keys))
				streams = appendRDBLen(streams, uint64(ttls))
			} else {
				keys, ttls := snap.DBLen(db)
				if err := enc.WriteDBHeader(uint(db), uint64(keys), uint64(ttls)); err != nil {
					return err
				}
			}
		}
		if v.Type == keyspace.TypeStream {
			streams = appendStream(streams, key, v.Stream, expireAt)
			return nil
		}
		var opts []any
		if expireAt != keyspace.NoExpire {
			opts = append(opts, core.WithTTL(uint64(expireAt)))
		}
		return writeValue(enc, key, v, opts)
	})
	if err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	return enc.WriteEnd()
}

// onlyStreams reports whether every key of database db is a stream.
func onlyStreams(snap *keyspace.Snapshot, db int) bool {
	return snap.TypeCount(db, keyspace.TypeStream) == func() int { n, _ := snap.DBLen(db); return n }()
}

func writeValue(enc *core.Encoder, key string, v keyspace.Value, opts []any) error {
	switch v.Type {
	case keyspace.TypeString:
		return enc.WriteStringObject(key, v.Str, opts...)
	case keyspace.TypeList:
		if err := checkQuicklistPages(v.List); err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
		return enc.WriteListObject(key, v.List, opts...)
	case keyspace.TypeHash:
		return enc.WriteHashMapObject(key, v.Hash, opts...)
	case keyspace.TypeSet:
		members := make([][]byte, len(v.Set))
		for i, m := range v.Set {
			members[i] = []byte(m)
		}
		return enc.WriteSetObject(key, members, opts...)
	case keyspace.TypeZSet:
		entries := make([]*model.ZSetEntry, len(v.ZSet))
		textScores := true
		for i, m := range v.ZSet {
			entries[i] = &model.ZSetEntry{Member: m.Member, Score: m.Score}
			textScores = textScores && len(strconv.FormatFloat(m.Score, 'f', -1, 64)) <= maxZiplistScoreLen
		}
		if !textScores {
			// The encoder writes ziplist scores in %f notation, and Redis
			// reads at most 127 characters of one (zzlStrtod): 1e-300
			// would load as 0. Such sets go out with binary scores.
			enc.SetZSetZipListOpt(zsetMaxListpackValue, -1)
			defer enc.SetZSetZipListOpt(zsetMaxListpackValue, zsetMaxListpackEntries)
		}
		return enc.WriteZSetObject(key, entries, opts...)
	}
	return fmt.Errorf("%w: key %q: type %v", ErrUnsupported, key, v.Type)
}

// checkQuicklistPages rejects the one list the encoder cannot represent: it
// closes a quicklist page after 4 KiB of element bytes, so 65536 or more
// empty elements in one page would overflow the page's 16-bit count.
func checkQuicklistPages(list [][]byte) error {
	if len(list) <= 512 { // written as a single ziplist
		return nil
	}
	size, count := 0, 0
	for _, e := range list {
		size += len(e)
		count++
		if count >= 0xFFFF {
			return fmt.Errorf("%w: list page of %d entries", ErrUnsupported, count)
		}
		if size >= 4<<10 {
			size, count = 0, 0
		}
	}
	return nil
}

// patchWriter sits between the hdt3213 encoder and the output. The encoder
// writes a "REDIS0011" header, which Redis 7.0 refuses, and a checksum over
// that header. patchWriter rewrites the version to 0010 and replaces the
// checksum: it forwards everything but the last 8 bytes it has seen, and
// finish writes a checksum of what it forwarded in place of those 8 bytes.
type patchWriter struct {
	w       io.Writer
	crc     hash.Hash64
	off     int64  // bytes forwarded
	pending []byte // the last (up to) 8 bytes received
}

var (
	encoderHeader = []byte("REDIS0011")
	redis7Header  = []byte("REDIS0010")
)

func (pw *patchWriter) Write(p []byte) (int, error) {
	pw.pending = append(pw.pending, p...)
	if n := len(pw.pending) - 8; n > 0 {
		if err := pw.forward(pw.pending[:n]); err != nil {
			return 0, err
		}
		pw.pending = append(pw.pending[:0], pw.pending[n:]...)
	}
	return len(p), nil
}

func (pw *patchWriter) forward(b []byte) error {
	for i := range b {
		if at := pw.off + int64(i); at < int64(len(encoderHeader)) {
			if b[i] != encoderHeader[at] {
				return errors.New("rdb: unexpected header from the hdt3213 encoder")
			}
			b[i] = redis7Header[at]
		}
	}
	_, _ = pw.crc.Write(b)
	pw.off += int64(len(b))
	_, err := pw.w.Write(b)
	return err
}

// finish drops the encoder's checksum and writes the real one.
func (pw *patchWriter) finish() error {
	if len(pw.pending) != 8 || pw.off < int64(len(encoderHeader)) {
		return errors.New("rdb: encoder output too short")
	}
	var sum [8]byte
	binary.LittleEndian.PutUint64(sum[:], pw.crc.Sum64())
	_, err := pw.w.Write(sum[:])
	return err
}
