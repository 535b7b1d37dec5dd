package slot

import (
	"fmt"
	"log/slog"

	"github.com/replsm/replsm/fsm"
)

// Deliver applies a reply from the primary under session sess: one of
// sync_ok, need_full_sync, db_sync_started, db_sync_done, db_sync_loaded or
// fail. It returns the transition's record, or:
//   - an *fsm.EventError wrapping fsm.ErrUnknownEvent for an undeclared event,
//   - ErrNotDeliverable for an event only timers or operators raise,
//   - ErrStaleSession if sess is not the live session (dropped and counted),
//   - an *fsm.EventError wrapping fsm.ErrNotAllowed if the live session is in
//     a state where ev makes no sense.
//
// On any error nothing changed.
func (s *Slot) Deliver(sess Session, ev Event, reason string) (Record, error) {
	return s.reply(sess, ev, reason, false)
}

// reply is Deliver; unreached marks a failure whose request never reached
// the primary (see FailUnreached).
func (s *Slot) reply(sess Session, ev Event, reason string, unreached bool) (Record, error) {
	if !def.HasEvent(ev) {
		return Record{}, &fsm.EventError{Machine: def.Name(), ID: s.id.String(), Event: string(ev), State: string(s.State()), Err: fsm.ErrUnknownEvent}
	}
	if !replyEvents[ev] {
		return Record{}, fmt.Errorf("%w: %s %s is raised by the slot's timers or operator commands", ErrNotDeliverable, s.id, ev)
	}
	s.mu.Lock()
	if sess == 0 || sess != s.session {
		err := s.staleLocked(sess, string(ev))
		s.unlockAndFlush()
		return Record{}, err
	}
	s.unreached = unreached
	rec, err := s.fire(ev, reason)
	s.unreached = false
	s.unlockAndFlush()
	return rec, err
}

// staleLocked counts a drop and says why.
func (s *Slot) staleLocked(sess Session, what string) error {
	s.stats.StaleDropped++
	s.rt.Log(slog.LevelDebug, "stale session dropped",
		slog.String("id", s.id.String()), slog.String("what", what),
		slog.Uint64("session", uint64(sess)), slog.Uint64("live", uint64(s.session)))
	return fmt.Errorf("%w: %s %s for session %d, live session is %d", ErrStaleSession, s.id, what, sess, s.session)
}

// SyncOK: the primary accepted the incremental sync (WaitReply -> Connected).
func (s *Slot) SyncOK(sess Session) error { return s.deliver1(sess, EvSyncOK, "") }

// NeedFullSync: the cursor is purged or the id does not match
// (WaitReply -> TryDBSync, and a full-sync request follows).
func (s *Slot) NeedFullSync(sess Session, reason string) error {
	return s.deliver1(sess, EvNeedFullSync, reason)
}

// DBSyncStarted: a snapshot transfer began (WaitReply -> WaitDBSync).
func (s *Slot) DBSyncStarted(sess Session, reason string) error {
	return s.deliver1(sess, EvDBSyncStarted, reason)
}

// DBSyncDone: the snapshot is loaded and the stream continues on the same
// link (WaitDBSync -> Connected).
func (s *Slot) DBSyncDone(sess Session) error { return s.deliver1(sess, EvDBSyncDone, "") }

// Fail: the request, transfer or stream of session sess failed.
func (s *Slot) Fail(sess Session, reason string) error { return s.deliver1(sess, EvFail, reason) }

// FailUnreached: session sess failed before its request reached the primary
// (connection refused, dial timeout). It is a fail like any other, except
// that it does not count toward the FullSyncAfter escalation: an
// unreachable primary says nothing about whether incremental sync works.
func (s *Slot) FailUnreached(sess Session, reason string) error {
	_, err := s.reply(sess, EvFail, reason, true)
	return err
}

func (s *Slot) deliver1(sess Session, ev Event, reason string) error {
	_, err := s.Deliver(sess, ev, reason)
	return err
}

// Data notes that bytes arrived under session sess, which keeps the
// keepalive (Connected) and transfer-idle (WaitDBSync) timers from firing.
// It costs the slot lock and no scheduler work. Data under an older session
// is dropped and counted (ErrStaleSession); data under a session this slot
// never issued, while Connected, means the stream is not what the slot
// thinks it is: stale_data_session, and a new handshake.
func (s *Slot) Data(sess Session) error {
	s.mu.Lock()
	switch {
	case sess != 0 && sess == s.session && (s.m.State() == Connected || s.m.State() == WaitDBSync):
		s.lastActivity = s.rt.clock.Now()
		s.mu.Unlock()
		return nil
	case sess > s.lastSession && s.m.State() == Connected:
		_, err := s.fire(EvStaleDataSession, fmt.Sprintf("data for session %d, live session is %d", sess, s.session))
		s.unlockAndFlush()
		return err
	default:
		err := s.staleLocked(sess, "data")
		s.unlockAndFlush()
		return err
	}
}

// LinkUp tells the slot the instance link is up; a slot in NoConnect starts.
func (s *Slot) LinkUp() {
	s.mu.Lock()
	s.linkUp = true
	if s.m.State() == NoConnect {
		if s.fullSyncDue {
			s.fire(EvStartFullSync, "link up; full sync due")
		} else {
			s.fire(EvStart, "link up")
		}
	}
	s.unlockAndFlush()
}

// LinkDown tells the slot the instance link is down; an active slot goes to
// NoConnect. Error and Detached stay where they are.
func (s *Slot) LinkDown(reason string) {
	s.mu.Lock()
	s.linkUp = false
	switch s.m.State() {
	case NoConnect, Error, Detached:
	default:
		s.fire(EvLinkLost, reason)
	}
	s.unlockAndFlush()
}

// Reset is the operator's way out of Error: back to NoConnect with the
// retry budget and backoff started over (and a start, if the link is up).
func (s *Slot) Reset(reason string) (Record, error) {
	s.mu.Lock()
	defer s.unlockAndFlush()
	if s.m.State() != Error {
		return s.fire(EvReset, reason) // reports ErrNotAllowed
	}
	s.refill()
	return s.fire(EvReset, reason)
}

// Detach takes the shard out: whatever it was doing stops and nothing
// automatic happens until Resume.
func (s *Slot) Detach(reason string) (Record, error) {
	s.mu.Lock()
	defer s.unlockAndFlush()
	return s.fire(EvDetach, reason)
}

// Resume puts a detached shard back in NoConnect with a fresh budget; it
// starts at once if the link is up.
func (s *Slot) Resume(reason string) (Record, error) {
	s.mu.Lock()
	defer s.unlockAndFlush()
	if s.m.State() == Detached {
		s.refill()
	}
	return s.fire(EvResume, reason)
}

func (s *Slot) refill() {
	s.budget.Refill()
	s.backoffStep, s.exhausted = 0, false
}

// RequestFullSync marks the next start as a full sync.
func (s *Slot) RequestFullSync() {
	s.mu.Lock()
	s.fullSyncDue = true
	s.mu.Unlock()
}
