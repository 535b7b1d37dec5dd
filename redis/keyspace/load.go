package keyspace

import "fmt"

// LoadEntry is one key for PutAll.
type LoadEntry struct {
	DB       int
	Key      string
	Value    Value
	ExpireAt int64
}

// PutNew is Put for a loader: it returns ErrKeyExists when key was already
// in database db (an RDB holding a key twice is corrupt), found by the same
// map access that inserts it, so the old value is gone then: a loader
// discards the keyspace on that error.
func (k *Keyspace) PutNew(db int, key string, v Value, expireAtMs int64) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.putNewLocked(db, key, v, expireAtMs)
}

// PutAll stores a batch of new keys as PutNew does, under one lock. On an
// error it returns the index of the entry that failed; the entries before
// it are stored.
func (k *Keyspace) PutAll(batch []LoadEntry) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := range batch {
		e := &batch[i]
		if err := k.putNewLocked(e.DB, e.Key, e.Value, e.ExpireAt); err != nil {
			return i, err
		}
	}
	return len(batch), nil
}

func (k *Keyspace) putNewLocked(db int, key string, v Value, expireAtMs int64) error {
	if db < 0 || db >= NumDBs {
		return fmt.Errorf("%w: %d", ErrDBIndex, db)
	}
	o, err := objectFromValue(k.gen, v)
	if err != nil {
		return fmt.Errorf("key %q: %w", key, err)
	}
	d := k.dbs[db]
	n := len(d.keys)
	d.keys[key] = o
	if len(d.keys) == n {
		return ErrKeyExists
	}
	d.scanStale = true
	if expireAtMs != NoExpire {
		d.expires[key] = expireAtMs
	}
	return nil
}

// Reserve presizes database db, while it is empty, for n keys: a loader
// passes the RDB's RESIZEDB hint so the map is not rebuilt as it grows.
func (k *Keyspace) Reserve(db, n int) {
	if db < 0 || db >= NumDBs || n <= 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if d := k.dbs[db]; len(d.keys) == 0 {
		d.keys = make(map[string]*object, n)
	}
}
