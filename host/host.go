package host

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/replsm/replsm/fsm"
	"github.com/replsm/replsm/timeouts"
)

// OutKind tells an Output's meaning.
type OutKind uint8

// Output kinds. The host carries out OutRecord itself; the owner gets the
// others through Owner.Effect.
const (
	OutRecord    OutKind = iota // a transition record: journal, log, observers
	OutEffect                   // an owner effect (Code says which)
	OutExhausted                // the recovery budget ran out: once per episode (Reason: what happens next)
	OutProbe                    // ask the driver for a reachability probe (Session)
)

// Output is a record or an effect decided under the lock and carried out
// after it, in order. Rec is the record of the transition that decided it.
type Output[S ~string, E ~string] struct {
	Kind    OutKind
	Code    uint8 // the owner's effect kind
	Full    bool
	Session Session
	Peer    string // the endpoint a request goes to
	Reason  string
	Rec     fsm.Record[S, E]
}

// Owner is the machine that embeds a Host.
type Owner[S ~string, E ~string] interface {
	// Entered runs under the lock after each state change, before its
	// record is emitted; it may queue effects (Queue) and follow-ups (Then)
	// and append attributes to rec (the machine's scratch record: never
	// kept past the call).
	Entered(rec *fsm.Record[S, E])
	// Due runs under the lock when the machine's deadline is due.
	Due(now time.Time)
	// Effect carries out one effect after the lock is released.
	Effect(o *Output[S, E])
}

// Kind is what every machine of one kind in one runtime shares: logging
// levels, observers, the journal, the Error policy.
type Kind[S ~string, E ~string] struct {
	// Error is the failed state; entering it applies the recovery policy.
	Error S
	// Observers get every record after the lock is released, in order per
	// machine.
	Observers []func(fsm.Record[S, E])
	// Journal makes a record durable after the lock is released and before
	// anything else (log, observers, effects) sees it. An error is logged
	// and counted; the transition stands.
	Journal func(fsm.Record[S, E]) error
}

// Attribute keys the host puts on records entering and leaving Error.
const (
	AttrAttempt    = "attempt"     // "2/5": the budgeted attempt; "slow" for the exhausted cadence
	AttrRetryIn    = "retry_in"    // when the next recovery is due
	AttrExhausted  = "exhausted"   // "5/5": set once, on the entry that starts an exhaustion episode
	AttrBudget     = "budget"      // "spent" on later entries of an episode; "refilled" after a stable spell
	AttrRetry      = "retry"       // "operator" when ExhaustedRetry is 0
	AttrProbeEvery = "probe_every" // the probe interval, when the failure never reached the peer
)

// Recovery is the Error policy of one machine (see docs/DESIGN.md, "Error
// is never a dead end").
type Recovery struct {
	Backoff timeouts.Backoff
	// ExhaustedRetry is the slow cadence once the budget is spent: one
	// attempt each. Zero waits for the operator.
	ExhaustedRetry time.Duration
	// ProbeInterval spaces reachability probes while in Error after a
	// failure that never reached the peer; zero disables them.
	ProbeInterval time.Duration
}

// Host is the machinery one machine needs. Fields with exported names are
// the owner's to use under Mu.
type Host[S ~string, E ~string] struct {
	Mu sync.Mutex
	M  fsm.Machine[S, E]
	// EnteredAt is when the current state was entered.
	EnteredAt time.Time
	// Budget caps automatic recoveries per stable period.
	Budget timeouts.Budget
	// Exhausted is true from the Error entry that found the budget spent
	// until the machine is healthy again (the episode).
	Exhausted bool
	// LastErr is the event and reason of the last entry into Error.
	LastErr string

	rt      *Runtime
	kind    *Kind[S, E]
	owner   Owner[S, E]
	box     fsm.Mailbox[Output[S, E]]
	pending []Output[S, E]
	dl      Deadline

	backoffStep int
	recoverAt   time.Time // when the recovery timer is due; zero if none
	probeAt     time.Time // when the next probe is due; zero if not probing
	probe       Session   // the probe in flight, 0 when none
	probeEvery  time.Duration
	slowEvery   time.Duration // the exhausted cadence of the current Error
	rng         *rand.Rand
	stream      uint64
	journalErrs uint64
}

// Init sets the host up; stream picks the machine's own jitter stream from
// the runtime's seed.
func (h *Host[S, E]) Init(rt *Runtime, def *fsm.Def[S, E], id string, owner Owner[S, E], kind *Kind[S, E], budget timeouts.Budget, stream uint64) {
	h.rt, h.kind, h.owner, h.Budget, h.stream = rt, kind, owner, budget, stream
	h.M = fsm.NewMachine(def, id)
	h.EnteredAt = rt.clock.Now()
	h.dl.due = h.onDeadline
}

// Fire applies ev under Mu; call UnlockAndFlush afterwards.
func (h *Host[S, E]) Fire(ev E, reason string, attrs ...slog.Attr) (fsm.Record[S, E], error) {
	return h.M.Fire(ev, reason, (*env[S, E])(h), attrs...)
}

// Queue adds an effect of the transition being made (from Entered).
func (h *Host[S, E]) Queue(o Output[S, E]) { h.pending = append(h.pending, o) }

// UnlockAndFlush releases Mu and hands out what was decided, in order.
func (h *Host[S, E]) UnlockAndFlush() { h.box.UnlockAndFlush(&h.Mu, h.deliver) }

// JournalErrors counts records the journal refused.
func (h *Host[S, E]) JournalErrors() uint64 { return h.journalErrs }

// Arm sets the machine's one deadline.
func (h *Host[S, E]) Arm(at time.Time) {
	h.dl.at, h.dl.armed = at, true
	h.rt.sched.Arm(&h.dl, at)
}

// Disarm cancels the deadline, if armed.
func (h *Host[S, E]) Disarm() {
	if h.dl.armed {
		h.dl.armed = false
		h.rt.sched.Cancel(&h.dl)
	}
}

// Deadline is the armed deadline; call it under Mu.
func (h *Host[S, E]) Deadline() (time.Time, bool) { return h.dl.at, h.dl.armed }

func (h *Host[S, E]) onDeadline(at time.Time) {
	h.Mu.Lock()
	if !h.dl.armed || !h.dl.at.Equal(at) {
		h.Mu.Unlock() // re-armed or cancelled since: not ours any more
		return
	}
	h.dl.armed = false
	h.owner.Due(h.rt.clock.Now())
	h.UnlockAndFlush()
}

// Random is the machine's own jitter stream, made on first use.
func (h *Host[S, E]) Random() *rand.Rand {
	if h.rng == nil {
		h.rng = rand.New(rand.NewPCG(h.rt.seed, h.stream))
	}
	return h.rng
}

// Settle refills the budget if the machine has been healthy for the stable
// period; status reads call it.
func (h *Host[S, E]) Settle(now time.Time) {
	if h.Budget.Settle(now) {
		h.backoffStep = 0
	}
}

// Healthy marks the machine healthy at now: the exhaustion episode ends,
// the stable period starts, and a spent budget gets one attempt back (a peer
// that fails again soon after coming back is retried after its backoff, not
// at the slow cadence; the backoff keeps growing until a stable period).
func (h *Host[S, E]) Healthy(now time.Time) {
	h.Budget.Connected(now)
	h.Budget.Credit()
	h.Exhausted = false
}

// Unhealthy marks the end of a healthy spell; it reports whether the budget
// refilled because the spell lasted the stable period.
func (h *Host[S, E]) Unhealthy(now time.Time) bool {
	if h.Budget.Disconnected(now) {
		h.backoffStep = 0
		return true
	}
	return false
}

// Refill is the operator's (or a re-point's) fresh start: full budget, no
// backoff, no exhaustion.
func (h *Host[S, E]) Refill() {
	h.Budget.Refill()
	h.backoffStep, h.Exhausted = 0, false
}

// EnterError applies the recovery policy on entering Error (from Entered):
// a backed-off recovery while the budget lasts; once spent, exhaustion
// (reported once per episode) and the slow cadence; and, when the failure
// never reached the peer and probing is possible, probes at p.ProbeInterval.
func (h *Host[S, E]) EnterError(rec *fsm.Record[S, E], p *Recovery, unreached, canProbe bool) {
	now := rec.Time
	h.LastErr = string(rec.Event)
	if rec.Reason != "" {
		h.LastErr += ": " + rec.Reason
	}
	h.recoverAt, h.probeAt, h.probe = time.Time{}, time.Time{}, 0
	h.slowEvery = p.ExhaustedRetry
	if h.Budget.Remaining() > 0 {
		delay := p.Backoff.Delay(h.backoffStep, h.Random())
		h.recoverAt = now.Add(delay)
		rec.Attrs = append(rec.Attrs,
			slog.String(AttrAttempt, fmt.Sprintf("%d/%d", h.Budget.Used()+1, h.Budget.Cap())),
			slog.Duration(AttrRetryIn, delay))
	} else {
		if !h.Exhausted {
			h.Exhausted = true
			rec.Attrs = append(rec.Attrs, slog.String(AttrExhausted, fmt.Sprintf("%d/%d", h.Budget.Used(), h.Budget.Cap())))
			next := "retrying every " + p.ExhaustedRetry.String()
			if p.ExhaustedRetry == 0 {
				next = "waiting for an operator reset"
			}
			h.Queue(Output[S, E]{Kind: OutExhausted, Reason: next})
		} else {
			rec.Attrs = append(rec.Attrs, slog.String(AttrBudget, "spent"))
		}
		if p.ExhaustedRetry > 0 {
			h.recoverAt = now.Add(p.ExhaustedRetry)
			rec.Attrs = append(rec.Attrs, slog.Duration(AttrRetryIn, p.ExhaustedRetry))
		} else {
			rec.Attrs = append(rec.Attrs, slog.String(AttrRetry, "operator"))
		}
	}
	// In the operator's mode (ExhaustedRetry 0) an exhausted machine waits
	// for the operator: nothing automatic, probes included.
	operator := h.Exhausted && p.ExhaustedRetry == 0
	if unreached && canProbe && p.ProbeInterval > 0 && !operator {
		h.probeEvery = p.ProbeInterval
		h.probeAt = now.Add(p.ProbeInterval)
		rec.Attrs = append(rec.Attrs, slog.Duration(AttrProbeEvery, p.ProbeInterval))
	}
	h.armError()
}

func (h *Host[S, E]) armError() {
	at := h.recoverAt
	if !h.probeAt.IsZero() && (at.IsZero() || h.probeAt.Before(at)) {
		at = h.probeAt
	}
	if !at.IsZero() {
		h.Arm(at)
	}
}

// ErrorDue is the owner's Due while in Error. It returns how the machine
// should recover now: attempt "" (not yet), or the attempt label ("2/5", or
// "slow" for the exhausted cadence) and the recovery's reason; probed
// reports that a probe was sent instead.
func (h *Host[S, E]) ErrorDue(now time.Time) (attempt, reason string, probed bool) {
	if !h.recoverAt.IsZero() && !now.Before(h.recoverAt) {
		h.recoverAt = time.Time{}
		if n, ok := h.Budget.Take(); ok {
			h.backoffStep++
			return fmt.Sprintf("%d/%d", n, h.Budget.Cap()), "recovery timer", false
		}
		return "slow", "exhausted retry every " + h.slowEvery.String(), false
	}
	if !h.probeAt.IsZero() && !now.Before(h.probeAt) {
		// A probe is not a transition: it goes out on its own, after the lock.
		h.probe = h.rt.NewProbe()
		o := h.box.Add()
		o.Kind, o.Session = OutProbe, h.probe
		h.probeAt = now.Add(h.probeEvery)
		probed = true
	}
	h.armError()
	return "", "", probed
}

// Reached is what the owner calls when it learns the peer answers (a probe,
// a sibling, the instance link) and recovers at once: probing ends, and
// the recovery spends a budget unit when there is one, never requires one.
func (h *Host[S, E]) Reached() {
	h.probeAt, h.probe = time.Time{}, 0
	h.Budget.Take()
}

// ProbeLive reports whether probe is the one in flight.
func (h *Host[S, E]) ProbeLive(probe Session) bool { return probe != 0 && probe == h.probe }

// Probing reports whether the machine probes its peer while in Error.
func (h *Host[S, E]) Probing() bool { return !h.probeAt.IsZero() }

// env is the Host seen as the fsm.Env of its machine.
type env[S ~string, E ~string] Host[S, E]

func (e *env[S, E]) Now() time.Time { return e.rt.clock.Now() }

func (e *env[S, E]) Entered(_ *fsm.Machine[S, E], rec *fsm.Record[S, E]) {
	h := (*Host[S, E])(e)
	if rec.From != rec.To {
		h.Disarm()
		h.EnteredAt = rec.Time
		if rec.From == h.kind.Error {
			h.recoverAt, h.probeAt, h.probe = time.Time{}, time.Time{}, 0
		}
	}
	h.owner.Entered(rec)
	if rec.From != rec.To {
		h.rt.changedState()
	}
}

// Emit queues the record, then the effects its transition decided.
func (e *env[S, E]) Emit(rec *fsm.Record[S, E]) {
	h := (*Host[S, E])(e)
	o := h.box.Add()
	o.Kind, o.Rec = OutRecord, *rec
	for i := range h.pending {
		o := h.box.Add()
		*o = h.pending[i]
		o.Rec = *rec
	}
	clear(h.pending)
	h.pending = h.pending[:0]
}

func (h *Host[S, E]) deliver(o *Output[S, E]) {
	if o.Kind != OutRecord {
		h.owner.Effect(o)
		return
	}
	if j := h.kind.Journal; j != nil {
		if err := j(o.Rec); err != nil {
			h.Mu.Lock()
			h.journalErrs++
			h.Mu.Unlock()
			h.rt.Log(slog.LevelError, "journal failed", slog.String("id", o.Rec.ID),
				slog.Uint64("seq", o.Rec.Seq), slog.String("error", err.Error()))
		}
	}
	level := slog.LevelInfo
	if o.Rec.To == h.kind.Error {
		level = slog.LevelWarn
	}
	fsm.Log(context.Background(), h.rt.log, level, &o.Rec)
	for _, obs := range h.kind.Observers {
		obs(o.Rec)
	}
}
