package keyspace

import (
	"math"

	"github.com/replsm/replsm/redis/resp"
)

// BITFIELD follows bitops.c (Redis 7.0): GET, SET and INCRBY on signed
// (i1..i64) and unsigned (u1..u63) fields at bit offsets ("#n" scales by
// the width), with OVERFLOW WRAP (the default), SAT or FAIL.

const (
	bfWrap = iota
	bfSat
	bfFail
)

type bitfieldOp struct {
	op     byte // 'g', 's', 'i'
	offset uint64
	value  int64
	bits   uint64
	signed bool
	ow     int
}

func getUnsignedBits(p []byte, off, bits uint64) uint64 {
	var v uint64
	for j := uint64(0); j < bits; j++ {
		var b byte
		if i := off >> 3; i < uint64(len(p)) {
			b = p[i]
		}
		v = v<<1 | uint64(b>>(7-off&7)&1)
		off++
	}
	return v
}

func getSignedBits(p []byte, off, bits uint64) int64 {
	v := int64(getUnsignedBits(p, off, bits))
	if bits < 64 && v&(1<<(bits-1)) != 0 {
		v |= -1 << bits
	}
	return v
}

func setUnsignedBits(p []byte, off, bits, value uint64) {
	for j := uint64(0); j < bits; j++ {
		bit := value&(1<<(bits-1-j)) != 0
		mask := byte(1) << (7 - off&7)
		if bit {
			p[off>>3] |= mask
		} else {
			p[off>>3] &^= mask
		}
		off++
	}
}

// checkUnsignedOverflow is checkUnsignedBitfieldOverflow.
func checkUnsignedOverflow(value uint64, incr int64, bits uint64, ow int) (int, uint64) {
	max := uint64(math.MaxUint64)
	if bits < 64 {
		max = 1<<bits - 1
	}
	maxincr := int64(max - value)
	minincr := int64(-value)
	wrap := func() uint64 {
		res := value + uint64(incr)
		if bits < 64 {
			res &= ^(^uint64(0) << bits)
		}
		return res
	}
	switch {
	case value > max || (incr > 0 && incr > maxincr):
		if ow == bfWrap {
			return 1, wrap()
		}
		return 1, max
	case incr < 0 && incr < minincr:
		if ow == bfWrap {
			return 1, wrap()
		}
		return -1, 0
	}
	return 0, 0
}

// checkSignedOverflow is checkSignedBitfieldOverflow.
func checkSignedOverflow(value, incr int64, bits uint64, ow int) (int, int64) {
	max := int64(math.MaxInt64)
	if bits < 64 {
		max = 1<<(bits-1) - 1
	}
	min := -max - 1
	maxincr := int64(uint64(max) - uint64(value))
	minincr := min - value
	wrap := func() int64 {
		c := uint64(value) + uint64(incr)
		if bits < 64 {
			mask := ^uint64(0) << bits
			if c&(1<<(bits-1)) != 0 {
				c |= mask
			} else {
				c &^= mask
			}
		}
		return int64(c)
	}
	switch {
	case value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr):
		if ow == bfWrap {
			return 1, wrap()
		}
		return 1, max
	case value < min || (bits != 64 && incr < minincr) || (value < 0 && incr < 0 && incr < minincr):
		if ow == bfWrap {
			return 1, wrap()
		}
		return -1, min
	}
	return 0, 0
}

func bitfieldTypeErr() Reply {
	return errReply("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")
}

func cmdBitField(c *execCtx, args [][]byte) Reply { return c.bitfield(args, false) }

func cmdBitFieldRO(c *execCtx, args [][]byte) Reply { return c.bitfield(args, true) }

func (c *execCtx) bitfield(args [][]byte, readOnly bool) Reply {
	ow := bfWrap
	var ops []bitfieldOp
	writes := false
	var highest uint64
	for j := 2; j < len(args); j++ {
		rem := len(args) - j - 1
		var op bitfieldOp
		switch sub := lower(args[j]); {
		case sub == "get" && rem >= 2:
			op.op = 'g'
		case sub == "set" && rem >= 3:
			op.op = 's'
		case sub == "incrby" && rem >= 3:
			op.op = 'i'
		case sub == "overflow" && rem >= 1:
			j++
			switch lower(args[j]) {
			case "wrap":
				ow = bfWrap
			case "sat":
				ow = bfSat
			case "fail":
				ow = bfFail
			default:
				return errReply("ERR Invalid OVERFLOW type specified")
			}
			continue
		default:
			return syntaxErr()
		}
		t := args[j+1]
		if len(t) < 2 || (t[0] != 'i' && t[0] != 'u') {
			return bitfieldTypeErr()
		}
		op.signed = t[0] == 'i'
		n, ok := parseInt(t[1:])
		if !ok || n < 1 || (op.signed && n > 64) || (!op.signed && n > 63) {
			return bitfieldTypeErr()
		}
		op.bits = uint64(n)
		offArg := args[j+2]
		hash := len(offArg) > 0 && offArg[0] == '#'
		if hash {
			offArg = offArg[1:]
		}
		off, ok := parseInt(offArg)
		if ok && hash {
			if off > math.MaxInt64/n || off < math.MinInt64/n {
				ok = false
			}
			off *= n
		}
		// Redis lets its primary exceed proto-max-bulk-len here; this
		// keyspace keeps the bound everywhere, so memory stays bounded.
		if !ok || off < 0 || off>>3 >= maxStringLen {
			return errReply("ERR bit offset is not an integer or out of range")
		}
		op.offset = uint64(off)
		op.ow = ow
		if op.op != 'g' {
			writes = true
			highest = max(highest, op.offset+op.bits-1)
			v, ok := parseInt(args[j+3])
			if !ok {
				return notInteger()
			}
			op.value = v
			j += 3
		} else {
			j += 2
		}
		ops = append(ops, op)
	}
	var buf []byte
	grown := false
	if !writes {
		o, ok := c.readTyped(args[1], TypeString)
		if !ok {
			return wrongType()
		}
		if o != nil {
			buf = o.str
		}
	} else {
		if readOnly {
			return errReply("ERR BITFIELD_RO only supports the GET subcommand")
		}
		o, ok := c.writeTyped(args[1], TypeString)
		if !ok {
			return wrongType()
		}
		need := int(highest>>3) + 1
		if o == nil {
			buf, grown = make([]byte, need), true
		} else {
			buf = make([]byte, max(len(o.str), need))
			copy(buf, o.str)
			grown = len(buf) != len(o.str)
		}
	}
	out := make([]Reply, 0, len(ops))
	changes := 0
	for _, op := range ops {
		switch {
		case op.op == 'g' && op.signed:
			out = append(out, integer(getSignedBits(buf, op.offset, op.bits)))
		case op.op == 'g':
			out = append(out, integer(int64(getUnsignedBits(buf, op.offset, op.bits))))
		case op.signed:
			old := getSignedBits(buf, op.offset, op.bits)
			var nv, ret int64
			var of int
			var lim int64
			if op.op == 'i' {
				of, lim = checkSignedOverflow(old, op.value, op.bits, op.ow)
				nv = old + op.value
				if of != 0 {
					nv = lim
				}
				ret = nv
			} else {
				nv = op.value
				if of, lim = checkSignedOverflow(nv, 0, op.bits, op.ow); of != 0 {
					nv = lim
				}
				ret = old
			}
			if of != 0 && op.ow == bfFail {
				out = append(out, resp.NullBulk())
				continue
			}
			out = append(out, integer(ret))
			setUnsignedBits(buf, op.offset, op.bits, uint64(nv))
			if grown || old != nv {
				changes++
			}
		default:
			old := getUnsignedBits(buf, op.offset, op.bits)
			var nv, ret, lim uint64
			var of int
			if op.op == 'i' {
				nv = old + uint64(op.value)
				if of, lim = checkUnsignedOverflow(old, op.value, op.bits, op.ow); of != 0 {
					nv = lim
				}
				ret = nv
			} else {
				nv = uint64(op.value)
				if of, lim = checkUnsignedOverflow(nv, 0, op.bits, op.ow); of != 0 {
					nv = lim
				}
				ret = old
			}
			if of != 0 && op.ow == bfFail {
				out = append(out, resp.NullBulk())
				continue
			}
			out = append(out, integer(int64(ret)))
			setUnsignedBits(buf, op.offset, op.bits, nv)
			if grown || old != nv {
				changes++
			}
		}
	}
	if writes {
		// The key exists (zero-filled) even when every write failed, as
		// lookupStringForBitCommand leaves it.
		c.setValue(args[1], newString(c.gen(), buf), true)
		c.dirty += changes
	}
	return resp.Array(out...)
}
