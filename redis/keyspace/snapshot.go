package keyspace

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"slices"
)

// Snapshot is a frozen, consistent view of a keyspace, taken in O(keys)
// without copying values: objects are shared copy-on-write with the live
// keyspace, which clones an object before its first change after the
// snapshot. A Snapshot is immutable and safe for concurrent use; an RDB
// writer can iterate it while the keyspace keeps taking writes.
type Snapshot struct {
	dbs [NumDBs]snapDB
}

type snapDB struct {
	keys    map[string]*object
	expires map[string]int64
}

// Snapshot returns a consistent view of the whole keyspace. Keys whose TTL
// has passed but that were not yet removed are included, as Redis includes
// them in an RDB.
func (k *Keyspace) Snapshot() *Snapshot {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := &Snapshot{}
	for i, d := range k.dbs {
		s.dbs[i] = snapDB{keys: maps.Clone(d.keys), expires: maps.Clone(d.expires)}
	}
	// From now on every existing object may be shared with s.
	k.gen++
	return s
}

// Len returns the number of keys in the snapshot.
func (s *Snapshot) Len() int {
	n := 0
	for _, d := range s.dbs {
		n += len(d.keys)
	}
	return n
}

// DBLen returns the number of keys in database db and how many of them have
// a TTL (the RDB resize-db hint). It returns zeros for an index out of range.
func (s *Snapshot) DBLen(db int) (keys, withTTL int) {
	if db < 0 || db >= NumDBs {
		return 0, 0
	}
	return len(s.dbs[db].keys), len(s.dbs[db].expires)
}

// TypeCount returns how many keys of database db hold values of type t.
func (s *Snapshot) TypeCount(db int, t Type) int {
	if db < 0 || db >= NumDBs {
		return 0
	}
	n := 0
	for _, o := range s.dbs[db].keys {
		if o.kind() == t {
			n++
		}
	}
	return n
}

// Each calls fn for every key, by database and then key in byte order, with
// its value and its absolute expiry in unix ms (NoExpire for none). It stops
// at and returns the first error fn returns. The Value shares memory with
// the snapshot and must not be modified.
func (s *Snapshot) Each(fn func(db int, key string, v Value, expireAtMs int64) error) error {
	for i, d := range s.dbs {
		keys := slices.Sorted(maps.Keys(d.keys))
		for _, key := range keys {
			when, ok := d.expires[key]
			if !ok {
				when = NoExpire
			}
			if err := fn(i, key, d.keys[key].view(), when); err != nil {
				return err
			}
		}
	}
	return nil
}

// Each iterates a snapshot of the keyspace as Snapshot.Each does; fn runs
// without any lock held and may use the keyspace.
func (k *Keyspace) Each(fn func(db int, key string, v Value, expireAtMs int64) error) error {
	return k.Snapshot().Each(fn)
}

// Put stores v under key in database db with the given absolute expiry
// (NoExpire for none), replacing any existing value. It is meant for loading
// (an RDB into a fresh keyspace) and takes ownership of v's slices and maps.
// It returns ErrDBIndex or ErrInvalidValue for what it cannot store.
func (k *Keyspace) Put(db int, key string, v Value, expireAtMs int64) error {
	if db < 0 || db >= NumDBs {
		return fmt.Errorf("%w: %d", ErrDBIndex, db)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	o, err := objectFromValue(k.gen, v)
	if err != nil {
		return fmt.Errorf("key %q: %w", key, err)
	}
	d := k.dbs[db]
	d.add(key, o)
	if expireAtMs == NoExpire {
		delete(d.expires, key)
	} else {
		d.expires[key] = expireAtMs
	}
	return nil
}

func objectFromValue(gen uint64, v Value) (*object, error) {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidValue, fmt.Sprintf(format, args...))
	}
	switch v.Type {
	case TypeString:
		if v.Str == nil {
			v.Str = []byte{}
		}
		return newString(gen, v.Str), nil
	case TypeList:
		if len(v.List) == 0 {
			return nil, invalid("empty list")
		}
		o := newList(gen)
		o.list.reset(v.List)
		return o, nil
	case TypeHash:
		if len(v.Hash) == 0 {
			return nil, invalid("empty hash")
		}
		o := newHash(gen)
		o.hash = v.Hash
		return o, nil
	case TypeSet:
		if len(v.Set) == 0 {
			return nil, invalid("empty set")
		}
		o := newSet(gen)
		for _, m := range v.Set {
			if _, dup := o.set[m]; dup {
				return nil, invalid("duplicate set member %q", m)
			}
			o.set[m] = struct{}{}
		}
		return o, nil
	case TypeZSet:
		if len(v.ZSet) == 0 {
			return nil, invalid("empty sorted set")
		}
		o := newZSet(gen)
		for _, m := range v.ZSet {
			if math.IsNaN(m.Score) {
				return nil, invalid("NaN score for member %q", m.Member)
			}
			if _, dup := o.zset.scores[m.Member]; dup {
				return nil, invalid("duplicate sorted-set member %q", m.Member)
			}
			o.zset.scores[m.Member] = m.Score + 0 // no -0, as in zset.set
		}
		o.zset.sorted = slices.Clone(v.ZSet)
		for i := range o.zset.sorted {
			o.zset.sorted[i].Score += 0
		}
		slices.SortFunc(o.zset.sorted, zcmp)
		return o, nil
	case TypeStream:
		return streamFromValue(gen, v.Stream)
	}
	return nil, invalid("type %v", v.Type)
}

// ReplaceWith moves all of other's data into k in one atomic step and leaves
// other empty. A replica loads a full sync into a fresh keyspace and makes it
// visible only once it is complete. k keeps its clock and replica mode.
func (k *Keyspace) ReplaceWith(other *Keyspace) {
	if other == k {
		return
	}
	// Lock order cannot deadlock in practice: other is a private, freshly
	// loaded keyspace nobody else locks.
	other.mu.Lock()
	dbs := other.dbs
	gen := other.gen
	for i := range other.dbs {
		other.dbs[i] = newDB()
	}
	other.mu.Unlock()

	k.mu.Lock()
	defer k.mu.Unlock()
	k.dbs = dbs
	// Objects newer than other's last snapshot may stay unshared; older
	// ones, and any of k's, are cloned before they change.
	k.gen = max(k.gen, gen)
}

// Digest returns a deterministic hash of the live content: every key whose
// TTL has not passed, with its database, type, value and expiry rounded down
// to the second. Two keyspaces with the same data and TTLs have the same
// digest regardless of history. It is meant for tests.
func (k *Keyspace) Digest() string {
	now := k.clk.Now().UnixMilli()
	h := sha256.New()
	var num [8]byte
	writeInt := func(n int64) {
		binary.BigEndian.PutUint64(num[:], uint64(n))
		h.Write(num[:])
	}
	writeBytes := func(b []byte) {
		writeInt(int64(len(b)))
		h.Write(b)
	}
	_ = k.Each(func(db int, key string, v Value, expireAt int64) error {
		if expireAt != NoExpire && now > expireAt {
			return nil
		}
		writeInt(int64(db))
		writeBytes([]byte(key))
		writeInt(int64(v.Type))
		if expireAt == NoExpire {
			writeInt(-1)
		} else {
			writeInt(expireAt / 1000)
		}
		switch v.Type {
		case TypeString:
			writeBytes(v.Str)
		case TypeList:
			writeInt(int64(len(v.List)))
			for _, e := range v.List {
				writeBytes(e)
			}
		case TypeHash:
			writeInt(int64(len(v.Hash)))
			for _, f := range sortedFields(v.Hash) {
				writeBytes([]byte(f))
				writeBytes(v.Hash[f])
			}
		case TypeSet:
			writeInt(int64(len(v.Set)))
			for _, m := range v.Set {
				writeBytes([]byte(m))
			}
		case TypeZSet:
			writeInt(int64(len(v.ZSet)))
			for _, m := range v.ZSet {
				writeBytes([]byte(m.Member))
				writeInt(int64(math.Float64bits(m.Score)))
			}
		case TypeStream:
			digestStream(writeInt, writeBytes, v.Stream)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))
}

// digestStream hashes what a replica must agree on: entries, IDs, counters
// and groups with their PELs; not consumers' seen times, which each server
// sets from its own clock.
func digestStream(writeInt func(int64), writeBytes func([]byte), s *Stream) {
	writeID := func(id StreamID) { writeInt(int64(id.Ms)); writeInt(int64(id.Seq)) }
	writeInt(int64(len(s.Entries)))
	for _, e := range s.Entries {
		writeID(e.ID)
		writeInt(int64(len(e.Fields)))
		for _, f := range e.Fields {
			writeBytes(f)
		}
	}
	writeID(s.LastID)
	writeID(s.FirstID)
	writeID(s.MaxDeletedID)
	writeInt(int64(s.EntriesAdded))
	writeInt(int64(len(s.Groups)))
	for _, g := range s.Groups {
		writeBytes([]byte(g.Name))
		writeID(g.LastID)
		writeInt(g.EntriesRead)
		writeInt(int64(len(g.Pending)))
		for _, p := range g.Pending {
			writeID(p.ID)
			writeBytes([]byte(p.Consumer))
			writeInt(p.DeliveryTime)
			writeInt(int64(p.DeliveryCount))
		}
		writeInt(int64(len(g.Consumers)))
		for _, c := range g.Consumers {
			writeBytes([]byte(c.Name))
		}
	}
}
