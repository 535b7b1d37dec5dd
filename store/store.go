package store

import (
	"fmt"
	"maps"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Cursor is a slot's replication cursor: where incremental replication
// resumes after a restart. In Redis terms it is the replication id and the
// offset within it; in Pika terms the binlog file number and offset folded
// into one position.
//
// DB and File are optional. A Redis replica records the database the
// stream had SELECTed at Offset (a primary does not repeat SELECT after a
// partial resync) and the snapshot file, relative to its state directory,
// that holds the data the cursor stands on.
type Cursor struct {
	ID     string `json:"id"`
	Offset int64  `json:"offset"`
	DB     int    `json:"db,omitempty"`
	File   string `json:"file,omitempty"`
}

// Milestone is a durable notification that must reach a receiver at least
// once (see package outbox). The store assigns Seq; Key is the stable
// idempotency key receivers dedupe by.
type Milestone struct {
	// Seq is the creation order, assigned by the store on append, starting
	// at 1. A Seq set by the caller on append is ignored.
	Seq uint64 `json:"seq"`
	// Key is the idempotency key, e.g. "slot/3/full_sync_completed/session/7".
	// While a milestone with this Key is pending, appending the Key again
	// returns the pending one. Once acked, the Key is forgotten.
	Key string `json:"key"`
	// Kind is one of the Kind* constants (or an embedding's own kind).
	Kind string `json:"kind"`
	// Slot is the shard the milestone is about; "" for instance-level ones.
	Slot string `json:"slot,omitempty"`
	// At is when it happened (from the caller's clock); stored and returned in UTC.
	At time.Time `json:"at"`
	// Attrs carries details (session id, offsets, error text). Copied on
	// append and on read, so callers may reuse their maps.
	Attrs map[string]string `json:"attrs,omitempty"`
}

// Store is the durable state behind the replication machines: one cursor
// per slot and an ordered log of un-acked milestones. Implementations are
// safe for concurrent use.
type Store interface {
	// LoadCursor returns the saved cursor of slot and whether there was one.
	LoadCursor(slot string) (Cursor, bool, error)
	// SaveCursors writes all cursors of the batch in one durable transaction.
	// A batch with an invalid slot name, or a cursor whose ID or File is not
	// valid UTF-8 or longer than MaxKeyLen, fails with ErrInvalidInput and
	// writes nothing.
	SaveCursors(cursors map[string]Cursor) error
	// AppendMilestone makes m durable (fsync) before it returns, with Seq
	// assigned. Appending a Key that is still pending returns the pending
	// milestone unchanged and writes nothing.
	AppendMilestone(m Milestone) (Milestone, error)
	// AppendMilestones appends a batch in one durable transaction: all of
	// them or none, with the same per-milestone rules as AppendMilestone.
	AppendMilestones(ms []Milestone) ([]Milestone, error)
	// AckMilestone deletes the milestone with this seq. Acking an unknown (or
	// already acked) seq is not an error.
	AckMilestone(seq uint64) error
	// PendingMilestones returns up to limit pending milestones with
	// Seq > afterSeq, in creation order. Callers page through a backlog by
	// passing the last Seq they got; nothing loads the whole backlog.
	PendingMilestones(afterSeq uint64, limit int) ([]Milestone, error)
	// PendingCount returns how many milestones are pending.
	PendingCount() (int, error)
	// Close releases the store. Calling it again is a no-op.
	Close() error
}

// BatchAcker is implemented by stores that can delete several milestones in
// one transaction (both stores of this package do). The outbox uses it to
// pay one fsync per delivered batch instead of one per milestone.
type BatchAcker interface {
	// AckMilestones deletes every listed seq in one transaction; unknown
	// seqs are skipped.
	AckMilestones(seqs []uint64) error
}

// Limits on identifiers. They keep keys well inside bbolt's key size limit
// and catch garbage (for example binary data passed by mistake) early.
const (
	MaxSlotLen = 256
	MaxKeyLen  = 1024
	MaxKindLen = 128
)

func validateSlot(slot string) error {
	switch {
	case slot == "":
		return fmt.Errorf("%w: empty slot name", ErrInvalidInput)
	case len(slot) > MaxSlotLen:
		return fmt.Errorf("%w: slot name of %d bytes exceeds %d", ErrInvalidInput, len(slot), MaxSlotLen)
	case !utf8.ValidString(slot):
		return fmt.Errorf("%w: slot name %q is not valid UTF-8", ErrInvalidInput, slot)
	}
	return nil
}

// validateCursor rejects garbage and what the cursor codec could not
// round-trip: an ID or File that is not valid UTF-8 or longer than
// MaxKeyLen, and a DB outside the int32 range the record holds.
func validateCursor(slot string, c Cursor) error {
	if err := validateSlot(slot); err != nil {
		return err
	}
	if c.DB < math.MinInt32 || c.DB > math.MaxInt32 {
		return fmt.Errorf("%w: cursor of slot %q: db %d out of range", ErrInvalidInput, slot, c.DB)
	}
	for _, f := range []struct{ name, v string }{{"id", c.ID}, {"file", c.File}} {
		switch {
		case len(f.v) > MaxKeyLen:
			return fmt.Errorf("%w: cursor of slot %q: %s of %d bytes exceeds %d", ErrInvalidInput, slot, f.name, len(f.v), MaxKeyLen)
		case !utf8.ValidString(f.v):
			return fmt.Errorf("%w: cursor of slot %q: %s %q is not valid UTF-8", ErrInvalidInput, slot, f.name, f.v)
		}
	}
	return nil
}

func validateMilestone(m Milestone) error {
	switch {
	case m.Key == "":
		return fmt.Errorf("%w: milestone without a key (kind %q)", ErrInvalidInput, m.Kind)
	case len(m.Key) > MaxKeyLen:
		return fmt.Errorf("%w: milestone key of %d bytes exceeds %d", ErrInvalidInput, len(m.Key), MaxKeyLen)
	case !utf8.ValidString(m.Key):
		return fmt.Errorf("%w: milestone key %q is not valid UTF-8", ErrInvalidInput, m.Key)
	case strings.ContainsFunc(m.Key, unicode.IsControl):
		// The key travels in an Idempotency-Key header; control characters
		// would make every delivery fail.
		return fmt.Errorf("%w: milestone key %q contains control characters", ErrInvalidInput, m.Key)
	case m.Kind == "":
		return fmt.Errorf("%w: milestone %q without a kind", ErrInvalidInput, m.Key)
	case len(m.Kind) > MaxKindLen:
		return fmt.Errorf("%w: milestone %q: kind of %d bytes exceeds %d", ErrInvalidInput, m.Key, len(m.Kind), MaxKindLen)
	case m.Slot != "":
		if err := validateSlot(m.Slot); err != nil {
			return fmt.Errorf("milestone %q: %w", m.Key, err)
		}
	}
	return nil
}

func validateLimit(limit int) error {
	if limit <= 0 {
		return fmt.Errorf("%w: limit must be positive, got %d", ErrInvalidInput, limit)
	}
	return nil
}

// normalize returns the form a milestone is stored in: UTC time without a
// monotonic reading, attrs copied (nil when empty), Seq cleared.
func normalize(m Milestone) Milestone {
	m.Seq = 0
	if !m.At.IsZero() {
		m.At = m.At.UTC().Round(0)
	} else {
		m.At = time.Time{}
	}
	m.Attrs = cloneAttrs(m.Attrs)
	return m
}

func cloneAttrs(a map[string]string) map[string]string {
	if len(a) == 0 {
		return nil
	}
	return maps.Clone(a)
}

func cloneMilestone(m Milestone) Milestone {
	m.Attrs = cloneAttrs(m.Attrs)
	return m
}
