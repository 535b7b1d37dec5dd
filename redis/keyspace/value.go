package keyspace

import (
	"slices"
	"strconv"
)

// Type is the Redis type of a key's value.
type Type uint8

// The types a keyspace stores. TypeNone is what TYPE reports for a missing
// key; no stored value has it.
const (
	TypeNone Type = iota
	TypeString
	TypeList
	TypeHash
	TypeSet
	TypeZSet
	TypeStream
)

var typeNames = [...]string{
	TypeNone:   "none",
	TypeString: "string",
	TypeList:   "list",
	TypeHash:   "hash",
	TypeSet:    "set",
	TypeZSet:   "zset",
	TypeStream: "stream",
}

// String returns the name TYPE replies with: "string", "list", "hash",
// "set", "zset", "stream" or "none".
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// NoExpire is the expireAtMs of a key that has no TTL.
const NoExpire int64 = -1

// ZMember is one member of a sorted set.
type ZMember struct {
	Member string
	Score  float64
}

// Value is one key's value as Each presents it and Put accepts it. Only the
// field that belongs to Type is set.
//
// Values handed out by Each share memory with the snapshot they come from and
// must not be modified. Put takes ownership of the slices and maps it is
// given.
type Value struct {
	Type Type
	// Str is a string's bytes.
	Str []byte
	// List holds a list's elements, head first.
	List [][]byte
	// Hash maps a hash's fields to their values.
	Hash map[string][]byte
	// Set holds a set's members; Each sorts them bytewise.
	Set []string
	// ZSet holds a sorted set's members ordered by score, then member.
	ZSet []ZMember
	// Stream is a stream with its consumer groups.
	Stream *Stream
}

// object is a stored value. Once it is reachable from a Snapshot it is never
// modified again: a writer that finds gen older than the keyspace's current
// generation clones it first (see execCtx.own).
//
// Byte slices inside an object (string payloads, list elements, hash values)
// are never written in place, even in an unshared object, so replies may
// reference them after the lock is released.
//
// A string, by far the most common value, is 32 bytes: its bytes and a
// nil *colls. A collection's type, generation and value live behind the
// embedded *colls (docs/fullsync.md, "Loading"). A string has no
// generation: it is treated as shared, so a change stores a new object.
type object struct {
	str []byte
	*colls
}

// colls holds a collection object's type, generation and value; only the
// field of its type is set.
type colls struct {
	gen  uint64
	typ  Type
	list *deque
	hash map[string][]byte
	set  map[string]struct{}
	zset *zset
	strm *stream
}

// kind is the object's type.
func (o *object) kind() Type {
	if o.colls == nil {
		return TypeString
	}
	return o.colls.typ
}

// owned reports whether the object may be changed in place at generation
// gen: a collection created or cloned since the last snapshot.
func (o *object) owned(gen uint64) bool { return o.colls != nil && o.colls.gen == gen }

func (o *object) clone(gen uint64) *object {
	c := &object{str: o.str}
	if o.colls != nil {
		c.colls = &colls{gen: gen, typ: o.colls.typ}
	}
	switch o.kind() {
	case TypeList:
		c.list = o.list.clone()
	case TypeHash:
		c.hash = make(map[string][]byte, len(o.hash))
		for f, v := range o.hash {
			c.hash[f] = v
		}
	case TypeSet:
		c.set = make(map[string]struct{}, len(o.set))
		for m := range o.set {
			c.set[m] = struct{}{}
		}
	case TypeZSet:
		c.zset = o.zset.clone()
	case TypeStream:
		c.strm = o.strm.clone()
	}
	return c
}

// view presents a frozen object as a Value, sharing its memory.
func (o *object) view() Value {
	v := Value{Type: o.kind()}
	switch o.kind() {
	case TypeString:
		v.Str = o.str
	case TypeList:
		v.List = o.list.all()
	case TypeHash:
		v.Hash = o.hash
	case TypeSet:
		v.Set = sortedMembers(o.set)
	case TypeZSet:
		v.ZSet = o.zset.sorted
	case TypeStream:
		v.Stream = o.strm.export()
	}
	return v
}

// len returns the number of elements of a collection, 1 for a string and
// for a stream (Redis keeps empty streams).
func (o *object) len() int {
	switch o.kind() {
	case TypeList:
		return o.list.len()
	case TypeHash:
		return len(o.hash)
	case TypeSet:
		return len(o.set)
	case TypeZSet:
		return len(o.zset.sorted)
	}
	return 1
}

func sortedMembers(set map[string]struct{}) []string {
	out := make([]string, 0, len(set))
	for m := range set {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

func newString(_ uint64, b []byte) *object { return &object{str: b} }

func newList(gen uint64) *object {
	return &object{colls: &colls{gen: gen, typ: TypeList, list: &deque{}}}
}

func newHash(gen uint64) *object {
	return &object{colls: &colls{gen: gen, typ: TypeHash, hash: map[string][]byte{}}}
}

func newSet(gen uint64) *object {
	return &object{colls: &colls{gen: gen, typ: TypeSet, set: map[string]struct{}{}}}
}

func newZSet(gen uint64) *object {
	return &object{colls: &colls{gen: gen, typ: TypeZSet, zset: &zset{scores: map[string]float64{}}}}
}
