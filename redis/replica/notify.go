package replica

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/internal/failpoint"
	"github.com/replsm/replsm/milestone"
	"github.com/replsm/replsm/outbox"
	core "github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/slot"
	"github.com/replsm/replsm/store"
)

// The milestone outbox (Config.Notify). The slot and instance machines
// journal their records under their own locks (slot.Options.Journal,
// core.Options.Journal); milestone.Journal turns the ones that matter into
// milestones and appends them durably through outbox.AppendAll, which never
// calls the sink. The outbox's own goroutine delivers them afterwards, in
// order, with backoff and a breaker, and replays what an earlier run left
// undelivered when it starts.

// notifier owns the outbox and the journal that feeds it.
type notifier struct {
	ob      *outbox.Outbox
	journal *milestone.Journal
	mem     store.Store // the in-memory store when there is no StateDir; closed with the notifier
}

// newNotifier builds the outbox on st (nil: an in-memory store) and the
// journal feeding it. cursor gives the full-sync milestone its offset.
func newNotifier(cfg Config, st store.Store, clk clock.Clock, log *slog.Logger, attrs func(slot.ID) map[string]string) (*notifier, error) {
	n := &notifier{}
	var inc uint64
	if st == nil {
		// Nothing persists, so there is no boot counter to bump. A random
		// incarnation still keeps this run's idempotency keys apart from
		// every other run's: a receiver must never drop a new milestone as
		// the duplicate of an old one.
		n.mem = store.NewMemory()
		st = n.mem
		inc = rand.Uint64() >> 1
	} else {
		var err error
		if inc, err = milestone.NextIncarnation(st); err != nil {
			return nil, fmt.Errorf("redis replica: %w", err)
		}
	}
	ocfg := cfg.Outbox
	if ocfg.Logger == nil {
		ocfg.Logger = log
	}
	ob, err := outbox.New(st, notifySink{cfg.Notify}, clk, ocfg)
	if err != nil {
		n.close()
		return nil, fmt.Errorf("redis replica: milestone outbox: %w", err)
	}
	n.ob = ob
	n.journal = &milestone.Journal{Append: ob.AppendAll, Incarnation: inc, Attrs: attrs}
	if p := ob.Stats().Pending; p > 0 {
		log.Info("milestones left undelivered by an earlier run; replaying them at start", slog.Int("pending", p))
	}
	return n, nil
}

func (n *notifier) close() {
	if n.mem != nil {
		_ = n.mem.Close()
	}
}

// notifySink wraps Config.Notify with the crash-test failpoints around a
// delivery. It forwards String (for logs) and CloseIdleConnections (which
// Outbox.Stop calls) to the sink it wraps.
type notifySink struct{ inner outbox.Sink }

// Deliver implements outbox.Sink.
func (s notifySink) Deliver(ctx context.Context, m store.Milestone) error {
	// The milestone is durable in the store; it has not reached the sink.
	failpoint.Hit(failpoint.OutboxBeforeDeliver)
	err := s.inner.Deliver(ctx, m)
	if err == nil {
		// The sink has it; the ack that deletes it is not recorded yet.
		failpoint.Hit(failpoint.OutboxAfterDeliver)
	}
	return err
}

func (s notifySink) String() string {
	if st, ok := s.inner.(fmt.Stringer); ok {
		return st.String()
	}
	return fmt.Sprintf("%T", s.inner)
}

func (s notifySink) CloseIdleConnections() {
	if c, ok := s.inner.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Info is the replica's status: the core's instance and slot status, and
// the milestone outbox's backlog when Config.Notify is set.
type Info struct {
	core.Info
	// Outbox is the outbox's backlog, breaker and counters; nil without
	// Config.Notify.
	Outbox *outbox.Stats
	// OutboxWarning says what is wrong while the backlog is above the
	// outbox's BacklogWarn threshold; "" otherwise.
	OutboxWarning string
}

// String renders the core's lines followed by the outbox's.
func (i Info) String() string {
	var b strings.Builder
	writeCoreInfo(&b, i.Info)
	for _, line := range i.outboxLines(time.Time{}) {
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// outboxLines are the INFO lines of the outbox (none without one). With a
// non-zero now, the next attempt is also given as a delay from now.
func (i Info) outboxLines(now time.Time) []string {
	o := i.Outbox
	if o == nil {
		return nil
	}
	lines := []string{
		fmt.Sprintf("outbox_pending:%d", o.Pending),
		fmt.Sprintf("outbox_breaker:%s", o.Breaker),
		fmt.Sprintf("outbox_delivered:%d", o.Delivered),
		fmt.Sprintf("outbox_failures:%d", o.Failures),
		fmt.Sprintf("outbox_consecutive_failures:%d", o.ConsecutiveFailures),
		fmt.Sprintf("outbox_backlog_warning:%d", boolDigit(o.BacklogWarning)),
	}
	if !o.NextAttempt.IsZero() && !now.IsZero() {
		lines = append(lines, fmt.Sprintf("outbox_next_attempt_in:%s", max(o.NextAttempt.Sub(now), 0).Round(time.Millisecond)))
	}
	if o.LastError != nil {
		lines = append(lines, "outbox_last_error:"+oneLine(o.LastError.Error()))
	}
	if i.OutboxWarning != "" {
		lines = append(lines, "outbox_warning:"+oneLine(i.OutboxWarning))
	}
	return lines
}

// outboxInfo fills the outbox part of Info.
func (r *Replica) outboxInfo(info *Info) {
	if r.notify == nil {
		return
	}
	st := r.notify.ob.Stats()
	info.Outbox = &st
	if st.BacklogWarning {
		threshold := r.cfg.Outbox.BacklogWarn
		if threshold == 0 {
			threshold = outbox.DefaultBacklogWarn
		}
		info.OutboxWarning = fmt.Sprintf("%d milestones waiting for delivery, above the threshold of %d (breaker %s)", st.Pending, threshold, st.Breaker)
		if st.LastError != nil {
			info.OutboxWarning += "; last error: " + st.LastError.Error()
		}
	}
}

// Attribute keys the Redis replica adds to a full-sync milestone.
const (
	MilestoneReplID = "cursor_id" // the replication id the shard follows
	MilestoneOffset = "offset"    // the replication offset it stands at
)

// milestoneAttrs is milestone.Journal.Attrs: where shard id stands, for the
// full-sync milestone. It takes only the shard's own mutex, which is never
// held while calling into the slot.
func (r *Replica) milestoneAttrs(id slot.ID) map[string]string {
	sh, ok := r.lookup(id)
	if !ok {
		return nil
	}
	c := sh.cursor()
	if !c.Valid() {
		return nil
	}
	return map[string]string{MilestoneReplID: c.ReplID, MilestoneOffset: strconv.FormatInt(c.Offset, 10)}
}
