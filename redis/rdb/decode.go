package rdb

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"

	"github.com/replsm/replsm/redis/keyspace"
)

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
	// maxPresize bounds the keys a RESIZEDB hint may presize a database
	// for: the hint is only a hint, and a forged one must not allocate.
	maxPresize = 1 << 22
	// smallCount is the most elements preallocated for a collection's
	// declared count; larger ones grow as elements arrive.
	smallCount = 1024
)

var posInf, negInf = math.Inf(1), math.Inf(-1)

// decodeFile reads a whole RDB from d into ks: header, opcodes, keys, the
// checksum. It is the only loop over the file.
func decodeFile(d *decoder, ks *keyspace.Keyspace, info *Info) error {
	l := newLoader(ks, info)
	return l.finish(decodeLoop(d, l))
}

func decodeLoop(d *decoder, l *loader) error {
	ks, info := l.ks, l.info
	hdr, err := d.fixed(headerLen)
	if errors.Is(err, ErrCorrupt) {
		return corruptf(0, "not an RDB file (no REDIS magic)")
	} else if err != nil {
		return err
	}
	if string(hdr[:5]) != "REDIS" {
		return corruptf(0, "not an RDB file (no REDIS magic)")
	}
	for _, c := range hdr[5:] {
		if c < '0' || c > '9' {
			return corruptf(5, "bad version %q", hdr[5:])
		}
		info.Version = info.Version*10 + int(c-'0')
	}
	if info.Version < minVersion || info.Version > maxVersion {
		return unsupportedf(5, "RDB version %d (supported: %d..%d)", info.Version, minVersion, maxVersion)
	}
	db := 0
	expireAt := keyspace.NoExpire
	for {
		at := d.off()
		op, err := d.byte()
		if err != nil {
			return err
		}
		switch op {
		case opEOF:
			info.Checksummed, err = d.checksum()
			return err
		case opSelectDB:
			n, err := d.length()
			if err != nil {
				return err
			}
			if n >= keyspace.NumDBs {
				return unsupportedf(at, "database %d (only %d)", n, keyspace.NumDBs)
			}
			db = int(n)
		case opExpireTime:
			v, err := d.fixed(4)
			if err != nil {
				return err
			}
			expireAt = int64(int32(binary.LittleEndian.Uint32(v))) * 1000
		case opExpireTimeMs:
			v, err := d.fixed(8)
			if err != nil {
				return err
			}
			expireAt = int64(binary.LittleEndian.Uint64(v))
		case opResizeDB:
			n, err := d.length()
			if err != nil {
				return err
			}
			if _, err := d.length(); err != nil {
				return err
			}
			ks.Reserve(db, int(min(n, maxPresize)))
		case opAux:
			k, err := d.str()
			if err != nil {
				return err
			}
			v, err := d.str()
			if err != nil {
				return err
			}
			info.Aux[string(k)] = string(v)
		case opFreq:
			if _, err := d.byte(); err != nil {
				return err
			}
		case opIdle:
			if _, err := d.length(); err != nil {
				return err
			}
		case opFunction2:
			// Redis 7.0 replicates FCALL's effects, not the call: the
			// library is not needed.
			if _, err := d.blobOrStr(); err != nil {
				return err
			}
		case opModuleAux, opFunction:
			return unsupportedf(at, "opcode 0x%02x (module aux data or 7.0-rc functions)", op)
		default:
			if err := decodeKey(d, l, op, at, db, expireAt); err != nil {
				return err
			}
			expireAt = keyspace.NoExpire
		}
	}
}

// blobOrStr skips any string.
func (d *decoder) blobOrStr() ([]byte, error) { return d.str() }

func decodeKey(d *decoder, l *loader, typ byte, at int64, db int, expireAt int64) error {
	switch {
	case typ == typeModule || typ == typeModule2:
		return unsupportedf(at, "module value")
	case typ > typeStreamListpack3 && typ <= typeHashMetadata:
		return unsupportedf(at, "hash with field expiry (type %d)", typ)
	}
	key, err := d.key()
	if err != nil {
		return err
	}
	v, err := decodeValue(d, typ, at)
	if err != nil {
		return err
	}
	if v.Type != keyspace.TypeStream && v.Type != keyspace.TypeString && empty(v) {
		l.info.SkippedEmpty++
		return nil
	}
	return l.put(db, key, v, expireAt, at)
}

func empty(v keyspace.Value) bool {
	return len(v.List) == 0 && len(v.Hash) == 0 && len(v.Set) == 0 && len(v.ZSet) == 0
}

// decodeValue reads one value of type typ.
func decodeValue(d *decoder, typ byte, at int64) (keyspace.Value, error) {
	var v keyspace.Value
	var err error
	blobErr := func(err error) error {
		if _, ok := err.(lpError); ok {
			return corruptf(at, "%v", err)
		}
		return err
	}
	switch typ {
	case typeString:
		v.Type = keyspace.TypeString
		v.Str, err = d.str()
	case typeList:
		v.Type = keyspace.TypeList
		err = d.repeat(func(n uint64) { v.List = make([][]byte, 0, min(n, smallCount)) }, func() error {
			e, err := d.str()
			v.List = append(v.List, e)
			return err
		})
	case typeSet:
		v.Type = keyspace.TypeSet
		err = d.repeat(func(n uint64) { v.Set = make([]string, 0, min(n, smallCount)) }, func() error {
			m, err := d.key()
			v.Set = append(v.Set, m)
			return err
		})
	case typeZSet, typeZSet2:
		v.Type = keyspace.TypeZSet
		err = d.repeat(func(n uint64) { v.ZSet = make([]keyspace.ZMember, 0, min(n, smallCount)) }, func() error {
			m, err := d.key()
			if err != nil {
				return err
			}
			var score float64
			if typ == typeZSet {
				score, err = d.literalDouble()
			} else {
				var b []byte
				if b, err = d.fixed(8); err == nil {
					score = math.Float64frombits(binary.LittleEndian.Uint64(b))
				}
			}
			v.ZSet = append(v.ZSet, keyspace.ZMember{Member: m, Score: score})
			return err
		})
	case typeHash:
		v.Type = keyspace.TypeHash
		err = d.repeat(func(n uint64) { v.Hash = make(map[string][]byte, min(n, smallCount)) }, func() error {
			f, err := d.key()
			if err != nil {
				return err
			}
			val, err := d.str()
			v.Hash[f] = val
			return err
		})
	case typeHashZipmap:
		v.Type = keyspace.TypeHash
		v.Hash = map[string][]byte{}
		var zm []byte
		if zm, err = d.blob(); err == nil {
			err = blobErr(zipmapPairs(zm, func(f, val []byte) error { v.Hash[string(f)] = val; return nil }))
		}
	case typeListZiplist:
		v.Type = keyspace.TypeList
		err = d.collection(false, func(e []byte) error { v.List = append(v.List, e); return nil })
	case typeListQuicklist:
		v.Type = keyspace.TypeList
		err = d.repeat(nil, func() error {
			return d.collection(false, func(e []byte) error { v.List = append(v.List, e); return nil })
		})
	case typeListQuicklist2:
		v.Type = keyspace.TypeList
		err = d.repeat(nil, func() error {
			container, err := d.length()
			if err != nil {
				return err
			}
			switch container {
			case 1: // plain node: one element
				e, err := d.str()
				v.List = append(v.List, e)
				return err
			case 2: // packed node: a listpack
				return d.collection(true, func(e []byte) error { v.List = append(v.List, e); return nil })
			}
			return corruptf(d.off(), "unknown quicklist container %d", container)
		})
	case typeSetIntset:
		v.Type = keyspace.TypeSet
		var is []byte
		if is, err = d.blob(); err == nil {
			v.Set, err = intsetMembers(is)
			err = blobErr(err)
		}
	case typeSetListpack:
		v.Type = keyspace.TypeSet
		err = d.collection(true, func(e []byte) error { v.Set = append(v.Set, string(e)); return nil })
	case typeHashZiplist, typeHashListpack:
		v.Type = keyspace.TypeHash
		v.Hash = map[string][]byte{}
		var field []byte
		odd := false
		err = d.collection(typ == typeHashListpack, func(e []byte) error {
			if odd = !odd; odd {
				field = e
			} else {
				v.Hash[string(field)] = e
			}
			return nil
		})
		if err == nil && odd {
			err = corruptf(at, "hash encoding with an odd number of elements")
		}
	case typeZSetZiplist, typeZSetListpack:
		v.Type = keyspace.TypeZSet
		var member []byte
		odd := false
		err = d.collection(typ == typeZSetListpack, func(e []byte) error {
			if odd = !odd; odd {
				member = e
				return nil
			}
			score, perr := strconv.ParseFloat(string(e), 64)
			if perr != nil {
				return errf("bad score %q", e)
			}
			v.ZSet = append(v.ZSet, keyspace.ZMember{Member: string(member), Score: score})
			return nil
		})
		if err == nil && odd {
			err = corruptf(at, "sorted-set encoding with an odd number of elements")
		}
	case typeStreamListpacks, typeStreamListpack2, typeStreamListpack3:
		v.Type = keyspace.TypeStream
		v.Stream, err = d.streamValue(typ)
	default:
		return v, corruptf(at, "unknown value type %d", typ)
	}
	return v, blobErr(err)
}

// repeat reads a count, calls alloc with it (when not nil) and elem that
// many times. The count is not trusted for memory: alloc preallocates at
// most smallCount, and every element costs input bytes.
func (d *decoder) repeat(alloc func(n uint64), elem func() error) error {
	n, err := d.length()
	if err != nil {
		return err
	}
	if alloc != nil {
		alloc(n)
	}
	for range n {
		if err := elem(); err != nil {
			return err
		}
	}
	return nil
}

// collection reads a ziplist or listpack blob and calls fn per element.
func (d *decoder) collection(listpack bool, fn func([]byte) error) error {
	at := d.off()
	b, err := d.blob()
	if err != nil {
		return err
	}
	if err := elements(b, listpack, fn); err != nil {
		if _, ok := err.(lpError); ok {
			return corruptf(at, "%v", err)
		}
		return err
	}
	return nil
}
