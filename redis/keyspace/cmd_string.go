package keyspace

import (
	"math"

	"github.com/replsm/replsm/redis/resp"
)

// maxStringLen is Redis's proto-max-bulk-len default; APPEND may not grow a
// string past it.
const maxStringLen = 512 << 20

func cmdGet(c *execCtx, args [][]byte) Reply {
	o, ok := c.readTyped(args[1], TypeString)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return null()
	}
	return bulk(o.str)
}

func cmdMGet(c *execCtx, args [][]byte) Reply {
	out := make([]Reply, 0, len(args)-1)
	for _, key := range args[1:] {
		o := c.lookupRead(key)
		if o == nil || o.kind() != TypeString {
			out = append(out, null())
			continue
		}
		out = append(out, bulk(o.str))
	}
	return resp.Array(out...)
}

func cmdStrlen(c *execCtx, args [][]byte) Reply {
	o, ok := c.readTyped(args[1], TypeString)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return integer(0)
	}
	return integer(int64(len(o.str)))
}

type expireUnit uint8

const (
	unitNone expireUnit = iota
	unitEX
	unitPX
	unitEXAT
	unitPXAT
)

// setArgs is a parsed SET.
type setArgs struct {
	nx, xx, get, keepTTL bool
	unit                 expireUnit
	expire               []byte
}

func parseSetArgs(args [][]byte) (setArgs, bool) {
	var s setArgs
	for i := 3; i < len(args); i++ {
		opt := lower(args[i])
		next := i+1 < len(args)
		// Mirrors parseExtendedStringArgumentsOrReply: a repeated option is
		// fine, conflicting ones are a syntax error.
		switch {
		case opt == "nx" && !s.xx:
			s.nx = true
		case opt == "xx" && !s.nx:
			s.xx = true
		case opt == "get":
			s.get = true
		case opt == "keepttl" && s.unit == unitNone:
			s.keepTTL = true
		case opt == "ex" && next && !s.keepTTL && (s.unit == unitNone || s.unit == unitEX):
			s.unit, s.expire = unitEX, args[i+1]
			i++
		case opt == "px" && next && !s.keepTTL && (s.unit == unitNone || s.unit == unitPX):
			s.unit, s.expire = unitPX, args[i+1]
			i++
		case opt == "exat" && next && !s.keepTTL && (s.unit == unitNone || s.unit == unitEXAT):
			s.unit, s.expire = unitEXAT, args[i+1]
			i++
		case opt == "pxat" && next && !s.keepTTL && (s.unit == unitNone || s.unit == unitPXAT):
			s.unit, s.expire = unitPXAT, args[i+1]
			i++
		default:
			return s, false
		}
	}
	return s, true
}

// expireMillis turns a SET-style expire argument into absolute unix ms, as
// getExpireMillisecondsOrReply does.
func (c *execCtx) expireMillis(arg []byte, unit expireUnit, cmdName string) (int64, *Reply) {
	invalid := errReply("ERR invalid expire time in '" + cmdName + "' command")
	ms, ok := parseInt(arg)
	if !ok {
		r := notInteger()
		return 0, &r
	}
	seconds := unit == unitEX || unit == unitEXAT
	if ms <= 0 || (seconds && ms > math.MaxInt64/1000) {
		return 0, &invalid
	}
	if seconds {
		ms *= 1000
	}
	if unit == unitEX || unit == unitPX {
		if ms > math.MaxInt64-c.now {
			return 0, &invalid
		}
		ms += c.now
	}
	return ms, nil
}

func cmdSet(c *execCtx, args [][]byte) Reply {
	s, ok := parseSetArgs(args)
	if !ok {
		return syntaxErr()
	}
	return c.set(args, s, "set", nil, nil)
}

// set is setGenericCommand. onSet and onAbort replace +OK and the nil reply
// (SETNX's 1 and 0).
func (c *execCtx) set(args [][]byte, s setArgs, name string, onSet, onAbort *Reply) Reply {
	key, val := args[1], args[2]
	if name == "setex" || name == "psetex" {
		val = args[3]
	}
	var when int64
	if s.unit != unitNone {
		var bad *Reply
		if when, bad = c.expireMillis(s.expire, s.unit, name); bad != nil {
			return *bad
		}
	}
	var old Reply
	if s.get {
		o, ok := c.readTyped(key, TypeString)
		if !ok {
			return wrongType()
		}
		old = null()
		if o != nil {
			old = bulk(o.str)
		}
	}
	// A primary looks the key up even for a plain SET, as Redis does: an
	// expired key is deleted (and the DEL propagated) first. A replica
	// never expires keys itself, so there only NX and XX need the lookup.
	found := false
	if s.nx || s.xx || !c.k.replica {
		found = c.lookupWrite(key) != nil
	}
	if (s.nx && found) || (s.xx && !found) {
		switch {
		case s.get:
			return old
		case onAbort != nil:
			return *onAbort
		}
		return null()
	}
	c.setValue(key, newString(c.gen(), clone(val)), s.keepTTL)
	c.dirty++
	switch {
	case s.unit != unitNone:
		c.db.expires[string(key)] = when
		// Replicas must not recompute a relative TTL.
		c.rewrite = [][]byte{[]byte("SET"), key, val, []byte("PXAT"), formatInt(when)}
	case s.get:
		c.rewrite = dropGet(args)
	}
	switch {
	case s.get:
		return old
	case onSet != nil:
		return *onSet
	}
	return okReply()
}

// dropGet removes the GET options of a SET, which replicas need not run.
func dropGet(args [][]byte) [][]byte {
	out := make([][]byte, 0, len(args))
	for i, a := range args {
		if i >= 3 && lower(a) == "get" {
			continue
		}
		out = append(out, a)
	}
	return out
}

func cmdSetNX(c *execCtx, args [][]byte) Reply {
	one, zero := integer(1), integer(0)
	return c.set(args, setArgs{nx: true}, "setnx", &one, &zero)
}

func cmdSetEX(c *execCtx, args [][]byte) Reply {
	return c.set(args, setArgs{unit: unitEX, expire: args[2]}, "setex", nil, nil)
}

func cmdPSetEX(c *execCtx, args [][]byte) Reply {
	return c.set(args, setArgs{unit: unitPX, expire: args[2]}, "psetex", nil, nil)
}

func cmdGetSet(c *execCtx, args [][]byte) Reply {
	o, ok := c.readTyped(args[1], TypeString)
	if !ok {
		return wrongType()
	}
	old := null()
	if o != nil {
		old = bulk(o.str)
	}
	c.setValue(args[1], newString(c.gen(), clone(args[2])), false)
	c.dirty++
	c.rewrite = [][]byte{[]byte("SET"), args[1], args[2]}
	return old
}

func cmdGetDel(c *execCtx, args [][]byte) Reply {
	o, ok := c.readTyped(args[1], TypeString)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return null()
	}
	c.db.remove(string(args[1]))
	c.dirty++
	c.rewrite = [][]byte{[]byte("DEL"), args[1]}
	return bulk(o.str)
}

func cmdMSet(c *execCtx, args [][]byte) Reply {
	if len(args)%2 == 0 {
		return arityReply("mset")
	}
	for i := 1; i < len(args); i += 2 {
		c.setValue(args[i], newString(c.gen(), clone(args[i+1])), false)
	}
	c.dirty += (len(args) - 1) / 2
	return okReply()
}

func cmdMSetNX(c *execCtx, args [][]byte) Reply {
	if len(args)%2 == 0 {
		return arityReply("msetnx")
	}
	for i := 1; i < len(args); i += 2 {
		if c.lookupWrite(args[i]) != nil {
			return integer(0)
		}
	}
	for i := 1; i < len(args); i += 2 {
		c.setValue(args[i], newString(c.gen(), clone(args[i+1])), false)
	}
	c.dirty += (len(args) - 1) / 2
	return integer(1)
}

func cmdIncr(c *execCtx, args [][]byte) Reply { return c.incrBy(args[1], 1) }

func cmdDecr(c *execCtx, args [][]byte) Reply { return c.incrBy(args[1], -1) }

func cmdIncrBy(c *execCtx, args [][]byte) Reply {
	n, ok := parseInt(args[2])
	if !ok {
		return notInteger()
	}
	return c.incrBy(args[1], n)
}

func cmdDecrBy(c *execCtx, args [][]byte) Reply {
	n, ok := parseInt(args[2])
	if !ok {
		return notInteger()
	}
	if n == math.MinInt64 {
		return errReply("ERR decrement would overflow")
	}
	return c.incrBy(args[1], -n)
}

// incrBy is incrDecrCommand. The TTL is kept.
func (c *execCtx) incrBy(key []byte, incr int64) Reply {
	o := c.lookupWrite(key)
	var cur int64
	if o != nil {
		if o.kind() != TypeString {
			return wrongType()
		}
		var ok bool
		if cur, ok = parseInt(o.str); !ok {
			return notInteger()
		}
	}
	if (incr < 0 && cur < 0 && incr < math.MinInt64-cur) || (incr > 0 && cur > 0 && incr > math.MaxInt64-cur) {
		return overflowErr()
	}
	cur += incr
	c.setValue(key, newString(c.gen(), formatInt(cur)), true)
	c.dirty++
	return integer(cur)
}

func cmdIncrByFloat(c *execCtx, args [][]byte) Reply {
	key := args[1]
	o := c.lookupWrite(key)
	cur, _ := parseLongDouble([]byte("0"))
	if o != nil {
		if o.kind() != TypeString {
			return wrongType()
		}
		var ok bool
		if cur, ok = parseLongDouble(o.str); !ok {
			return notFloat()
		}
	}
	incr, ok := parseLongDouble(args[2])
	if !ok {
		return notFloat()
	}
	sum, ok := addLongDouble(cur, incr)
	if !ok {
		return errReply("ERR increment would produce NaN or Infinity")
	}
	val := formatLongDouble(sum)
	c.setValue(key, newString(c.gen(), val), true)
	c.dirty++
	// Float formatting must not differ between primary and replica: the
	// result is propagated, not the increment.
	c.rewrite = [][]byte{[]byte("SET"), key, val, []byte("KEEPTTL")}
	return bulk(val)
}

func cmdAppend(c *execCtx, args [][]byte) Reply {
	key := args[1]
	o := c.lookupWrite(key)
	if o == nil {
		c.create(key, newString(c.gen(), clone(args[2])))
		c.dirty++
		return integer(int64(len(args[2])))
	}
	if o.kind() != TypeString {
		return wrongType()
	}
	if len(o.str)+len(args[2]) > maxStringLen {
		return errReply("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
	}
	// A new slice, never an in-place append: replies may still hold o.str.
	val := make([]byte, 0, len(o.str)+len(args[2]))
	val = append(append(val, o.str...), args[2]...)
	c.setValue(key, newString(c.gen(), val), true)
	c.dirty++
	return integer(int64(len(val)))
}
