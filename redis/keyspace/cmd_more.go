package keyspace

import (
	"bytes"
	"math"
	"math/bits"
	"slices"
	"strings"

	"github.com/replsm/replsm/redis/resp"
)

// Commands a primary propagates verbatim, beyond the basic families:
// string ranges and bits, list moves and inserts, set algebra, sorted-set
// range removal, pops and stores, and key moves between databases.

// Strings: ranges and bits.

func cmdSetRange(c *execCtx, args [][]byte) Reply {
	off, ok := parseInt(args[2])
	if !ok {
		return notInteger()
	}
	if off < 0 {
		return errReply("ERR offset is out of range")
	}
	val := args[3]
	o, ok := c.writeTyped(args[1], TypeString)
	if !ok {
		return wrongType()
	}
	if o == nil {
		if len(val) == 0 {
			return integer(0)
		}
	} else if len(val) == 0 {
		return integer(int64(len(o.str)))
	}
	if off+int64(len(val)) > maxStringLen {
		return errReply("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
	}
	var cur []byte
	if o != nil {
		cur = o.str
	}
	n := max(int64(len(cur)), off+int64(len(val)))
	out := make([]byte, n)
	copy(out, cur)
	copy(out[off:], val)
	c.setValue(args[1], newString(c.gen(), out), true)
	c.dirty++
	return integer(n)
}

func cmdGetRange(c *execCtx, args [][]byte) Reply {
	start, ok1 := parseInt(args[2])
	end, ok2 := parseInt(args[3])
	if !ok1 || !ok2 {
		return notInteger()
	}
	o, ok := c.readTyped(args[1], TypeString)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return bulk([]byte{})
	}
	n := int64(len(o.str))
	if start < 0 && end < 0 && start > end {
		return bulk([]byte{})
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start, end = max(start, 0), max(end, 0)
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		return bulk([]byte{})
	}
	return bulk(o.str[start : end+1])
}

// maxBitOffset is 512 MB of bits, Redis's proto-max-bulk-len default.
const maxBitOffset = maxStringLen * 8

func parseBitOffset(b []byte) (int64, bool) {
	n, ok := parseInt(b)
	return n, ok && n >= 0 && n < maxBitOffset
}

func cmdSetBit(c *execCtx, args [][]byte) Reply {
	off, ok := parseBitOffset(args[2])
	if !ok {
		return errReply("ERR bit offset is not an integer or out of range")
	}
	if v := string(args[3]); v != "0" && v != "1" {
		return errReply("ERR bit is not an integer or out of range")
	}
	o, ok := c.writeTyped(args[1], TypeString)
	if !ok {
		return wrongType()
	}
	var cur []byte
	if o != nil {
		cur = o.str
	}
	byteIdx := off >> 3
	out := make([]byte, max(int64(len(cur)), byteIdx+1))
	copy(out, cur)
	mask := byte(1) << (7 - uint(off&7))
	old := out[byteIdx]&mask != 0
	if args[3][0] == '1' {
		out[byteIdx] |= mask
	} else {
		out[byteIdx] &^= mask
	}
	c.setValue(args[1], newString(c.gen(), out), true)
	c.dirty++
	return boolInt(old)
}

func cmdGetBit(c *execCtx, args [][]byte) Reply {
	off, ok := parseBitOffset(args[2])
	if !ok {
		return errReply("ERR bit offset is not an integer or out of range")
	}
	o, ok := c.readTyped(args[1], TypeString)
	if !ok {
		return wrongType()
	}
	if o == nil || off>>3 >= int64(len(o.str)) {
		return integer(0)
	}
	return boolInt(o.str[off>>3]&(1<<(7-uint(off&7))) != 0)
}

func cmdBitCount(c *execCtx, args [][]byte) Reply {
	if len(args) != 2 && len(args) != 4 && len(args) != 5 {
		return syntaxErr()
	}
	var start, end int64
	isBit := false
	if len(args) >= 4 {
		var ok1, ok2 bool
		start, ok1 = parseInt(args[2])
		end, ok2 = parseInt(args[3])
		if !ok1 || !ok2 {
			return notInteger()
		}
		if len(args) == 5 {
			switch lower(args[4]) {
			case "bit":
				isBit = true
			case "byte":
			default:
				return syntaxErr()
			}
		}
	}
	o, ok := c.readTyped(args[1], TypeString)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return integer(0)
	}
	s := o.str
	if len(args) == 2 {
		return integer(popcount(s))
	}
	total := int64(len(s))
	if isBit {
		total <<= 3
	}
	if start < 0 && end < 0 && start > end {
		return integer(0)
	}
	if start < 0 {
		start += total
	}
	if end < 0 {
		end += total
	}
	start, end = max(start, 0), max(end, 0)
	if end >= total {
		end = total - 1
	}
	if start > end {
		return integer(0)
	}
	if !isBit {
		return integer(popcount(s[start : end+1]))
	}
	var n int64
	for i := start; i <= end; i++ {
		if s[i>>3]&(1<<(7-uint(i&7))) != 0 {
			n++
		}
	}
	return integer(n)
}

func popcount(b []byte) int64 {
	var n int
	for _, x := range b {
		n += bits.OnesCount8(x)
	}
	return int64(n)
}

func cmdBitOp(c *execCtx, args [][]byte) Reply {
	op := lower(args[1])
	switch op {
	case "and", "or", "xor", "not":
	default:
		return syntaxErr()
	}
	if op == "not" && len(args) != 4 {
		return errReply("ERR BITOP NOT must be called with a single source key.")
	}
	srcs := make([][]byte, 0, len(args)-3)
	maxLen := 0
	for _, k := range args[3:] {
		o := c.lookupWrite(k)
		if o == nil {
			srcs = append(srcs, nil)
			continue
		}
		if o.kind() != TypeString {
			return wrongType()
		}
		srcs = append(srcs, o.str)
		maxLen = max(maxLen, len(o.str))
	}
	out := make([]byte, maxLen)
	for i := range out {
		var b byte
		for j, s := range srcs {
			var x byte
			if i < len(s) {
				x = s[i]
			}
			switch {
			case op == "not":
				b = ^x
			case j == 0:
				b = x
			case op == "and":
				b &= x
			case op == "or":
				b |= x
			case op == "xor":
				b ^= x
			}
		}
		out[i] = b
	}
	dst := args[2]
	if maxLen > 0 {
		c.setValue(dst, newString(c.gen(), out), false)
	} else {
		c.db.remove(string(dst))
	}
	c.dirty++
	return integer(int64(maxLen))
}

// Lists.

func cmdLInsert(c *execCtx, args [][]byte) Reply {
	var after bool
	switch lower(args[2]) {
	case "after":
		after = true
	case "before":
	default:
		return syntaxErr()
	}
	o, ok := c.writeTyped(args[1], TypeList)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return integer(0)
	}
	all := o.list.all()
	i := slices.IndexFunc(all, func(e []byte) bool { return bytes.Equal(e, args[3]) })
	if i < 0 {
		return integer(-1)
	}
	if after {
		i++
	}
	o.list.reset(slices.Insert(slices.Clone(all), i, clone(args[4])))
	c.dirty++
	return integer(int64(o.list.len()))
}

func parseWhere(b []byte) (front bool, ok bool) {
	switch lower(b) {
	case "left":
		return true, true
	case "right":
		return false, true
	}
	return false, false
}

func cmdLMove(c *execCtx, args [][]byte) Reply {
	from, ok1 := parseWhere(args[3])
	to, ok2 := parseWhere(args[4])
	if !ok1 || !ok2 {
		return syntaxErr()
	}
	return c.lmove(args[1], args[2], from, to)
}

func cmdRPopLPush(c *execCtx, args [][]byte) Reply {
	return c.lmove(args[1], args[2], false, true)
}

func (c *execCtx) lmove(src, dst []byte, from, to bool) Reply {
	so, ok := c.writeTyped(src, TypeList)
	if !ok {
		return wrongType()
	}
	if so == nil {
		return null()
	}
	if d := c.lookupWrite(dst); d != nil && d.kind() != TypeList {
		return wrongType()
	}
	var v []byte
	if from {
		v = so.list.popFront()
	} else {
		v = so.list.popBack()
	}
	do, _ := c.writeTyped(dst, TypeList)
	if do == nil {
		do = newList(c.gen())
		c.create(dst, do)
	}
	if to {
		do.list.pushFront(v)
	} else {
		do.list.pushBack(v)
	}
	c.deleteIfEmpty(src, so)
	c.dirty++
	return bulk(v)
}

// Sets.

func cmdSMove(c *execCtx, args [][]byte) Reply {
	so, ok := c.writeTyped(args[1], TypeSet)
	if !ok {
		return wrongType()
	}
	if d := c.lookupWrite(args[2]); d != nil && d.kind() != TypeSet {
		return wrongType()
	}
	if so == nil {
		return integer(0)
	}
	m := string(args[3])
	if string(args[1]) == string(args[2]) {
		_, is := so.set[m]
		return boolInt(is)
	}
	if _, is := so.set[m]; !is {
		return integer(0)
	}
	delete(so.set, m)
	c.deleteIfEmpty(args[1], so)
	do, _ := c.writeTyped(args[2], TypeSet)
	if do == nil {
		do = newSet(c.gen())
		c.create(args[2], do)
	}
	do.set[m] = struct{}{}
	c.dirty++
	return integer(1)
}

type setOp int

const (
	setUnion setOp = iota
	setInter
	setDiff
)

// setAlgebra computes op over keys; ok=false means a wrong type.
func (c *execCtx) setAlgebra(keys [][]byte, op setOp, write bool) (map[string]struct{}, bool) {
	sets := make([]map[string]struct{}, len(keys))
	for i, k := range keys {
		var o *object
		if write {
			o = c.lookupWrite(k)
		} else {
			o = c.lookupRead(k)
		}
		if o == nil {
			continue
		}
		if o.kind() != TypeSet {
			return nil, false
		}
		sets[i] = o.set
	}
	out := map[string]struct{}{}
	switch op {
	case setUnion:
		for _, s := range sets {
			for m := range s {
				out[m] = struct{}{}
			}
		}
	case setInter:
		for _, s := range sets {
			if len(s) == 0 {
				return out, true
			}
		}
		for m := range sets[0] {
			in := true
			for _, s := range sets[1:] {
				if _, ok := s[m]; !ok {
					in = false
					break
				}
			}
			if in {
				out[m] = struct{}{}
			}
		}
	case setDiff:
		for m := range sets[0] {
			in := false
			for _, s := range sets[1:] {
				if _, ok := s[m]; ok {
					in = true
					break
				}
			}
			if !in {
				out[m] = struct{}{}
			}
		}
	}
	return out, true
}

func setRead(op setOp) func(c *execCtx, args [][]byte) Reply {
	return func(c *execCtx, args [][]byte) Reply {
		out, ok := c.setAlgebra(args[1:], op, false)
		if !ok {
			return wrongType()
		}
		return bulkStrings(sortedMembers(out))
	}
}

func setStore(op setOp) func(c *execCtx, args [][]byte) Reply {
	return func(c *execCtx, args [][]byte) Reply {
		out, ok := c.setAlgebra(args[2:], op, true)
		if !ok {
			return wrongType()
		}
		dst := args[1]
		if len(out) == 0 {
			if c.db.remove(string(dst)) {
				c.dirty++
			}
			return integer(0)
		}
		o := newSet(c.gen())
		o.set = out
		c.setValue(dst, o, false)
		c.dirty++
		return integer(int64(len(out)))
	}
}

// Sorted sets.

func zpop(max bool) func(c *execCtx, args [][]byte) Reply {
	return func(c *execCtx, args [][]byte) Reply {
		if len(args) > 3 {
			return syntaxErr()
		}
		count := int64(1)
		if len(args) == 3 {
			n, ok := parseInt(args[2])
			if !ok {
				return notInteger()
			}
			if n < 0 {
				return errReply("ERR value is out of range, must be positive")
			}
			count = n
		}
		o, ok := c.writeTyped(args[1], TypeZSet)
		if !ok {
			return wrongType()
		}
		if o == nil || count == 0 {
			return resp.Array()
		}
		var out []Reply
		for range min(count, int64(len(o.zset.sorted))) {
			i := 0
			if max {
				i = len(o.zset.sorted) - 1
			}
			m := o.zset.sorted[i]
			o.zset.remove(m.Member)
			out = append(out, bulkStr(m.Member), bulk(formatDouble(m.Score)))
			c.dirty++
		}
		c.deleteIfEmpty(args[1], o)
		return resp.Array(out...)
	}
}

// zremRange removes members [lo, hi) of the sorted order.
func (c *execCtx) zremRange(key []byte, o *object, lo, hi int) Reply {
	if hi <= lo {
		return integer(0)
	}
	for _, m := range o.zset.sorted[lo:hi] {
		delete(o.zset.scores, m.Member)
	}
	o.zset.sorted = slices.Delete(slices.Clone(o.zset.sorted), lo, hi)
	c.deleteIfEmpty(key, o)
	c.dirty += hi - lo
	return integer(int64(hi - lo))
}

func cmdZRemRangeByScore(c *execCtx, args [][]byte) Reply {
	r, ok := parseScoreRange(args[2], args[3])
	if !ok {
		return errReply("ERR min or max is not a float")
	}
	o, ok := c.writeTyped(args[1], TypeZSet)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return integer(0)
	}
	lo, hi := o.zset.byScore(r)
	return c.zremRange(args[1], o, lo, hi)
}

func cmdZRemRangeByLex(c *execCtx, args [][]byte) Reply {
	r, ok := parseLexRange(args[2], args[3])
	if !ok {
		return errReply("ERR min or max not valid string range item")
	}
	o, ok := c.writeTyped(args[1], TypeZSet)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return integer(0)
	}
	lo, hi := o.zset.byLex(r)
	return c.zremRange(args[1], o, lo, hi)
}

func cmdZRemRangeByRank(c *execCtx, args [][]byte) Reply {
	start, ok1 := parseInt(args[2])
	end, ok2 := parseInt(args[3])
	if !ok1 || !ok2 {
		return notInteger()
	}
	o, ok := c.writeTyped(args[1], TypeZSet)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return integer(0)
	}
	lo, hi, ok := listRange(start, end, int64(len(o.zset.sorted)))
	if !ok {
		return integer(0)
	}
	return c.zremRange(args[1], o, int(lo), int(hi)+1)
}

// zsetStore is ZUNIONSTORE, ZINTERSTORE and ZDIFFSTORE:
// dst numkeys key... [WEIGHTS w...] [AGGREGATE SUM|MIN|MAX].
func zsetStore(op setOp) func(c *execCtx, args [][]byte) Reply {
	return func(c *execCtx, args [][]byte) Reply {
		name := lower(args[0])
		n, ok := parseInt(args[2])
		if !ok {
			return notInteger()
		}
		if n < 1 {
			return errReply("ERR at least 1 input key is needed for '" + name + "' command")
		}
		if n > int64(len(args)-3) {
			return syntaxErr()
		}
		keys := args[3 : 3+n]
		weights := make([]float64, n)
		for i := range weights {
			weights[i] = 1
		}
		agg := "sum"
		for j := 3 + int(n); j < len(args); j++ {
			rest := len(args) - j - 1
			switch opt := lower(args[j]); {
			case op != setDiff && opt == "weights" && int64(rest) >= n:
				for i := range weights {
					w, ok := parseDouble(args[j+1+i])
					if !ok {
						return errReply("ERR weight value is not a float")
					}
					weights[i] = w
				}
				j += int(n)
			case op != setDiff && opt == "aggregate" && rest >= 1:
				switch a := lower(args[j+1]); a {
				case "sum", "min", "max":
					agg = a
				default:
					return syntaxErr()
				}
				j++
			default:
				return syntaxErr()
			}
		}
		inputs := make([]map[string]float64, n)
		for i, k := range keys {
			o := c.lookupWrite(k)
			switch {
			case o == nil:
				inputs[i] = map[string]float64{}
			case o.kind() == TypeZSet:
				inputs[i] = o.zset.scores
			case o.kind() == TypeSet:
				m := make(map[string]float64, len(o.set))
				for s := range o.set {
					m[s] = 1
				}
				inputs[i] = m
			default:
				return wrongType()
			}
		}
		out := map[string]float64{}
		combine := func(acc, v float64) float64 {
			switch agg {
			case "min":
				return math.Min(acc, v)
			case "max":
				return math.Max(acc, v)
			}
			s := acc + v
			if math.IsNaN(s) { // inf + -inf, as zunionInterAggregate
				return 0
			}
			return s
		}
		weigh := func(s, w float64) float64 {
			v := s * w
			if math.IsNaN(v) {
				return 0
			}
			return v
		}
		switch op {
		case setUnion:
			for i, in := range inputs {
				for m, s := range in {
					v := weigh(s, weights[i])
					if acc, seen := out[m]; seen {
						out[m] = combine(acc, v)
					} else {
						out[m] = v
					}
				}
			}
		case setInter:
			for m, s := range inputs[0] {
				v, in := weigh(s, weights[0]), true
				for i, other := range inputs[1:] {
					s2, ok := other[m]
					if !ok {
						in = false
						break
					}
					v = combine(v, weigh(s2, weights[i+1]))
				}
				if in {
					out[m] = v
				}
			}
		case setDiff:
			for m, s := range inputs[0] {
				in := false
				for _, other := range inputs[1:] {
					if _, ok := other[m]; ok {
						in = true
						break
					}
				}
				if !in {
					out[m] = s
				}
			}
		}
		dst := args[1]
		if len(out) == 0 {
			if c.db.remove(string(dst)) {
				c.dirty++
			}
			return integer(0)
		}
		o := newZSet(c.gen())
		for m, s := range out {
			o.zset.set(m, s)
		}
		c.setValue(dst, o, false)
		c.dirty++
		return integer(int64(len(out)))
	}
}

// Keys across databases.

func (c *execCtx) parseDB(b []byte) (int, *Reply) {
	n, ok := parseInt(b)
	if !ok || n < math.MinInt32 || n > math.MaxInt32 {
		r := notInteger()
		return 0, &r
	}
	if n < 0 || n >= NumDBs {
		r := errReply("ERR DB index is out of range")
		return 0, &r
	}
	return int(n), nil
}

func cmdCopy(c *execCtx, args [][]byte) Reply {
	dstDB, replace := *c.dbIndex, false
	for j := 3; j < len(args); j++ {
		switch opt := lower(args[j]); {
		case opt == "replace":
			replace = true
		case opt == "db" && j+1 < len(args):
			d, bad := c.parseDB(args[j+1])
			if bad != nil {
				return *bad
			}
			dstDB = d
			j++
		default:
			return syntaxErr()
		}
	}
	src, dst := args[1], args[2]
	if dstDB == *c.dbIndex && string(src) == string(dst) {
		return errReply("ERR source and destination objects are the same")
	}
	o := c.lookupWrite(src)
	if o == nil {
		return integer(0)
	}
	when, hasTTL := c.db.expires[string(src)]
	target := c.k.dbs[dstDB]
	if _, exists := target.keys[string(dst)]; exists {
		if !replace && !c.expiredIn(target, string(dst)) {
			return integer(0)
		}
		target.remove(string(dst))
	}
	target.add(string(dst), o.clone(c.gen()))
	if hasTTL {
		target.expires[string(dst)] = when
	}
	c.dirty++
	return integer(1)
}

// expiredIn reports whether key in d is logically gone for a write: on a
// primary an expired key counts as missing.
func (c *execCtx) expiredIn(d *db, key string) bool {
	when, ok := d.expires[key]
	return !c.k.replica && ok && c.now > when
}

func cmdMove(c *execCtx, args [][]byte) Reply {
	n, ok := parseInt(args[2])
	if !ok || n < math.MinInt32 || n > math.MaxInt32 {
		return notInteger()
	}
	if n < 0 || n >= NumDBs {
		return errReply("ERR DB index is out of range")
	}
	if int(n) == *c.dbIndex {
		return errReply("ERR source and destination objects are the same")
	}
	key := string(args[1])
	o := c.lookupWrite(args[1])
	if o == nil {
		return integer(0)
	}
	target := c.k.dbs[n]
	if _, exists := target.keys[key]; exists {
		if !c.expiredIn(target, key) {
			return integer(0)
		}
		target.remove(key)
	}
	when, hasTTL := c.db.expires[key]
	c.db.remove(key)
	target.add(key, o)
	if hasTTL {
		target.expires[key] = when
	}
	c.dirty++
	return integer(1)
}

func cmdSwapDB(c *execCtx, args [][]byte) Reply {
	a, ok1 := parseInt(args[1])
	if !ok1 {
		return errReply("ERR invalid first DB index")
	}
	b, ok2 := parseInt(args[2])
	if !ok2 {
		return errReply("ERR invalid second DB index")
	}
	if a < 0 || a >= NumDBs || b < 0 || b >= NumDBs {
		return errReply("ERR DB index is out of range")
	}
	c.k.dbs[a], c.k.dbs[b] = c.k.dbs[b], c.k.dbs[a]
	c.db = c.k.dbs[*c.dbIndex]
	c.dirty++
	return okReply()
}

// Functions. A replica keeps no libraries (FCALL's effects arrive as
// commands), but it accepts what a primary propagates so that the stream
// goes on: FUNCTION LOAD, DELETE, FLUSH and RESTORE.
func cmdFunction(c *execCtx, args [][]byte) Reply {
	sub := lower(args[1])
	switch {
	case sub == "load" && len(args) >= 3:
		name, ok := libraryName(args[len(args)-1])
		if !ok {
			return errReply("ERR Missing library metadata")
		}
		replace := len(args) == 4 && lower(args[2]) == "replace"
		if len(args) > 4 || (len(args) == 4 && !replace) {
			return syntaxErr()
		}
		if _, exists := c.k.functions[name]; exists && !replace {
			return errReply("ERR Library '" + name + "' already exists")
		}
		if c.k.functions == nil {
			c.k.functions = map[string][]byte{}
		}
		c.k.functions[name] = clone(args[len(args)-1])
		c.dirty++
		return bulkStr(name)
	case sub == "delete" && len(args) == 3:
		if _, exists := c.k.functions[string(args[2])]; !exists {
			return errReply("ERR Library not found")
		}
		delete(c.k.functions, string(args[2]))
		c.dirty++
		return okReply()
	case sub == "flush" && len(args) <= 3:
		c.k.functions = nil
		c.dirty++
		return okReply()
	case sub == "restore" && len(args) >= 3:
		// The payload is a DUMP of libraries; the replica keeps none.
		c.dirty++
		return okReply()
	}
	return errReply("ERR unknown subcommand or wrong number of arguments for '" + string(args[1]) + "'. Try FUNCTION HELP.")
}

// libraryName reads the "#!<engine> name=<name>" first line of a library.
func libraryName(code []byte) (string, bool) {
	line, _, _ := bytes.Cut(code, []byte("\n"))
	if !bytes.HasPrefix(line, []byte("#!")) {
		return "", false
	}
	for _, f := range strings.Fields(string(line[2:])) {
		if v, ok := strings.CutPrefix(f, "name="); ok && v != "" {
			return v, true
		}
	}
	return "", false
}

// cmdZRangeStore is ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV]
// [LIMIT offset count]: ZRANGE's selection, stored with its scores.
func cmdZRangeStore(c *execCtx, args [][]byte) Reply {
	for _, a := range args[5:] {
		if lower(a) == "withscores" {
			return syntaxErr()
		}
	}
	src := args[2]
	o, ok := c.writeTyped(src, TypeZSet)
	if !ok {
		return wrongType()
	}
	rangeArgs := append([][]byte{[]byte("ZRANGE")}, args[2:]...)
	r := cmdZRange(c, rangeArgs)
	if r.Kind != resp.KindArray {
		return r
	}
	dst := args[1]
	if len(r.Array) == 0 {
		if c.db.remove(string(dst)) {
			c.dirty++
		}
		return integer(0)
	}
	z := newZSet(c.gen())
	for _, m := range r.Array {
		s, _ := o.zset.score(string(m.Str))
		z.zset.set(string(m.Str), s)
	}
	c.setValue(dst, z, false)
	c.dirty++
	return integer(int64(len(r.Array)))
}
