package rdb

import (
	"errors"
	"fmt"

	"github.com/replsm/replsm/redis/keyspace"
)

// loader receives decoded keys and stores them. The first serialKeys go
// straight into the keyspace; past them (a big snapshot) decoding and
// inserting run on two goroutines, the decoder handing batches to an
// inserter, so that reading, CRC and LZF overlap with the map inserts
// (docs/fullsync.md, "Loading"). Redis loads on one thread.
type loader struct {
	ks   *keyspace.Keyspace
	info *Info

	batch *batch
	work  chan *batch // to the inserter
	free  chan *batch // back from it
	done  chan error  // the inserter's first error, then closed
	// failed is set once the inserter reported an error: the decoder stops.
	failed error
}

type batch struct {
	entries []keyspace.LoadEntry
	offs    []int64 // each entry's file offset, for errors
}

const (
	serialKeys = 4096
	batchKeys  = 256
	inFlight   = 4
)

func newLoader(ks *keyspace.Keyspace, info *Info) *loader {
	return &loader{ks: ks, info: info}
}

// put stores one key, or queues it.
func (l *loader) put(db int, key string, v keyspace.Value, expireAt, at int64) error {
	if l.work == nil {
		if l.info.Keys < serialKeys {
			l.info.Keys++
			return putErr(l.ks.PutNew(db, key, v, expireAt), key, db, at)
		}
		l.start()
	}
	b := l.batch
	b.entries = append(b.entries, keyspace.LoadEntry{DB: db, Key: key, Value: v, ExpireAt: expireAt})
	b.offs = append(b.offs, at)
	l.info.Keys++
	if len(b.entries) == batchKeys {
		return l.flush()
	}
	return nil
}

func putErr(err error, key string, db int, at int64) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keyspace.ErrKeyExists):
		return corruptf(at, "duplicate key %q in database %d", key, db)
	}
	return fmt.Errorf("%w: offset %d: %w", ErrCorrupt, at, err)
}

func (l *loader) start() {
	l.work = make(chan *batch, inFlight)
	l.free = make(chan *batch, inFlight+1)
	l.done = make(chan error, 1)
	for range inFlight + 1 {
		l.free <- &batch{entries: make([]keyspace.LoadEntry, 0, batchKeys), offs: make([]int64, 0, batchKeys)}
	}
	l.batch = <-l.free
	go l.insert()
}

// insert is the inserter goroutine. After an error it only recycles
// batches, so the decoder never blocks.
func (l *loader) insert() {
	var first error
	for b := range l.work {
		if first == nil {
			if i, err := l.ks.PutAll(b.entries); err != nil {
				first = putErr(err, b.entries[i].Key, b.entries[i].DB, b.offs[i])
				l.done <- first
			}
		}
		clear(b.entries) // drop the values: the keyspace holds them now
		b.entries, b.offs = b.entries[:0], b.offs[:0]
		l.free <- b
	}
	close(l.done)
}

// flush hands the current batch over and takes an empty one.
func (l *loader) flush() error {
	l.work <- l.batch
	l.batch = <-l.free
	select {
	case err, ok := <-l.done:
		if ok {
			l.failed = err
			return err
		}
	default:
	}
	return nil
}

// finish waits for the inserter after the last key (or a decoding error,
// err) and returns the first error in file order: the inserter's is for an
// earlier key than the decoder's.
func (l *loader) finish(err error) error {
	if l.work == nil {
		return err
	}
	if l.failed != nil {
		err = l.failed
	} else if len(l.batch.entries) > 0 {
		l.work <- l.batch
	}
	close(l.work)
	for ierr := range l.done {
		err = ierr
	}
	return err
}
