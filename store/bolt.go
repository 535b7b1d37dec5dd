package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the layout version written into every state file. A file
// with another version (or without the replsm marker) is refused with
// ErrCorruptStore rather than guessed at.
const SchemaVersion uint64 = 1

// schemaFormat marks a bbolt file as a replsm state file.
const schemaFormat = "replsm/store"

// DefaultLockTimeout is how long OpenBolt waits for another holder of the
// file lock before failing with ErrStoreLocked.
const DefaultLockTimeout = time.Second

var (
	bucketMeta       = []byte("meta")
	bucketCursors    = []byte("cursors")
	bucketMilestones = []byte("milestones")
	bucketKeys       = []byte("milestone_keys")
	keyFormat        = []byte("format")
	keyVersion       = []byte("schema_version")
)

// BoltOptions configures OpenBolt. The zero value is ready to use.
type BoltOptions struct {
	// LockTimeout bounds the wait for the file lock when another process
	// (or another Bolt in this process) has the file open. Zero means
	// DefaultLockTimeout. bbolt measures it in real time: it guards an OS
	// lock, not replication logic.
	LockTimeout time.Duration
	// FileMode is the permission of a newly created file. Zero means 0600.
	FileMode os.FileMode
}

func (o BoltOptions) withDefaults() (BoltOptions, error) {
	if o.LockTimeout < 0 {
		return o, fmt.Errorf("%w: negative LockTimeout %v", ErrInvalidInput, o.LockTimeout)
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.FileMode&^fs.ModePerm != 0 {
		return o, fmt.Errorf("%w: FileMode %v has bits other than permissions", ErrInvalidInput, o.FileMode)
	}
	if o.FileMode == 0 {
		o.FileMode = 0o600
	}
	return o, nil
}

// Bolt is the default Store: one bbolt file holding the schema marker, one
// cursor per slot, the pending milestones keyed by Seq, and an index from
// idempotency key to Seq. Every write is one fsync'ed transaction.
type Bolt struct {
	path string

	mu     sync.RWMutex // read-held by operations, write-held by Close
	db     *bolt.DB
	closed bool

	pending atomic.Int64
}

var _ Store = (*Bolt)(nil)
var _ BatchAcker = (*Bolt)(nil)

// OpenBolt opens the state file at path, creating it (and its schema) if it
// does not exist. The parent directory must exist.
//
// An existing file is first checked read-only: meta pages, length, schema
// marker and version, every record, and bbolt's own consistency check. If
// anything is wrong the error wraps ErrCorruptStore and the file is not
// modified. Errors opening or creating the file wrap ErrStoreUnavailable;
// a lock held elsewhere past LockTimeout gives ErrStoreLocked.
func OpenBolt(path string, opts BoltOptions) (*Bolt, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty state file path", ErrInvalidInput)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}

	var pending int
	created := false
	fi, err := os.Stat(path)
	switch {
	case err == nil:
		if !fi.Mode().IsRegular() {
			return nil, unavailableErr(path, fmt.Errorf("not a regular file (mode %v)", fi.Mode()))
		}
		// A valid bbolt file without buckets (first open crashed before the
		// schema commit) passes and is initialized below.
		pending, err = validateExisting(path, fi.Size(), opts)
		if err != nil {
			return nil, err
		}
	case errors.Is(err, fs.ErrNotExist):
		dir := filepath.Dir(path)
		st, derr := os.Stat(dir)
		if derr != nil {
			return nil, unavailableErr(path, fmt.Errorf("parent directory: %w", derr))
		}
		if !st.IsDir() {
			return nil, unavailableErr(path, fmt.Errorf("parent %s is not a directory", dir))
		}
		created = true
	default:
		// ENOTDIR (a path component is a file), EACCES on a parent, ...
		return nil, unavailableErr(path, err)
	}

	db, err := bolt.Open(path, opts.FileMode, &bolt.Options{Timeout: opts.LockTimeout})
	if err != nil {
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			return nil, lockedErr(path, opts.LockTimeout)
		case isOSError(err) || created:
			return nil, unavailableErr(path, err)
		default:
			return nil, corruptErr(path, err)
		}
	}
	if created {
		// The new directory entry must survive a crash too.
		if err := syncDir(filepath.Dir(path)); err != nil {
			_ = db.Close()
			return nil, unavailableErr(path, fmt.Errorf("sync parent directory: %w", err))
		}
	}
	b := &Bolt{path: path, db: db}
	if err := b.initSchema(); err != nil {
		_ = db.Close()
		return nil, err
	}
	b.pending.Store(int64(pending))
	return b, nil
}

// Path returns the file the store was opened on.
func (b *Bolt) Path() string { return b.path }

// String names the store in logs.
func (b *Bolt) String() string { return "bolt store " + b.path }

// initSchema writes the buckets and marker into a file that has none (a new
// file, or one whose first open crashed before this commit). A file that
// has them is only read: reopening a healthy store writes nothing.
func (b *Bolt) initSchema() error {
	return guard(b.path, func() error {
		present := false
		err := b.db.View(func(tx *bolt.Tx) error {
			meta := tx.Bucket(bucketMeta)
			if meta == nil {
				return nil
			}
			present = true
			return checkSchema(meta)
		})
		if err == nil && !present {
			err = b.db.Update(func(tx *bolt.Tx) error {
				meta, err := tx.CreateBucket(bucketMeta)
				if err != nil {
					return err
				}
				if err := meta.Put(keyFormat, []byte(schemaFormat)); err != nil {
					return err
				}
				if err := meta.Put(keyVersion, u64(SchemaVersion)); err != nil {
					return err
				}
				for _, name := range [][]byte{bucketCursors, bucketMilestones, bucketKeys} {
					if _, err := tx.CreateBucket(name); err != nil {
						return err
					}
				}
				return nil
			})
		}
		var ce *corruption
		switch {
		case err == nil:
			return nil
		case errors.As(err, &ce):
			return corruptErr(b.path, ce)
		default:
			return unavailableErr(b.path, fmt.Errorf("write schema: %w", err))
		}
	})
}

// validateExisting checks an existing file without writing to it: bbolt is
// opened read-only (shared lock), so even bbolt's own open-time repairs
// cannot touch a damaged file.
func validateExisting(path string, size int64, opts BoltOptions) (pending int, err error) {
	if size == 0 {
		return 0, corruptErr(path, errors.New("file is empty (truncated?)"))
	}
	err = guard(path, func() error {
		db, err := bolt.Open(path, 0, &bolt.Options{ReadOnly: true, Timeout: opts.LockTimeout})
		if err != nil {
			switch {
			case errors.Is(err, berrors.ErrTimeout):
				return lockedErr(path, opts.LockTimeout)
			case isOSError(err):
				return unavailableErr(path, err)
			case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum):
				return corruptErr(path, fmt.Errorf("%w: not a bbolt file, or both of its meta pages are damaged", err))
			case errors.Is(err, berrors.ErrVersionMismatch):
				return corruptErr(path, fmt.Errorf("%w: written by an incompatible bbolt version", err))
			default:
				return corruptErr(path, err)
			}
		}
		defer db.Close()
		return db.View(func(tx *bolt.Tx) error {
			var cerr error
			pending, cerr = checkTx(tx, size)
			if cerr != nil {
				return corruptErr(path, cerr)
			}
			return nil
		})
	})
	return pending, err
}

// corruption marks a structural problem found while checking a file.
type corruption struct{ msg string }

func (c *corruption) Error() string { return c.msg }

func corruptf(format string, args ...any) error {
	return &corruption{msg: fmt.Sprintf(format, args...)}
}

func checkSchema(meta *bolt.Bucket) error {
	if f := meta.Get(keyFormat); string(f) != schemaFormat {
		return corruptf("schema marker %q, want %q (not a replsm state file?)", f, schemaFormat)
	}
	v := meta.Get(keyVersion)
	if len(v) != 8 {
		return corruptf("schema version key has %d bytes, want 8", len(v))
	}
	if got := binary.BigEndian.Uint64(v); got != SchemaVersion {
		return corruptf("schema version %d, this build reads version %d", got, SchemaVersion)
	}
	return nil
}

// checkTx reads everything once. It runs under guard, so bbolt panics on
// damaged pages and faults on pages past the end of the file are caught.
func checkTx(tx *bolt.Tx, fileSize int64) (pending int, err error) {
	if tx.Size() > fileSize {
		return 0, corruptf("truncated: bbolt header says %d bytes, file has %d", tx.Size(), fileSize)
	}
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		if k, _ := tx.Cursor().First(); k == nil {
			return 0, nil // valid bbolt file without buckets: never initialized
		}
		return 0, corruptf("no replsm schema marker (bucket %q missing; not a replsm state file?)", bucketMeta)
	}
	if err := checkSchema(meta); err != nil {
		return 0, err
	}
	cur, ms, ks := tx.Bucket(bucketCursors), tx.Bucket(bucketMilestones), tx.Bucket(bucketKeys)
	if cur == nil || ms == nil || ks == nil {
		return 0, corruptf("schema version %d file is missing a bucket", SchemaVersion)
	}
	if err := cur.ForEach(func(k, v []byte) error {
		_, err := decodeCursor(v)
		if err != nil {
			return fmt.Errorf("cursor of slot %q: %w", k, err)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	maxSeq := ms.Sequence()
	if err := ms.ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			return corruptf("milestone key of %d bytes, want 8", len(k))
		}
		seq := binary.BigEndian.Uint64(k)
		if seq == 0 || seq > maxSeq {
			return corruptf("milestone seq %d outside 1..%d", seq, maxSeq)
		}
		if _, err := decodeMilestone(seq, v); err != nil {
			return err
		}
		pending++
		return nil
	}); err != nil {
		return 0, err
	}
	keys := 0
	if err := ks.ForEach(func(k, v []byte) error {
		if len(v) != 8 {
			return corruptf("key index entry %q has %d bytes, want 8", k, len(v))
		}
		keys++
		return nil
	}); err != nil {
		return 0, err
	}
	if keys != pending {
		return 0, corruptf("key index has %d entries for %d pending milestones", keys, pending)
	}
	var problems []error
	for e := range tx.Check() {
		if len(problems) < 5 {
			problems = append(problems, e)
		}
	}
	if len(problems) > 0 {
		return 0, corruptf("bbolt consistency check: %v", errors.Join(problems...))
	}
	return pending, nil
}

// LoadCursor implements Store.
func (b *Bolt) LoadCursor(slot string) (c Cursor, ok bool, err error) {
	if err := validateSlot(slot); err != nil {
		return Cursor{}, false, err
	}
	err = b.view("load cursor", func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketCursors).Get([]byte(slot))
		if v == nil {
			return nil
		}
		c, err = decodeCursor(v)
		if err != nil {
			return fmt.Errorf("cursor of slot %q: %w", slot, err)
		}
		ok = true
		return nil
	})
	return c, ok, err
}

// SaveCursors implements Store: one fsync for the whole batch.
func (b *Bolt) SaveCursors(cursors map[string]Cursor) error {
	for slot, c := range cursors {
		if err := validateCursor(slot, c); err != nil {
			return err
		}
	}
	if len(cursors) == 0 {
		return b.checkOpen()
	}
	return b.update("save cursors", func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketCursors)
		for slot, c := range cursors {
			if err := bk.Put([]byte(slot), encodeCursor(c)); err != nil {
				return err
			}
		}
		return nil
	})
}

// AppendMilestone implements Store.
func (b *Bolt) AppendMilestone(m Milestone) (Milestone, error) {
	out, err := b.AppendMilestones([]Milestone{m})
	if err != nil {
		return Milestone{}, err
	}
	return out[0], nil
}

// AppendMilestones appends a batch in one transaction (one fsync), with the
// same per-milestone semantics as AppendMilestone. Keys repeated within the
// batch resolve to the first occurrence.
func (b *Bolt) AppendMilestones(in []Milestone) ([]Milestone, error) {
	for _, m := range in {
		if err := validateMilestone(m); err != nil {
			return nil, err
		}
	}
	out := make([]Milestone, len(in))
	added := 0
	err := b.update("append milestone", func(tx *bolt.Tx) error {
		added = 0
		ms, ks := tx.Bucket(bucketMilestones), tx.Bucket(bucketKeys)
		for i, m := range in {
			if sk := ks.Get([]byte(m.Key)); sk != nil {
				if len(sk) != 8 {
					return corruptf("key index entry %q has %d bytes", m.Key, len(sk))
				}
				seq := binary.BigEndian.Uint64(sk)
				v := ms.Get(sk)
				if v == nil {
					return corruptf("key %q points at missing milestone %d", m.Key, seq)
				}
				existing, err := decodeMilestone(seq, v)
				if err != nil {
					return err
				}
				out[i] = existing
				continue
			}
			m = normalize(m)
			seq, err := ms.NextSequence()
			if err != nil {
				return err
			}
			m.Seq = seq
			data, err := encodeMilestone(m)
			if err != nil {
				return err
			}
			if err := ms.Put(u64(seq), data); err != nil {
				return err
			}
			if err := ks.Put([]byte(m.Key), u64(seq)); err != nil {
				return err
			}
			out[i] = m // normalize copied Attrs; the stored bytes share nothing
			added++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	b.pending.Add(int64(added))
	return out, nil
}

// AckMilestone implements Store.
func (b *Bolt) AckMilestone(seq uint64) error {
	return b.AckMilestones([]uint64{seq})
}

// AckMilestones implements BatchAcker: one fsync for the whole batch.
func (b *Bolt) AckMilestones(seqs []uint64) error {
	if len(seqs) == 0 {
		return b.checkOpen()
	}
	removed := 0
	err := b.update("ack milestone", func(tx *bolt.Tx) error {
		removed = 0
		ms, ks := tx.Bucket(bucketMilestones), tx.Bucket(bucketKeys)
		for _, seq := range seqs {
			k := u64(seq)
			v := ms.Get(k)
			if v == nil {
				continue
			}
			key, err := milestoneKey(seq, v)
			if err != nil {
				return err
			}
			if sk := ks.Get([]byte(key)); sk != nil && string(sk) == string(k) {
				if err := ks.Delete([]byte(key)); err != nil {
					return err
				}
			}
			if err := ms.Delete(k); err != nil {
				return err
			}
			removed++
		}
		return nil
	})
	if err != nil {
		return err
	}
	b.pending.Add(-int64(removed))
	return nil
}

// PendingMilestones implements Store. It reads at most limit records with
// a bbolt cursor seek, so a huge backlog costs no more memory than a batch.
func (b *Bolt) PendingMilestones(afterSeq uint64, limit int) ([]Milestone, error) {
	if err := validateLimit(limit); err != nil {
		return nil, err
	}
	if afterSeq == math.MaxUint64 {
		return nil, b.checkOpen()
	}
	var out []Milestone
	err := b.view("read pending milestones", func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketMilestones).Cursor()
		for k, v := c.Seek(u64(afterSeq + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			if len(k) != 8 {
				return corruptf("milestone key of %d bytes, want 8", len(k))
			}
			m, err := decodeMilestone(binary.BigEndian.Uint64(k), v)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PendingCount implements Store. It is O(1): the count is taken while the
// file is validated at open and kept up to date by appends and acks (the
// file lock guarantees no other writer).
func (b *Bolt) PendingCount() (int, error) {
	if err := b.checkOpen(); err != nil {
		return 0, err
	}
	return int(b.pending.Load()), nil
}

// Close implements Store. It waits for operations in flight.
func (b *Bolt) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", b.path, err)
	}
	return nil
}

func (b *Bolt) checkOpen() error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	return nil
}

func (b *Bolt) view(op string, fn func(*bolt.Tx) error) error {
	return b.run(op, false, fn)
}

func (b *Bolt) update(op string, fn func(*bolt.Tx) error) error {
	return b.run(op, true, fn)
}

func (b *Bolt) run(op string, write bool, fn func(*bolt.Tx) error) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	err := guard(b.path, func() error {
		if write {
			return b.db.Update(fn)
		}
		return b.db.View(fn)
	})
	var ce *corruption
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrCorruptStore):
		return err
	case errors.As(err, &ce):
		return corruptErr(b.path, ce)
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return ErrClosed
	default:
		return fmt.Errorf("store: %s in %s: %w", op, b.path, err)
	}
}

// guard turns bbolt panics on damaged pages, and memory faults on pages
// beyond a truncated file's end, into ErrCorruptStore errors.
func guard(path string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = corruptErr(path, fmt.Errorf("bbolt failed reading the file: %v", r))
		}
	}()
	return fn()
}

func corruptErr(path string, cause error) error {
	return fmt.Errorf("%w: %s: %v. The file was not modified. Stop the server, move the file aside "+
		"(e.g. mv %q %q) and restart: a fresh state file is created and every slot does a full resync",
		ErrCorruptStore, path, cause, path, path+".corrupt")
}

func unavailableErr(path string, cause error) error {
	return fmt.Errorf("%w: %s: %v (check that the directory exists and the file and directory are writable by this process)",
		ErrStoreUnavailable, path, cause)
}

func lockedErr(path string, timeout time.Duration) error {
	return fmt.Errorf("%w: %w: %s: lock not acquired within %v; is another server running on the same state file?",
		ErrStoreUnavailable, ErrStoreLocked, path, timeout)
}

func isOSError(err error) bool {
	var pe *fs.PathError
	var errno syscall.Errno
	return errors.As(err, &pe) || errors.As(err, &errno)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

// Cursor records come in two forms. The plain form is 8 bytes of offset
// (big endian) then the ID. The extended form is 8 bytes of offset, the
// marker byte 0xFF, a format byte, then the ID and File as uvarint-length
// strings with the DB as a varint between them. The decoder tells them
// apart by byte 8 alone, so the encoder writes the plain form only when
// that byte cannot be the marker: no DB, no File, and an ID that does not
// start with 0xFF (no valid UTF-8 ID does, but the codec does not rely on
// validation upstream). Everything else takes the extended form. Cursors
// the plain form can hold are still written that way, so files written
// before the extended form existed read back unchanged and stay
// byte-identical.
const (
	cursorExtMarker = 0xFF
	cursorExtFormat = 1
)

func encodeCursor(c Cursor) []byte {
	if c.DB == 0 && c.File == "" && (c.ID == "" || c.ID[0] != cursorExtMarker) {
		out := make([]byte, 8+len(c.ID))
		binary.BigEndian.PutUint64(out, uint64(c.Offset))
		copy(out[8:], c.ID)
		return out
	}
	out := make([]byte, 8, 8+2+3*binary.MaxVarintLen64+len(c.ID)+len(c.File))
	binary.BigEndian.PutUint64(out, uint64(c.Offset))
	out = append(out, cursorExtMarker, cursorExtFormat)
	out = appendString(out, c.ID)
	out = binary.AppendVarint(out, int64(c.DB))
	return appendString(out, c.File)
}

func decodeCursor(v []byte) (Cursor, error) {
	if len(v) < 8 {
		return Cursor{}, corruptf("cursor record of %d bytes, want at least 8", len(v))
	}
	off := int64(binary.BigEndian.Uint64(v))
	if len(v) == 8 || v[8] != cursorExtMarker {
		return Cursor{Offset: off, ID: string(v[8:])}, nil
	}
	r := &recordReader{b: v[9:]}
	if f := r.byte("cursor format"); r.err == nil && f != cursorExtFormat {
		return Cursor{}, corruptf("cursor record format %d, want %d", f, cursorExtFormat)
	}
	c := Cursor{Offset: off, ID: r.string("cursor id")}
	db := r.varint("cursor db")
	if r.err == nil && (db < math.MinInt32 || db > math.MaxInt32) {
		r.fail("cursor db")
	}
	c.DB = int(db)
	c.File = r.string("cursor file")
	switch {
	case r.err != nil:
		return Cursor{}, corruptf("cursor record: %v", r.err)
	case len(r.b) != 0:
		return Cursor{}, corruptf("cursor record: %d trailing bytes", len(r.b))
	}
	return c, nil
}

// Milestone records are a compact binary form (decoding JSON dominated
// replay time): a format byte, then key, kind, slot as uvarint-length
// strings, At as a flag byte plus varint seconds and uvarint nanoseconds,
// then a uvarint count of attrs and their key/value strings. Seq lives in
// the bbolt key. The key comes first so acks read only that.
const milestoneFormat = 1

func encodeMilestone(m Milestone) ([]byte, error) {
	n := 1 + 3*binary.MaxVarintLen64 + len(m.Key) + len(m.Kind) + len(m.Slot) + 1 + 2*binary.MaxVarintLen64 + binary.MaxVarintLen64
	for k, v := range m.Attrs {
		n += 2*binary.MaxVarintLen64 + len(k) + len(v)
	}
	b := make([]byte, 0, n)
	b = append(b, milestoneFormat)
	b = appendString(b, m.Key)
	b = appendString(b, m.Kind)
	b = appendString(b, m.Slot)
	if m.At.IsZero() {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = binary.AppendVarint(b, m.At.Unix())
		b = binary.AppendUvarint(b, uint64(m.At.Nanosecond()))
	}
	b = binary.AppendUvarint(b, uint64(len(m.Attrs)))
	for _, k := range slices.Sorted(maps.Keys(m.Attrs)) {
		b = appendString(b, k)
		b = appendString(b, m.Attrs[k])
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// recordReader decodes a milestone record; the first problem sticks.
type recordReader struct {
	b   []byte
	err error
}

func (r *recordReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("bad %s", what)
	}
}

func (r *recordReader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) byte(what string) byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail(what)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *recordReader) string(what string) string {
	n := r.uvarint(what + " length")
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.fail(what + " length")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func decodeMilestone(seq uint64, v []byte) (Milestone, error) {
	r := &recordReader{b: v}
	if f := r.byte("format"); r.err == nil && f != milestoneFormat {
		return Milestone{}, corruptf("milestone %d: record format %d, want %d", seq, f, milestoneFormat)
	}
	m := Milestone{Seq: seq, Key: r.string("key"), Kind: r.string("kind"), Slot: r.string("slot")}
	switch r.byte("time flag") {
	case 0:
	case 1:
		sec := r.varint("time seconds")
		nsec := r.uvarint("time nanoseconds")
		if nsec >= 1e9 {
			r.fail("time nanoseconds")
		}
		m.At = time.Unix(sec, int64(nsec)).UTC()
	default:
		r.fail("time flag")
	}
	n := r.uvarint("attr count")
	if r.err == nil && n > uint64(len(r.b)) { // each attr takes at least 2 bytes
		r.fail("attr count")
	}
	if r.err == nil && n > 0 {
		m.Attrs = make(map[string]string, n)
		for range n {
			k := r.string("attr key")
			m.Attrs[k] = r.string("attr value")
		}
	}
	switch {
	case r.err != nil:
		return Milestone{}, corruptf("milestone %d: %v", seq, r.err)
	case len(r.b) != 0:
		return Milestone{}, corruptf("milestone %d: %d trailing bytes", seq, len(r.b))
	case m.Key == "" || m.Kind == "":
		return Milestone{}, corruptf("milestone %d has no key or kind", seq)
	}
	return m, nil
}

// milestoneKey reads only the key of a record (for acks).
func milestoneKey(seq uint64, v []byte) (string, error) {
	r := &recordReader{b: v}
	if f := r.byte("format"); r.err == nil && f != milestoneFormat {
		return "", corruptf("milestone %d: record format %d, want %d", seq, f, milestoneFormat)
	}
	k := r.string("key")
	if r.err != nil {
		return "", corruptf("milestone %d: %v", seq, r.err)
	}
	return k, nil
}
