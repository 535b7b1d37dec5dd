package keyspace

import (
	"hash/fnv"
	"slices"
)

// db is one numbered database: its keys and, as in Redis, a separate map of
// the keys that carry a TTL (absolute unix milliseconds).
type db struct {
	keys    map[string]*object
	expires map[string]int64

	// scanIndex orders keys by (scanHash, key) for SCAN. It may hold keys
	// deleted since it was built (SCAN skips them) and lacks keys added
	// since (scanStale); it is rebuilt when a new SCAN starts.
	scanIndex []scanEntry
	scanStale bool
}

type scanEntry struct {
	hash uint64
	key  string
}

func newDB() *db {
	return &db{keys: map[string]*object{}, expires: map[string]int64{}}
}

// add stores o under key, replacing any previous value (its TTL stays).
func (d *db) add(key string, o *object) {
	n := len(d.keys)
	d.keys[key] = o // one map access: a new key shows in the length
	if len(d.keys) != n {
		d.scanStale = true
	}
}

// remove deletes key and its TTL, reporting whether it existed.
func (d *db) remove(key string) bool {
	if _, ok := d.keys[key]; !ok {
		return false
	}
	delete(d.keys, key)
	delete(d.expires, key)
	return true
}

// scanHash places a key in SCAN's cursor space. It never returns 0, which is
// the cursor that starts and ends an iteration.
func scanHash(key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return h.Sum64()>>1 + 1
}

func (d *db) rebuildScanIndex() {
	idx := make([]scanEntry, 0, len(d.keys))
	for k := range d.keys {
		idx = append(idx, scanEntry{hash: scanHash(k), key: k})
	}
	slices.SortFunc(idx, func(a, b scanEntry) int {
		if a.hash != b.hash {
			if a.hash < b.hash {
				return -1
			}
			return 1
		}
		if a.key < b.key {
			return -1
		}
		if a.key > b.key {
			return 1
		}
		return 0
	})
	d.scanIndex = idx
	d.scanStale = false
}
