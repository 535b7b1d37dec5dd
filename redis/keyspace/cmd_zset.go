package keyspace

import (
	"math"
	"strconv"

	"github.com/replsm/replsm/redis/resp"
)

type zaddFlags struct {
	nx, xx, gt, lt, ch, incr bool
}

func cmdZAdd(c *execCtx, args [][]byte) Reply {
	var f zaddFlags
	i := 2
options:
	for ; i < len(args); i++ {
		switch lower(args[i]) {
		case "nx":
			f.nx = true
		case "xx":
			f.xx = true
		case "gt":
			f.gt = true
		case "lt":
			f.lt = true
		case "ch":
			f.ch = true
		case "incr":
			f.incr = true
		default:
			break options
		}
	}
	return c.zadd(args[1], args[i:], f)
}

func cmdZIncrBy(c *execCtx, args [][]byte) Reply {
	return c.zadd(args[1], args[2:], zaddFlags{incr: true})
}

// zadd is zaddGenericCommand; pairs alternates score and member.
func (c *execCtx) zadd(key []byte, pairs [][]byte, f zaddFlags) Reply {
	if len(pairs) == 0 || len(pairs)%2 != 0 {
		return syntaxErr()
	}
	if f.nx && f.xx {
		return errReply("ERR XX and NX options at the same time are not compatible")
	}
	if (f.gt && f.nx) || (f.lt && f.nx) || (f.gt && f.lt) {
		return errReply("ERR GT, LT, and/or NX options at the same time are not compatible")
	}
	if f.incr && len(pairs) > 2 {
		return errReply("ERR INCR option supports a single increment-element pair")
	}
	// Every score is checked before anything changes.
	scores := make([]float64, len(pairs)/2)
	for j := range scores {
		s, ok := parseDouble(pairs[2*j])
		if !ok {
			return notFloat()
		}
		scores[j] = s
	}
	o, ok := c.writeTyped(key, TypeZSet)
	if !ok {
		return wrongType()
	}
	var added, updated, processed int
	var score float64
	if o == nil && !f.xx {
		o = newZSet(c.gen())
		c.create(key, o)
	}
	if o != nil {
		for j, s := range scores {
			member := string(pairs[2*j+1])
			cur, exists := o.zset.score(member)
			switch {
			case exists:
				if f.nx {
					continue
				}
				if f.incr {
					s += cur
					if math.IsNaN(s) {
						c.deleteIfEmpty(key, o)
						c.dirty += added + updated
						return errReply("ERR resulting score is not a number (NaN)")
					}
				}
				if (f.lt && s >= cur) || (f.gt && s <= cur) {
					continue
				}
				if s != cur {
					o.zset.set(member, s)
					updated++
				}
			case f.xx:
				continue
			default:
				o.zset.set(member, s)
				added++
			}
			processed++
			score = s
		}
		c.deleteIfEmpty(key, o)
	}
	c.dirty += added + updated
	if f.incr {
		if processed == 0 {
			return null()
		}
		return bulk(formatDouble(score))
	}
	if f.ch {
		return integer(int64(added + updated))
	}
	return integer(int64(added))
}

func cmdZRem(c *execCtx, args [][]byte) Reply {
	o, ok := c.writeTyped(args[1], TypeZSet)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return integer(0)
	}
	n := 0
	for _, m := range args[2:] {
		if o.zset.remove(string(m)) {
			n++
		}
	}
	c.deleteIfEmpty(args[1], o)
	c.dirty += n
	return integer(int64(n))
}

func cmdZScore(c *execCtx, args [][]byte) Reply {
	o, ok := c.readTyped(args[1], TypeZSet)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return null()
	}
	s, exists := o.zset.score(string(args[2]))
	if !exists {
		return null()
	}
	return bulk(formatDouble(s))
}

func cmdZCard(c *execCtx, args [][]byte) Reply {
	o, ok := c.readTyped(args[1], TypeZSet)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return integer(0)
	}
	return integer(int64(len(o.zset.sorted)))
}

type zrangeKind uint8

const (
	zrangeRank zrangeKind = iota
	zrangeScore
	zrangeLex
)

// cmdZRange is Redis 7.0's ZRANGE key start stop [BYSCORE|BYLEX] [REV]
// [LIMIT offset count] [WITHSCORES].
func cmdZRange(c *execCtx, args [][]byte) Reply {
	kind := zrangeRank
	var rev, withScores, kindSet bool
	offset, limit := int64(0), int64(-1)
	for j := 4; j < len(args); j++ {
		left := len(args) - j - 1
		switch opt := lower(args[j]); {
		case opt == "withscores":
			withScores = true
		case opt == "limit" && left >= 2:
			o, ok1 := parseInt(args[j+1])
			l, ok2 := parseInt(args[j+2])
			if !ok1 || !ok2 {
				return notInteger()
			}
			offset, limit = o, l
			j += 2
		case opt == "rev" && !rev:
			rev = true
		case opt == "bylex" && !kindSet:
			kind, kindSet = zrangeLex, true
		case opt == "byscore" && !kindSet:
			kind, kindSet = zrangeScore, true
		default:
			return syntaxErr()
		}
	}
	if limit != -1 && kind == zrangeRank {
		return errReply("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
	}
	if withScores && kind == zrangeLex {
		return errReply("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
	}
	minArg, maxArg := args[2], args[3]
	if rev && kind != zrangeRank {
		minArg, maxArg = maxArg, minArg // given as max, min
	}
	var start, end int64
	var sr scoreRange
	var lr lexRange
	switch kind {
	case zrangeRank:
		var ok1, ok2 bool
		start, ok1 = parseInt(minArg)
		end, ok2 = parseInt(maxArg)
		if !ok1 || !ok2 {
			return notInteger()
		}
	case zrangeScore:
		var ok bool
		if sr, ok = parseScoreRange(minArg, maxArg); !ok {
			return errReply("ERR min or max is not a float")
		}
	case zrangeLex:
		var ok bool
		if lr, ok = parseLexRange(minArg, maxArg); !ok {
			return errReply("ERR min or max not valid string range item")
		}
	}
	o, ok := c.readTyped(args[1], TypeZSet)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return resp.Array()
	}
	z := o.zset
	n := int64(len(z.sorted))
	var lo, hi int64 // index range [lo, hi) in ascending order
	switch kind {
	case zrangeRank:
		s, e, nonEmpty := listRange(start, end, n)
		if !nonEmpty {
			return resp.Array()
		}
		if rev {
			s, e = n-1-e, n-1-s
		}
		lo, hi = s, e+1
	case zrangeScore:
		l, h := z.byScore(sr)
		lo, hi = int64(l), int64(h)
	case zrangeLex:
		l, h := z.byLex(lr)
		lo, hi = int64(l), int64(h)
	}
	if kind != zrangeRank {
		// LIMIT counts from the first member in iteration order. A
		// negative offset skips everything; a negative count means all.
		if offset < 0 {
			return resp.Array()
		}
		size := hi - lo
		if offset >= size {
			return resp.Array()
		}
		take := size - offset
		if limit >= 0 {
			take = min(take, limit)
		}
		if rev {
			hi -= offset
			lo = hi - take
		} else {
			lo += offset
			hi = lo + take
		}
	}
	out := make([]Reply, 0, hi-lo)
	for i := range hi - lo {
		idx := lo + i
		if rev {
			idx = hi - 1 - i
		}
		m := z.sorted[idx]
		out = append(out, bulkStr(m.Member))
		if withScores {
			out = append(out, bulk(formatDouble(m.Score)))
		}
	}
	return resp.Array(out...)
}

// parseScoreRange parses BYSCORE bounds as zslParseRange does: "(" makes a
// bound exclusive, and the number is read with strtod.
func parseScoreRange(minArg, maxArg []byte) (scoreRange, bool) {
	var r scoreRange
	var ok1, ok2 bool
	r.min, r.minExcl, ok1 = parseScoreBound(minArg)
	r.max, r.maxExcl, ok2 = parseScoreBound(maxArg)
	return r, ok1 && ok2
}

func parseScoreBound(b []byte) (float64, bool, bool) {
	excl := len(b) > 0 && b[0] == '('
	if excl {
		b = b[1:]
	}
	f, ok := strtod(b)
	return f, excl, ok
}

// strtod accepts what C's strtod consumes entirely: leading spaces,
// out-of-range values (as ±Inf or 0), and the empty string (as 0). NaN is
// refused.
func strtod(b []byte) (float64, bool) {
	if len(b) == 0 {
		return 0, true
	}
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	f, err := strconv.ParseFloat(string(b[i:]), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
			return 0, false
		}
	}
	return f, !math.IsNaN(f)
}

func parseLexRange(minArg, maxArg []byte) (lexRange, bool) {
	var r lexRange
	switch {
	case string(minArg) == "-":
		r.minInf = true
	case string(minArg) == "+":
		r.minPos = true
	case len(minArg) > 0 && (minArg[0] == '[' || minArg[0] == '('):
		r.min, r.minExcl = string(minArg[1:]), minArg[0] == '('
	default:
		return r, false
	}
	switch {
	case string(maxArg) == "+":
		r.maxInf = true
	case string(maxArg) == "-":
		r.maxNeg = true
	case len(maxArg) > 0 && (maxArg[0] == '[' || maxArg[0] == '('):
		r.max, r.maxExcl = string(maxArg[1:]), maxArg[0] == '('
	default:
		return r, false
	}
	return r, true
}
