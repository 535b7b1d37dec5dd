package keyspace

import (
	"math"
	"slices"

	"github.com/replsm/replsm/redis/resp"
)

// hashForWrite returns key's hash, creating an empty one if needed; ok is
// false for a key of another type. A new hash is stored only by the caller
// (via c.create) once it holds a field.
func (c *execCtx) hashForWrite(key []byte) (o *object, created, ok bool) {
	o, ok = c.writeTyped(key, TypeHash)
	if !ok {
		return nil, false, false
	}
	if o == nil {
		return newHash(c.gen()), true, true
	}
	return o, false, true
}

func cmdHSet(c *execCtx, args [][]byte) Reply {
	n, r := c.hset(args)
	if r != nil {
		return *r
	}
	return integer(int64(n))
}

func cmdHMSet(c *execCtx, args [][]byte) Reply {
	if _, r := c.hset(args); r != nil {
		return *r
	}
	return okReply()
}

// hset sets field/value pairs and returns how many fields are new.
func (c *execCtx) hset(args [][]byte) (int, *Reply) {
	if len(args)%2 == 1 {
		r := arityReply(lower(args[0]))
		return 0, &r
	}
	o, created, ok := c.hashForWrite(args[1])
	if !ok {
		r := wrongType()
		return 0, &r
	}
	added := 0
	for i := 2; i < len(args); i += 2 {
		f := string(args[i])
		if _, exists := o.hash[f]; !exists {
			added++
		}
		o.hash[f] = clone(args[i+1])
	}
	if created {
		c.create(args[1], o)
	}
	c.dirty += (len(args) - 2) / 2
	return added, nil
}

func cmdHSetNX(c *execCtx, args [][]byte) Reply {
	o, created, ok := c.hashForWrite(args[1])
	if !ok {
		return wrongType()
	}
	if _, exists := o.hash[string(args[2])]; exists {
		return integer(0)
	}
	o.hash[string(args[2])] = clone(args[3])
	if created {
		c.create(args[1], o)
	}
	c.dirty++
	return integer(1)
}

func cmdHDel(c *execCtx, args [][]byte) Reply {
	o, ok := c.writeTyped(args[1], TypeHash)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return integer(0)
	}
	n := 0
	for _, f := range args[2:] {
		if _, exists := o.hash[string(f)]; exists {
			delete(o.hash, string(f))
			n++
		}
	}
	c.deleteIfEmpty(args[1], o)
	c.dirty += n
	return integer(int64(n))
}

func cmdHIncrBy(c *execCtx, args [][]byte) Reply {
	incr, ok := parseInt(args[3])
	if !ok {
		return notInteger()
	}
	o, created, ok := c.hashForWrite(args[1])
	if !ok {
		return wrongType()
	}
	var cur int64
	if v, exists := o.hash[string(args[2])]; exists {
		if cur, ok = parseInt(v); !ok {
			return errReply("ERR hash value is not an integer")
		}
	}
	if (incr < 0 && cur < 0 && incr < math.MinInt64-cur) || (incr > 0 && cur > 0 && incr > math.MaxInt64-cur) {
		return overflowErr()
	}
	cur += incr
	o.hash[string(args[2])] = formatInt(cur)
	if created {
		c.create(args[1], o)
	}
	c.dirty++
	return integer(cur)
}

func cmdHIncrByFloat(c *execCtx, args [][]byte) Reply {
	incr, ok := parseLongDouble(args[3])
	if !ok {
		return notFloat()
	}
	if incr.IsInf() {
		return errReply("ERR value is NaN or Infinity")
	}
	o, created, ok := c.hashForWrite(args[1])
	if !ok {
		return wrongType()
	}
	cur, _ := parseLongDouble([]byte("0"))
	if v, exists := o.hash[string(args[2])]; exists {
		if cur, ok = parseLongDouble(v); !ok {
			return errReply("ERR hash value is not a float")
		}
	}
	sum, ok := addLongDouble(cur, incr)
	if !ok {
		return errReply("ERR increment would produce NaN or Infinity")
	}
	val := formatLongDouble(sum)
	o.hash[string(args[2])] = val
	if created {
		c.create(args[1], o)
	}
	c.dirty++
	// Replicated as HSET with the result so float formatting cannot make
	// replicas differ, as Redis does.
	c.rewrite = [][]byte{[]byte("HSET"), args[1], args[2], val}
	return bulk(val)
}

func cmdHGet(c *execCtx, args [][]byte) Reply {
	o, ok := c.readTyped(args[1], TypeHash)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return null()
	}
	v, exists := o.hash[string(args[2])]
	if !exists {
		return null()
	}
	return bulk(v)
}

func cmdHMGet(c *execCtx, args [][]byte) Reply {
	o, ok := c.readTyped(args[1], TypeHash)
	if !ok {
		return wrongType()
	}
	out := make([]Reply, len(args)-2)
	for i, f := range args[2:] {
		out[i] = null()
		if o != nil {
			if v, exists := o.hash[string(f)]; exists {
				out[i] = bulk(v)
			}
		}
	}
	return resp.Array(out...)
}

// sortedFields returns a hash's fields in byte order, so replies are
// deterministic.
func sortedFields(h map[string][]byte) []string {
	fs := make([]string, 0, len(h))
	for f := range h {
		fs = append(fs, f)
	}
	slices.Sort(fs)
	return fs
}

func cmdHGetAll(c *execCtx, args [][]byte) Reply {
	o, ok := c.readTyped(args[1], TypeHash)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return resp.Array()
	}
	out := make([]Reply, 0, 2*len(o.hash))
	for _, f := range sortedFields(o.hash) {
		out = append(out, bulkStr(f), bulk(o.hash[f]))
	}
	return resp.Array(out...)
}

func cmdHKeys(c *execCtx, args [][]byte) Reply {
	o, ok := c.readTyped(args[1], TypeHash)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return resp.Array()
	}
	return bulkStrings(sortedFields(o.hash))
}

func cmdHVals(c *execCtx, args [][]byte) Reply {
	o, ok := c.readTyped(args[1], TypeHash)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return resp.Array()
	}
	fs := sortedFields(o.hash)
	out := make([][]byte, len(fs))
	for i, f := range fs {
		out[i] = o.hash[f]
	}
	return bulkArray(out)
}

func cmdHLen(c *execCtx, args [][]byte) Reply {
	o, ok := c.readTyped(args[1], TypeHash)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return integer(0)
	}
	return integer(int64(len(o.hash)))
}

func cmdHExists(c *execCtx, args [][]byte) Reply {
	o, ok := c.readTyped(args[1], TypeHash)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return integer(0)
	}
	_, exists := o.hash[string(args[2])]
	return boolInt(exists)
}
