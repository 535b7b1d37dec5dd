package keyspace

import (
	"bytes"
	"math"
	"slices"
	"strconv"

	"github.com/replsm/replsm/redis/resp"
)

// SORT follows sort.c (Redis 7.0). A primary propagates SORT ... STORE as
// it is, so the replica must reach the same list: sets are sorted
// lexicographically when stored (Redis forces that for determinism),
// numeric ties fall back to byte order, and ties of BY values keep the
// input order, as glibc's merge-sort qsort does.

type sortItem struct {
	obj    []byte
	score  float64
	cmpobj []byte
	hasCmp bool
}

// sortLookup is lookupKeyByPattern: "#" is the element itself; otherwise
// the first "*" is replaced by the element and "->field" reads a hash
// field. ok=false when nothing is found.
func (c *execCtx) sortLookup(pattern, elem []byte, write bool) ([]byte, bool) {
	if string(pattern) == "#" {
		return elem, true
	}
	star := bytes.IndexByte(pattern, '*')
	if star < 0 {
		return nil, false
	}
	var field []byte
	rest := pattern[star+1:]
	if f := bytes.Index(rest, []byte("->")); f >= 0 && f+2 < len(rest) {
		field = rest[f+2:]
		rest = rest[:f]
	}
	key := append(append(append([]byte{}, pattern[:star]...), elem...), rest...)
	var o *object
	if write {
		o = c.lookupWrite(key)
	} else {
		o = c.lookupRead(key)
	}
	switch {
	case o == nil:
		return nil, false
	case field != nil:
		if o.kind() != TypeHash {
			return nil, false
		}
		v, ok := o.hash[string(field)]
		return v, ok
	case o.kind() != TypeString:
		return nil, false
	}
	return o.str, true
}

func cmdSort(c *execCtx, args [][]byte) Reply   { return c.sort(args, false) }
func cmdSortRO(c *execCtx, args [][]byte) Reply { return c.sort(args, true) }

func (c *execCtx) sort(args [][]byte, readOnly bool) Reply {
	desc, alpha, dontsort := false, false, false
	var limitStart, limitCount int64 = 0, -1
	var sortBy, store []byte
	var gets [][]byte
	for j := 2; j < len(args); j++ {
		left := len(args) - j - 1
		switch opt := lower(args[j]); {
		case opt == "asc":
			desc = false
		case opt == "desc":
			desc = true
		case opt == "alpha":
			alpha = true
		case opt == "limit" && left >= 2:
			s, ok1 := parseInt(args[j+1])
			n, ok2 := parseInt(args[j+2])
			if !ok1 || !ok2 {
				return notInteger()
			}
			limitStart, limitCount = s, n
			j += 2
		case !readOnly && opt == "store" && left >= 1:
			store = args[j+1]
			j++
		case opt == "by" && left >= 1:
			sortBy = args[j+1]
			dontsort = bytes.IndexByte(sortBy, '*') < 0
			j++
		case opt == "get" && left >= 1:
			gets = append(gets, args[j+1])
			j++
		default:
			return syntaxErr()
		}
	}
	write := store != nil
	var src *object
	if write {
		src = c.lookupWrite(args[1])
	} else {
		src = c.lookupRead(args[1])
	}
	if src != nil && src.kind() != TypeSet && src.kind() != TypeList && src.kind() != TypeZSet {
		return wrongType()
	}
	if dontsort && src != nil && src.kind() == TypeSet && store != nil {
		dontsort, alpha, sortBy = false, true, nil
	}
	var elems [][]byte
	if src != nil {
		switch src.kind() {
		case TypeList:
			elems = src.list.all()
		case TypeSet:
			for _, m := range sortedMembers(src.set) {
				elems = append(elems, []byte(m))
			}
		case TypeZSet:
			for _, m := range src.zset.sorted {
				elems = append(elems, []byte(m.Member))
			}
		}
	}
	n := int64(len(elems))
	start := min(max(limitStart, 0), n)
	limitCount = min(max(limitCount, -1), n)
	end := n - 1
	if limitCount >= 0 {
		end = start + limitCount - 1
	}
	if start >= n {
		start, end = n-1, n-2
	}
	end = min(end, n-1)
	items := make([]sortItem, len(elems))
	for i, e := range elems {
		items[i] = sortItem{obj: e}
	}
	if dontsort {
		if desc && src != nil && src.kind() != TypeSet {
			slices.Reverse(items)
		}
	} else {
		for i := range items {
			by := items[i].obj
			if sortBy != nil {
				v, ok := c.sortLookup(sortBy, items[i].obj, write)
				if !ok {
					continue
				}
				by = v
			}
			if alpha {
				if sortBy != nil {
					items[i].cmpobj, items[i].hasCmp = by, true
				}
				continue
			}
			f, ok := sortScore(by)
			if !ok {
				return errReply("ERR One or more scores can't be converted into double")
			}
			items[i].score = f
		}
		slices.SortStableFunc(items, func(a, b sortItem) int {
			var cmp int
			switch {
			case !alpha:
				switch {
				case a.score > b.score:
					cmp = 1
				case a.score < b.score:
					cmp = -1
				default:
					cmp = bytes.Compare(a.obj, b.obj)
				}
			case sortBy != nil:
				switch {
				case !a.hasCmp || !b.hasCmp:
					if a.hasCmp == b.hasCmp {
						cmp = 0
					} else if !a.hasCmp {
						cmp = -1
					} else {
						cmp = 1
					}
				default:
					cmp = bytes.Compare(a.cmpobj, b.cmpobj)
				}
			default:
				cmp = bytes.Compare(a.obj, b.obj)
			}
			if desc {
				return -cmp
			}
			return cmp
		})
	}
	var out [][]byte
	var reply []Reply
	for j := start; j <= end && j >= 0; j++ {
		e := items[j].obj
		if len(gets) == 0 {
			out = append(out, e)
			reply = append(reply, bulk(e))
			continue
		}
		for _, g := range gets {
			v, ok := c.sortLookup(g, e, write)
			if ok {
				out = append(out, v)
				reply = append(reply, bulk(v))
			} else {
				out = append(out, []byte{})
				reply = append(reply, null())
			}
		}
	}
	if store == nil {
		return resp.Array(reply...)
	}
	if len(out) > 0 {
		o := newList(c.gen())
		vals := make([][]byte, len(out))
		for i, v := range out {
			vals[i] = clone(v)
		}
		o.list.reset(vals)
		c.setValue(store, o, false)
		c.dirty += len(out)
	} else if c.db.remove(string(store)) {
		c.dirty++
	}
	return integer(int64(len(out)))
}

// sortScore is strtod with Redis's checks: all consumed, no overflow, no
// NaN.
func sortScore(b []byte) (float64, bool) {
	f, err := strconv.ParseFloat(string(bytes.TrimLeft(b, " \t\n\r\v\f")), 64)
	if err != nil || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}
