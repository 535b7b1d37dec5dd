package rdb

import (
	"encoding/binary"
	"fmt"

	"github.com/hdt3213/rdb/lzf"

	"github.com/replsm/replsm/redis/keyspace"
)

// The hdt3213 decoder allocates whatever a length field announces before it
// reads the bytes, and Go treats an allocation it cannot satisfy as a fatal
// error, not a panic. So before decoding, scanFrame walks the RDB's framing
// without decoding values and checks every length against the bytes that
// actually remain (and every LZF expansion against what LZF can produce).
// It also records each key's database and raw expiry, which the decoder
// reports lossily (as time.Time, overflowing past year 2262, and dropping
// expiries <= 0), and it rejects what the decoder would silently misread.

// RDB opcodes and value types (Redis's rdb.h).
const (
	opFunction2    = 0xF5
	opFunction     = 0xF6 // 7.0 release candidates only
	opModuleAux    = 0xF7
	opIdle         = 0xF8
	opFreq         = 0xF9
	opAux          = 0xFA
	opResizeDB     = 0xFB
	opExpireTimeMs = 0xFC
	opExpireTime   = 0xFD
	opSelectDB     = 0xFE
	opEOF          = 0xFF

	typeString          = 0
	typeList            = 1
	typeSet             = 2
	typeZSet            = 3
	typeHash            = 4
	typeZSet2           = 5
	typeModule          = 6
	typeModule2         = 7
	typeHashZipmap      = 9
	typeListZiplist     = 10
	typeSetIntset       = 11
	typeZSetZiplist     = 12
	typeHashZiplist     = 13
	typeListQuicklist   = 14
	typeStreamListpacks = 15
	typeHashListpack    = 16
	typeZSetListpack    = 17
	typeListQuicklist2  = 18
	typeStreamListpack2 = 19
	typeSetListpack     = 20
	typeStreamListpack3 = 21
	typeHashMetadata    = 25 // last of the RDB 12 hash-with-field-TTL types (22..25)
)

const (
	minVersion = 5 // the first with a trailing checksum
	maxVersion = 12
	headerLen  = 9 // "REDIS" + 4 digits
	// maxLZFRatio bounds LZF's expansion: a 3-byte back reference yields at
	// most 264 bytes.
	maxLZFRatio = 100
)

// frame is what scanFrame learns about an RDB.
type frame struct {
	version int
	keys    []frameKey // one per key, in file order
}

type frameKey struct {
	db       int
	expireAt int64 // keyspace.NoExpire for none
	// stream is the decoded value of a stream key (see stream.go).
	stream *keyspace.Stream
}

type scanner struct {
	b   []byte
	pos int
	// stream is the stream keyValue decoded last, if the value was one.
	stream *keyspace.Stream
}

func corruptf(pos int, format string, args ...any) error {
	return fmt.Errorf("%w: offset %d: %s", ErrCorrupt, pos, fmt.Sprintf(format, args...))
}

func unsupportedf(pos int, format string, args ...any) error {
	return fmt.Errorf("%w: offset %d: %s", ErrUnsupported, pos, fmt.Sprintf(format, args...))
}

// scanFrame checks b's framing up to and including the 8-byte checksum,
// which must end b exactly.
func scanFrame(b []byte) (*frame, error) {
	s := &scanner{b: b}
	f := &frame{}
	if len(b) < headerLen || string(b[:5]) != "REDIS" {
		return nil, corruptf(0, "not an RDB file (no REDIS magic)")
	}
	for _, c := range b[5:headerLen] {
		if c < '0' || c > '9' {
			return nil, corruptf(5, "bad version %q", b[5:headerLen])
		}
		f.version = f.version*10 + int(c-'0')
	}
	if f.version < minVersion || f.version > maxVersion {
		return nil, unsupportedf(5, "RDB version %d (supported: %d..%d)", f.version, minVersion, maxVersion)
	}
	s.pos = headerLen
	db := 0
	expireAt := keyspace.NoExpire
	for {
		at := s.pos
		op, err := s.byte()
		if err != nil {
			return nil, err
		}
		switch op {
		case opEOF:
			if rest := len(b) - s.pos; rest != 8 {
				if rest < 8 {
					return nil, corruptf(s.pos, "truncated checksum")
				}
				return nil, corruptf(s.pos+8, "%d bytes after the checksum", rest-8)
			}
			return f, nil
		case opSelectDB:
			n, err := s.length()
			if err != nil {
				return nil, err
			}
			if n >= keyspace.NumDBs {
				return nil, unsupportedf(at, "database %d (only %d)", n, keyspace.NumDBs)
			}
			db = int(n)
		case opExpireTime:
			v, err := s.fixed(4)
			if err != nil {
				return nil, err
			}
			expireAt = int64(int32(binary.LittleEndian.Uint32(v))) * 1000
		case opExpireTimeMs:
			v, err := s.fixed(8)
			if err != nil {
				return nil, err
			}
			expireAt = int64(binary.LittleEndian.Uint64(v))
		case opResizeDB:
			if _, err := s.length(); err != nil {
				return nil, err
			}
			if _, err := s.length(); err != nil {
				return nil, err
			}
		case opAux:
			if _, err := s.str(false); err != nil {
				return nil, err
			}
			if _, err := s.str(false); err != nil {
				return nil, err
			}
		case opFreq:
			if _, err := s.byte(); err != nil {
				return nil, err
			}
		case opIdle:
			if _, err := s.length(); err != nil {
				return nil, err
			}
		case opFunction2:
			if _, err := s.str(false); err != nil {
				return nil, err
			}
		case opModuleAux, opFunction:
			return nil, unsupportedf(at, "opcode 0x%02x (module aux data or 7.0-rc functions)", op)
		default:
			s.stream = nil
			if err := s.keyValue(op); err != nil {
				return nil, err
			}
			f.keys = append(f.keys, frameKey{db: db, expireAt: expireAt, stream: s.stream})
			expireAt = keyspace.NoExpire
		}
	}
}

func (s *scanner) keyValue(typ byte) error {
	at := s.pos - 1
	switch {
	case typ == typeModule || typ == typeModule2:
		return unsupportedf(at, "module value")
	case typ > typeStreamListpack3 && typ <= typeHashMetadata:
		return unsupportedf(at, "hash with field expiry (type %d)", typ)
	}
	if _, err := s.str(false); err != nil { // the key
		return err
	}
	switch typ {
	case typeStreamListpacks, typeStreamListpack2, typeStreamListpack3:
		st, err := s.streamValue(typ)
		s.stream = st
		return err
	case typeString:
		_, err := s.str(false)
		return err
	case typeList, typeSet:
		return s.repeat(1, func() error { _, err := s.str(false); return err })
	case typeHash:
		return s.repeat(2, func() error {
			if _, err := s.str(false); err != nil {
				return err
			}
			_, err := s.str(false)
			return err
		})
	case typeZSet:
		return s.repeat(2, func() error {
			if _, err := s.str(false); err != nil {
				return err
			}
			return s.literalDouble()
		})
	case typeZSet2:
		return s.repeat(9, func() error {
			if _, err := s.str(false); err != nil {
				return err
			}
			_, err := s.fixed(8)
			return err
		})
	case typeHashZipmap:
		_, err := s.str(true)
		return err
	case typeListZiplist, typeZSetZiplist, typeHashZiplist:
		return s.ziplist()
	case typeSetIntset:
		return s.intset()
	case typeHashListpack, typeZSetListpack, typeSetListpack:
		return s.listpack()
	case typeListQuicklist:
		return s.repeat(1, s.ziplist)
	case typeListQuicklist2:
		return s.repeat(2, func() error {
			container, err := s.length()
			if err != nil {
				return err
			}
			switch container {
			case 1: // plain node: one element
				_, err = s.str(false)
				return err
			case 2: // packed node: a listpack
				return s.listpack()
			}
			return corruptf(s.pos, "unknown quicklist container %d", container)
		})
	}
	return corruptf(at, "unknown value type %d", typ)
}

// repeat reads a count and calls elem that many times. Each element takes
// at least minSize bytes, which bounds what a count may claim.
func (s *scanner) repeat(minSize int, elem func() error) error {
	at := s.pos
	n, err := s.length()
	if err != nil {
		return err
	}
	if n > uint64(len(s.b)-s.pos)/uint64(minSize) {
		return corruptf(at, "count %d exceeds the remaining %d bytes", n, len(s.b)-s.pos)
	}
	for range n {
		if err := elem(); err != nil {
			return err
		}
	}
	return nil
}

func (s *scanner) byte() (byte, error) {
	if s.pos >= len(s.b) {
		return 0, corruptf(s.pos, "unexpected end of file")
	}
	c := s.b[s.pos]
	s.pos++
	return c, nil
}

func (s *scanner) fixed(n int) ([]byte, error) {
	if len(s.b)-s.pos < n {
		return nil, corruptf(s.pos, "unexpected end of file reading %d bytes", n)
	}
	v := s.b[s.pos : s.pos+n]
	s.pos += n
	return v, nil
}

// length reads an RDB length; encoded (the 11xxxxxx form) is an error here.
func (s *scanner) length() (uint64, error) {
	at := s.pos
	n, enc, err := s.lengthOrEncoding()
	if err == nil && enc {
		err = corruptf(at, "string encoding 0x%02x where a length was expected", s.b[at])
	}
	return n, err
}

func (s *scanner) lengthOrEncoding() (n uint64, encoded bool, err error) {
	at := s.pos
	first, err := s.byte()
	if err != nil {
		return 0, false, err
	}
	switch first >> 6 {
	case 0:
		return uint64(first & 0x3F), false, nil
	case 1:
		next, err := s.byte()
		return uint64(first&0x3F)<<8 | uint64(next), false, err
	case 2:
		switch first {
		case 0x80:
			v, err := s.fixed(4)
			if err != nil {
				return 0, false, err
			}
			return uint64(binary.BigEndian.Uint32(v)), false, nil
		case 0x81:
			v, err := s.fixed(8)
			if err != nil {
				return 0, false, err
			}
			return binary.BigEndian.Uint64(v), false, nil
		}
		return 0, false, corruptf(at, "bad length encoding 0x%02x", first)
	}
	return uint64(first & 0x3F), true, nil
}

// str skips a string. When blob is set the string must be raw or LZF (not
// an integer encoding) and its bytes are returned, decompressed, so the
// caller can check a ziplist, listpack or intset header.
func (s *scanner) str(blob bool) ([]byte, error) {
	at := s.pos
	n, enc, err := s.lengthOrEncoding()
	if err != nil {
		return nil, err
	}
	if !enc {
		if n > uint64(len(s.b)-s.pos) {
			return nil, corruptf(at, "string of %d bytes exceeds the remaining %d", n, len(s.b)-s.pos)
		}
		return s.fixed(int(n))
	}
	switch n {
	case 0, 1, 2: // 8-, 16- and 32-bit integers
		if blob {
			return nil, corruptf(at, "integer-encoded string where a binary blob was expected")
		}
		_, err := s.fixed(1 << n)
		return nil, err
	case 3:
		clen, err := s.length()
		if err != nil {
			return nil, err
		}
		ulen, err := s.length()
		if err != nil {
			return nil, err
		}
		if clen > uint64(len(s.b)-s.pos) {
			return nil, corruptf(at, "LZF data of %d bytes exceeds the remaining %d", clen, len(s.b)-s.pos)
		}
		if ulen > clen*maxLZFRatio+64 {
			return nil, corruptf(at, "LZF claims %d bytes from %d", ulen, clen)
		}
		data, _ := s.fixed(int(clen))
		if !blob {
			return nil, nil
		}
		out, err := lzf.Decompress(data, len(data), int(ulen))
		if err != nil || len(out) != int(ulen) {
			return nil, corruptf(at, "bad LZF data")
		}
		return out, nil
	}
	return nil, corruptf(at, "unknown string encoding %d", n)
}

func (s *scanner) literalDouble() error {
	n, err := s.byte()
	if err != nil {
		return err
	}
	if n >= 253 { // NaN, +inf, -inf
		return nil
	}
	_, err = s.fixed(int(n))
	return err
}

// ziplist checks a ziplist blob's header. A count of 65535 means "too many
// to count", which the decoder would truncate at 65535.
func (s *scanner) ziplist() error {
	at := s.pos
	zl, err := s.str(true)
	if err != nil {
		return err
	}
	if len(zl) < 11 || zl[len(zl)-1] != 0xFF || int(binary.LittleEndian.Uint32(zl)) != len(zl) {
		return corruptf(at, "bad ziplist header")
	}
	if binary.LittleEndian.Uint16(zl[8:]) == 0xFFFF {
		return unsupportedf(at, "ziplist with 65535 or more entries")
	}
	return nil
}

func (s *scanner) listpack() error {
	at := s.pos
	lp, err := s.str(true)
	if err != nil {
		return err
	}
	if len(lp) < 7 || lp[len(lp)-1] != 0xFF || int(binary.LittleEndian.Uint32(lp)) != len(lp) {
		return corruptf(at, "bad listpack header")
	}
	if binary.LittleEndian.Uint16(lp[4:]) == 0xFFFF {
		return unsupportedf(at, "listpack with 65535 or more entries")
	}
	return nil
}

func (s *scanner) intset() error {
	at := s.pos
	is, err := s.str(true)
	if err != nil {
		return err
	}
	if len(is) < 8 {
		return corruptf(at, "bad intset header")
	}
	width := uint64(binary.LittleEndian.Uint32(is))
	count := uint64(binary.LittleEndian.Uint32(is[4:]))
	if (width != 2 && width != 4 && width != 8) || uint64(len(is)) != 8+width*count {
		return corruptf(at, "bad intset header (width %d, %d entries, %d bytes)", width, count, len(is))
	}
	return nil
}
