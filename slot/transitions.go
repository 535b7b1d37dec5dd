package slot

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/replsm/replsm/fsm"
)

// env is the Slot seen as the fsm.Env of its machine. Everything here runs
// under s.mu, in the middle of Fire: it decides, and queues what must happen
// outside the lock.
type env Slot

func (e *env) Now() time.Time { return e.rt.clock.Now() }

func (e *env) Emit(rec Record) {
	s := (*Slot)(e)
	s.stats.Transitions++
	// The record goes out before the effects its transition decided.
	s.box.At(s.recAt).rec = rec
	for i := s.recAt + 1; i < s.box.Len(); i++ {
		if o := s.box.At(i); o.kind == outExhausted {
			o.rec = rec
		}
	}
	if j := s.rt.opts.Journal; j != nil {
		if err := j(rec); err != nil {
			s.stats.JournalErrors++
			s.box.Put(output{kind: outJournalError, rec: rec, reason: err.Error()})
		}
	}
}

// fire applies ev under s.mu; the caller releases with unlockAndFlush.
func (s *Slot) fire(ev Event, reason string, attrs ...slog.Attr) (Record, error) {
	return s.m.Fire(ev, reason, (*env)(s), attrs...)
}

// continues reports whether a session goes on across from -> to.
func continues(from, to State) bool {
	return (from == WaitReply && (to == WaitDBSync || to == Connected)) ||
		(from == WaitDBSync && to == Connected) ||
		from == to
}

func (e *env) Entered(m *fsm.Machine[State, Event], rec Record) Record {
	s := (*Slot)(e)
	now := rec.Time
	from, to := rec.From, rec.To
	s.recAt = s.box.Len()
	s.box.Put(output{kind: outRecord})

	if sess := s.session; sess != 0 && (sessionState(from) || sessionState(to)) && to != WaitReply {
		rec.Attrs = append(rec.Attrs, slog.Uint64("session", uint64(sess)))
	}
	if from != to {
		s.disarm()
		if from == Connected && s.budget.Disconnected(now) {
			s.backoffStep = 0
			rec.Attrs = append(rec.Attrs, slog.String("budget", "refilled"))
		}
		if sessionState(from) && !continues(from, to) {
			s.box.Put(output{kind: outClose, session: s.session, reason: closeReason(&rec)})
			s.session = 0
		}
		s.enteredAt = now
	}

	switch to {
	case NoConnect:
		if s.linkUp {
			if s.fullSyncDue {
				m.Then(EvStartFullSync, "full sync due")
			} else {
				m.Then(EvStart, "link up")
			}
		}
	case TryConnect:
		m.Then(EvSendTrySync, "")
	case TryDBSync:
		m.Then(EvSendDBSync, "")
	case WaitReply:
		s.lastSession++
		s.session = s.lastSession
		s.fullSession = rec.Event == EvSendDBSync
		rec.Attrs = append(rec.Attrs, slog.Uint64("session", uint64(s.session)))
		s.arm(now.Add(s.cfg.ReplyTimeout))
		s.box.Put(output{kind: outSync, session: s.session, full: s.fullSession})
	case WaitDBSync:
		s.lastActivity = now
		s.arm(now.Add(s.cfg.TransferIdleTimeout))
	case Connected:
		s.lastActivity = now
		s.arm(now.Add(s.cfg.KeepaliveTimeout))
		if from == WaitDBSync {
			s.stats.FullSyncs++
		}
		s.budget.Connected(now)
		s.incFailures, s.fullSyncDue, s.exhausted = 0, false, false
		s.wakeWaiters()
	case Error:
		s.enterError(&rec, from)
	case Detached:
		s.wakeWaiters()
	}
	return rec
}

func closeReason(rec *Record) string {
	if rec.Reason != "" {
		return rec.Reason
	}
	return string(rec.Event)
}

// enterError counts the failure, escalates to full sync after K failed
// incremental attempts, and arms the recovery timer while the budget lasts.
func (s *Slot) enterError(rec *Record, from State) {
	s.stats.Failures++
	s.lastErr = string(rec.Event)
	if rec.Reason != "" {
		s.lastErr += ": " + rec.Reason
	}
	if s.unreached {
		rec.Attrs = append(rec.Attrs, slog.Bool("reached", false))
	} else if from == WaitReply && !s.fullSession {
		s.incFailures++
		if s.incFailures >= s.cfg.FullSyncAfter && !s.fullSyncDue {
			s.fullSyncDue = true
			rec.Attrs = append(rec.Attrs, slog.String("full_sync_due", strconv.Itoa(s.incFailures)+" incremental failures"))
		}
	}
	if s.budget.Remaining() == 0 {
		s.exhausted = true
		s.stats.Exhaustions++
		rec.Attrs = append(rec.Attrs, slog.String("exhausted", fmt.Sprintf("%d/%d", s.budget.Used(), s.budget.Cap())))
		s.box.Put(output{kind: outExhausted})
		s.wakeWaiters()
		return
	}
	delay := s.cfg.Backoff.Delay(s.backoffStep, s.random())
	s.arm(rec.Time.Add(delay))
	rec.Attrs = append(rec.Attrs,
		slog.String("attempt", fmt.Sprintf("%d/%d", s.budget.Used()+1, s.budget.Cap())),
		slog.Duration("retry_in", delay))
}

// random is the slot's own jitter stream, made on first use so idle slots
// carry none.
func (s *Slot) random() *rand.Rand {
	if s.rng == nil {
		s.rng = rand.New(rand.NewPCG(s.rt.opts.Seed, uint64(s.id)))
	}
	return s.rng
}

func (s *Slot) arm(at time.Time) {
	s.deadline, s.armed = at, true
	s.rt.sched.Arm(s, at)
}

func (s *Slot) disarm() {
	if s.armed {
		s.armed = false
		s.rt.sched.Cancel(s)
	}
}

// onDeadline runs from the scheduler when the slot's deadline is due.
func (s *Slot) onDeadline(at time.Time) {
	s.mu.Lock()
	if !s.armed || !s.deadline.Equal(at) {
		s.mu.Unlock() // re-armed or cancelled since: not ours any more
		return
	}
	s.armed = false
	now := s.rt.clock.Now()
	switch st := s.m.State(); st {
	case WaitReply:
		s.fire(EvReplyTimeout, "no reply in "+s.cfg.ReplyTimeout.String())
	case WaitDBSync:
		s.idleCheck(now, s.cfg.TransferIdleTimeout, EvTransferStalled, "no transfer progress in ")
	case Connected:
		s.idleCheck(now, s.cfg.KeepaliveTimeout, EvKeepaliveTimeout, "nothing received in ")
	case Error:
		s.recover()
	}
	s.unlockAndFlush()
}

// idleCheck fires ev if nothing arrived for limit; otherwise it moves the
// deadline to where the last activity puts it. Activity itself never touches
// the scheduler, which keeps the data path cheap.
func (s *Slot) idleCheck(now time.Time, limit time.Duration, ev Event, reason string) {
	if due := s.lastActivity.Add(limit); now.Before(due) {
		s.arm(due)
		return
	}
	s.fire(ev, reason+limit.String())
}

func (s *Slot) recover() {
	attempt, ok := s.budget.Take()
	if !ok {
		return // armed only while the budget lasts; a Reset may have raced us
	}
	s.backoffStep++
	s.stats.Recoveries++
	s.fire(EvRecover, "recovery timer",
		slog.String("attempt", fmt.Sprintf("%d/%d", attempt, s.budget.Cap())))
}
