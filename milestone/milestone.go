// Package milestone turns the transitions that matter outside the process
// into durable milestones, appended in the same step that records the
// transition (slot.Options.Journal and replica.Options.Journal run after
// the machine's lock is released, before anything else sees the record) and
// delivered later by an outbox.
//
// Milestones: a shard connected, a full sync completed (with the cursor it
// ended at), a shard exhausted its recoveries, the instance went to Error,
// the instance recovered. Each has a stable idempotency key built from the
// process incarnation (a counter persisted in the store and bumped at every
// start), the machine id and the record's sequence number, so a receiver can
// drop the duplicates that at-least-once delivery brings, and keys from two
// runs of the process never collide.
package milestone

import (
	"fmt"
	"strconv"

	"github.com/replsm/replsm/host"
	"github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/slot"
	"github.com/replsm/replsm/store"
)

// Milestone kinds. Kind is a free-form string in the store; these keep
// emitters and receivers in step.
const (
	KindFullSyncCompleted = "full_sync_completed"
	KindShardConnected    = "shard_connected"
	KindShardExhausted    = "shard_exhausted"
	KindInstanceError     = "instance_error"
	KindInstanceRecovered = "instance_recovered"
)

// Attribute keys of every milestone (the embedding may add its own through
// Journal.Attrs).
const (
	AttrEvent   = "event"
	AttrFrom    = "from"
	AttrTo      = "to"
	AttrReason  = "reason"
	AttrSession = "session"
)

// AppendFunc stores the milestones of one transition durably and
// atomically: (*outbox.Outbox).AppendAll, or a store's AppendMilestones.
type AppendFunc func(ms []store.Milestone) ([]store.Milestone, error)

// incarnationKey is the store cursor slot that holds the boot counter.
const incarnationKey = "_replsm/incarnation"

// NextIncarnation bumps and returns the process incarnation kept in st.
func NextIncarnation(st store.Store) (uint64, error) {
	c, _, err := st.LoadCursor(incarnationKey)
	if err != nil {
		return 0, fmt.Errorf("milestone: read incarnation: %w", err)
	}
	c.Offset++
	if err := st.SaveCursors(map[string]store.Cursor{incarnationKey: c}); err != nil {
		return 0, fmt.Errorf("milestone: save incarnation: %w", err)
	}
	return uint64(c.Offset), nil
}

// Journal builds milestones from records and appends them.
type Journal struct {
	// Append receives the milestones; it must be durable when it returns.
	Append AppendFunc
	// Incarnation keeps keys from different runs apart (NextIncarnation).
	Incarnation uint64
	// Attrs, when set, gives the embedding's own attributes of a full sync
	// milestone (the Redis replica adds its replication id and offset). It
	// runs after the slot lock is released, before the record is visible.
	Attrs func(slot.ID) map[string]string
}

func (j *Journal) key(id string, seq uint64, kind string) string {
	return "inc/" + strconv.FormatUint(j.Incarnation, 10) + "/" + id + "/" + strconv.FormatUint(seq, 10) + "/" + kind
}

// Slot is a slot.Options.Journal.
func (j *Journal) Slot(r slot.Record) error {
	var kinds []string
	switch {
	case r.To == slot.Connected && r.From != slot.Connected:
		if r.From == slot.WaitDBSync {
			kinds = append(kinds, KindFullSyncCompleted)
		}
		kinds = append(kinds, KindShardConnected)
	case r.Event == slot.EvDBSyncLoaded:
		kinds = append(kinds, KindFullSyncCompleted)
	case r.To == slot.Error:
		if _, ok := r.Attr(host.AttrExhausted); ok {
			kinds = append(kinds, KindShardExhausted)
		}
	}
	if len(kinds) == 0 {
		return nil
	}
	ms := make([]store.Milestone, 0, len(kinds))
	for _, kind := range kinds {
		m := store.Milestone{Key: j.key(r.ID, r.Seq, kind), Kind: kind, Slot: r.ID, At: r.Time, Attrs: recordAttrs(r.Event, r.From, r.To, r.Reason)}
		if sess, ok := r.Attr(slot.AttrSession); ok {
			m.Attrs[AttrSession] = sess.String()
		}
		if kind == KindFullSyncCompleted && j.Attrs != nil {
			if id, ok := slot.IDOf(r); ok {
				for k, v := range j.Attrs(id) {
					m.Attrs[k] = v
				}
			}
		}
		ms = append(ms, m)
	}
	_, err := j.Append(ms)
	return err
}

// Instance is a replica.Options.Journal.
func (j *Journal) Instance(r replica.Record) error {
	var kind string
	switch {
	case r.To == replica.Error && r.From != replica.Error:
		kind = KindInstanceError
	case r.Event == replica.EvRecover:
		kind = KindInstanceRecovered
	default:
		return nil
	}
	m := store.Milestone{Key: j.key(r.ID, r.Seq, kind), Kind: kind, At: r.Time, Attrs: recordAttrs(r.Event, r.From, r.To, r.Reason)}
	_, err := j.Append([]store.Milestone{m})
	return err
}

func recordAttrs[S ~string, E ~string](ev E, from, to S, reason string) map[string]string {
	a := map[string]string{AttrEvent: string(ev), AttrFrom: string(from), AttrTo: string(to)}
	if reason != "" {
		a[AttrReason] = reason
	}
	return a
}
