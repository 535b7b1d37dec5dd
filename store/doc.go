// Package store keeps the durable state of the replication machines: one
// replication cursor per slot, and the log of milestones (full sync
// completed, shard exhausted, ...) that must be delivered to a receiver at
// least once, even across a crash (see package outbox).
//
// Two implementations of Store are provided:
//
//   - Bolt, the default: a single go.etcd.io/bbolt file whose path comes
//     from configuration. Every write is one fsync'ed transaction.
//   - Memory: the same semantics without a file, for tests and for
//     embeddings that do not want durability.
//
// Opening a Bolt file is careful. A missing or unwritable directory, or an
// unwritable file, fails at open with ErrStoreUnavailable naming the path.
// A second process holding the file fails after BoltOptions.LockTimeout with
// ErrStoreLocked instead of hanging. An existing file is validated read-only
// first (bbolt meta pages, length, schema marker and version, every record,
// bbolt's consistency check); any damage fails with ErrCorruptStore, leaves
// the file untouched, and the message says what to do: move the file aside
// and restart, which forces a full resync.
//
// Cursors change on every applied command, so they are not written one by
// one: a CursorBatcher keeps the latest cursor per slot in memory and writes
// the changed ones in one transaction at most once per interval, timed by an
// injected github.com/benbjohnson/clock Clock.
//
// Typical use:
//
//	st, err := store.OpenBolt(cfg.StatePath, store.BoltOptions{})
//	if err != nil { return err } // errors.Is(err, store.ErrCorruptStore) etc.
//	defer st.Close()
//	cb, _ := store.NewCursorBatcher(st, clock.New(), store.BatcherOptions{Interval: time.Second})
//	defer cb.Close() // flushes
//	cb.Advance("slot/3", store.Cursor{ID: replID, Offset: off}) // per command, no I/O
package store
