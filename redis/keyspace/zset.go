package keyspace

import (
	"slices"
	"sort"
	"strings"
)

// zset is a sorted set: a score per member plus the members ordered by
// (score, member), Redis's order.
type zset struct {
	scores map[string]float64
	sorted []ZMember
}

func zless(a, b ZMember) bool {
	if a.Score != b.Score {
		return a.Score < b.Score
	}
	return a.Member < b.Member
}

func zcmp(a, b ZMember) int {
	switch {
	case zless(a, b):
		return -1
	case zless(b, a):
		return 1
	}
	return 0
}

// pos returns the index of m in sorted, or where it would be inserted.
func (z *zset) pos(m ZMember) int {
	i, _ := slices.BinarySearchFunc(z.sorted, m, zcmp)
	return i
}

func (z *zset) score(member string) (float64, bool) {
	s, ok := z.scores[member]
	return s, ok
}

// set adds member or moves it to score. A score of -0 is stored as 0, as
// Redis's listpack encoding (every small sorted set) does.
func (z *zset) set(member string, score float64) {
	score += 0 // -0 + 0 is +0
	if old, ok := z.scores[member]; ok {
		if old == score {
			return
		}
		z.remove(member)
	}
	z.scores[member] = score
	m := ZMember{Member: member, Score: score}
	z.sorted = slices.Insert(z.sorted, z.pos(m), m)
}

func (z *zset) remove(member string) bool {
	old, ok := z.scores[member]
	if !ok {
		return false
	}
	delete(z.scores, member)
	i := z.pos(ZMember{Member: member, Score: old})
	z.sorted = slices.Delete(z.sorted, i, i+1)
	return true
}

func (z *zset) clone() *zset {
	c := &zset{scores: make(map[string]float64, len(z.scores)), sorted: slices.Clone(z.sorted)}
	for m, s := range z.scores {
		c.scores[m] = s
	}
	return c
}

// scoreRange is a ZRANGE BYSCORE bound pair.
type scoreRange struct {
	min, max         float64
	minExcl, maxExcl bool
}

func (r scoreRange) aboveMin(s float64) bool {
	if r.minExcl {
		return s > r.min
	}
	return s >= r.min
}

func (r scoreRange) belowMax(s float64) bool {
	if r.maxExcl {
		return s < r.max
	}
	return s <= r.max
}

// byScore returns the index range [lo, hi) of members inside r.
func (z *zset) byScore(r scoreRange) (int, int) {
	lo := sort.Search(len(z.sorted), func(i int) bool { return r.aboveMin(z.sorted[i].Score) })
	hi := sort.Search(len(z.sorted), func(i int) bool { return !r.belowMax(z.sorted[i].Score) })
	return lo, max(lo, hi)
}

// lexRange is a ZRANGE BYLEX bound pair; "-" and "+" are the infinities.
type lexRange struct {
	min, max         string
	minExcl, maxExcl bool
	minInf, maxInf   bool // min is "-"; max is "+"
	minPos, maxNeg   bool // min is "+" (matches nothing); max is "-" (matches nothing)
}

func (r lexRange) aboveMin(m string) bool {
	switch {
	case r.minInf:
		return true
	case r.minPos:
		return false
	case r.minExcl:
		return strings.Compare(m, r.min) > 0
	}
	return strings.Compare(m, r.min) >= 0
}

func (r lexRange) belowMax(m string) bool {
	switch {
	case r.maxInf:
		return true
	case r.maxNeg:
		return false
	case r.maxExcl:
		return strings.Compare(m, r.max) < 0
	}
	return strings.Compare(m, r.max) <= 0
}

// byLex returns the index range [lo, hi) of members inside r. As in Redis it
// assumes all members share one score; otherwise the result is unspecified
// but well defined.
func (z *zset) byLex(r lexRange) (int, int) {
	lo := sort.Search(len(z.sorted), func(i int) bool { return r.aboveMin(z.sorted[i].Member) })
	hi := sort.Search(len(z.sorted), func(i int) bool { return !r.belowMax(z.sorted[i].Member) })
	return lo, max(lo, hi)
}
