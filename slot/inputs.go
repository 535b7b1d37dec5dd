package slot

import (
	"fmt"
	"log/slog"

	"github.com/replsm/replsm/fsm"
)

// Deliver applies a reply from the primary under session sess: one of
// sync_ok, need_full_sync, db_sync_started, db_sync_done, db_sync_loaded or
// fail (busy replies go through Busy). It returns the transition's record,
// or:
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

// reply is the one way a peer's answer reaches the slot; unreached marks a
// failure whose request never reached the primary (see FailUnreached).
func (s *Slot) reply(sess Session, ev Event, reason string, unreached bool) (Record, error) {
	if !def.HasEvent(ev) {
		return Record{}, &fsm.EventError{Machine: def.Name(), ID: s.id.String(), Event: string(ev), State: string(s.State()), Err: fsm.ErrUnknownEvent}
	}
	if !replyEvents[ev] {
		return Record{}, fmt.Errorf("%w: %s %s is raised by the slot's timers or operator commands", ErrNotDeliverable, s.id, ev)
	}
	s.Mu.Lock()
	if sess == 0 || sess != s.session {
		err := s.staleLocked(sess, string(ev))
		s.UnlockAndFlush()
		return Record{}, err
	}
	if ev == EvBusy {
		if s.M.State() != WaitReply {
			// Busy makes sense only as the answer to a request.
			rec, err := s.Fire(ev, reason)
			s.UnlockAndFlush()
			return rec, err
		}
		if s.fullSession {
			ev = EvBusyFull
		}
		s.busy = true
		s.stats.BusyRetries++
	}
	s.unreached = unreached
	rec, err := s.Fire(ev, reason)
	s.unreached, s.busy = false, false
	s.UnlockAndFlush()
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

// Busy: the primary answered "not now" (-LOADING, -MASTERDOWN, a snapshot
// still being prepared). It is alive: the slot asks again after
// Config.BusyPoll under a new session, spending no budget.
func (s *Slot) Busy(sess Session, reason string) error { return s.deliver1(sess, EvBusy, reason) }

// Fail: the request, transfer or stream of session sess failed after the
// primary answered.
func (s *Slot) Fail(sess Session, reason string) error { return s.deliver1(sess, EvFail, reason) }

// FailUnreached: session sess failed before its request reached the primary
// (connection refused, no route, dial timeout). It does not count toward
// the FullSyncAfter escalation, and in Error the slot probes its endpoint
// (when the driver is a Prober) and recovers as soon as it answers.
func (s *Slot) FailUnreached(sess Session, reason string) error {
	_, err := s.reply(sess, EvFail, reason, true)
	return err
}

func (s *Slot) deliver1(sess Session, ev Event, reason string) error {
	_, err := s.Deliver(sess, ev, reason)
	return err
}

// ProbeResult reports the answer to reachability probe probe: err nil means
// the endpoint answered, and a slot still in Error recovers at once. A
// failed probe changes nothing (the next one is already planned). An
// answer for a probe that is not the one in flight returns ErrStaleSession.
func (s *Slot) ProbeResult(probe Session, err error) error {
	s.Mu.Lock()
	if s.M.State() != Error || !s.ProbeLive(probe) {
		s.stats.StaleDropped++
		s.Mu.Unlock()
		return fmt.Errorf("%w: %s answer for probe %d, which is not the probe in flight", ErrStaleSession, s.id, probe)
	}
	if err == nil {
		s.Reached()
		s.recoverNow("probe: endpoint answers")
	}
	s.UnlockAndFlush()
	return nil
}

// Reachable tells a slot its endpoint answers, learned another way: a
// sibling on the same endpoint reached Connected. A slot in Error after an
// unreached failure recovers at once; any other slot ignores it.
func (s *Slot) Reachable(reason string) {
	s.Mu.Lock()
	s.reachableLocked(reason)
	s.UnlockAndFlush()
}

func (s *Slot) reachableLocked(reason string) {
	if s.M.State() == Error && s.Probing() {
		s.Reached()
		s.recoverNow(reason)
	}
	s.countProbing()
}

// Data notes that bytes arrived under session sess, which keeps the
// keepalive (Connected) and transfer-idle (WaitDBSync) timers from firing
// and counts as activity of the instance link. It costs the slot lock and
// no heap work. Data under the live session is never stale (it may arrive
// in WaitReply, ahead of the reply that explains it). Data under an older
// session is dropped and counted (ErrStaleSession); data under a session
// this runtime never issued, while Connected, means the stream is not what
// the slot thinks it is: stale_data_session, and a new handshake.
func (s *Slot) Data(sess Session) error {
	s.Mu.Lock()
	switch st := s.M.State(); {
	case sess != 0 && sess == s.session && (st == Connected || st == WaitDBSync || st == WaitReply):
		now := s.rt.host.Clock().Now()
		s.lastActivity = now
		s.Mu.Unlock()
		s.rt.host.NoteData(now)
		return nil
	case sess > s.session && st == Connected:
		_, err := s.Fire(EvStaleDataSession, fmt.Sprintf("data for session %d, live session is %d", sess, s.session))
		s.UnlockAndFlush()
		return err
	default:
		err := s.staleLocked(sess, "data")
		s.UnlockAndFlush()
		return err
	}
}

// LinkUp tells the slot the instance link is up: a slot in NoConnect
// starts, and a slot in Error after an unreached failure takes it as a
// successful probe.
func (s *Slot) LinkUp() {
	s.Mu.Lock()
	s.linkUp = true
	switch s.M.State() {
	case NoConnect:
		if s.fullSyncDue {
			s.Fire(EvStartFullSync, "link up; full sync due")
		} else {
			s.Fire(EvStart, "link up")
		}
	case Error:
		s.reachableLocked("instance link up")
	}
	s.UnlockAndFlush()
}

// LinkDown tells the slot the instance link is down; an active slot goes to
// NoConnect. Error and Detached stay where they are.
func (s *Slot) LinkDown(reason string) {
	s.Mu.Lock()
	s.linkUp = false
	switch s.M.State() {
	case NoConnect, Error, Detached:
	default:
		s.Fire(EvLinkLost, reason)
	}
	s.UnlockAndFlush()
}

// Reset is the operator's way out of Error: back to NoConnect with the
// retry budget and backoff started over (and a start, if the link is up).
// In any other state it returns an *fsm.EventError wrapping
// fsm.ErrNotAllowed and changes nothing.
func (s *Slot) Reset(reason string) (Record, error) {
	s.Mu.Lock()
	defer s.UnlockAndFlush()
	if s.M.State() == Error {
		s.Host.Refill()
	}
	return s.Fire(EvReset, reason)
}

// Refill gives the slot a fresh budget (a re-point or RemoveMaster does
// this for every shard it touches); a slot in Error is reset at once.
func (s *Slot) Refill(reason string) {
	s.Mu.Lock()
	s.Host.Refill()
	if s.M.State() == Error {
		s.Fire(EvReset, reason)
	}
	s.UnlockAndFlush()
}

// SetEndpoint re-points the slot at another primary without RemoveSlot and
// AddSlot: the budget is refilled, a session in flight is closed, the
// cursor is kept (the embedding asks the new primary to continue from it),
// and the slot starts again if the link is up. The endpoint it already
// follows is a no-op: nothing closed, no record (a zero Record). An invalid
// endpoint returns ErrInvalidEndpoint and changes nothing.
func (s *Slot) SetEndpoint(endpoint, reason string) (Record, error) {
	if err := ValidEndpoint(endpoint); err != nil {
		return Record{}, fmt.Errorf("%s: %w", s.id, err)
	}
	s.Mu.Lock()
	defer s.UnlockAndFlush()
	if endpoint == s.endpoint {
		return Record{}, nil
	}
	old := s.endpoint
	attrs := []slog.Attr{slog.String(AttrOldEndpoint, or(old, "instance master")), slog.String(AttrNewEndpoint, endpoint)}
	if !s.M.Can(EvRepoint) {
		// Refused (a detached slot): the slot keeps its endpoint and
		// budget; Fire only words the refusal.
		return s.Fire(EvRepoint, reason, attrs...)
	}
	s.endpoint = endpoint
	s.Host.Refill()
	return s.Fire(EvRepoint, reason, attrs...)
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Detach takes the shard out: whatever it was doing stops and nothing
// automatic happens until Resume.
func (s *Slot) Detach(reason string) (Record, error) {
	s.Mu.Lock()
	rec, err := s.Fire(EvDetach, reason)
	s.UnlockAndFlush()
	return rec, err
}

// Resume puts a detached shard back in NoConnect with a fresh budget; it
// starts at once if the link is up.
func (s *Slot) Resume(reason string) (Record, error) {
	s.Mu.Lock()
	if s.M.State() == Detached {
		s.Host.Refill()
	}
	rec, err := s.Fire(EvResume, reason)
	s.UnlockAndFlush()
	return rec, err
}

// RequestFullSync marks the next start as a full sync.
func (s *Slot) RequestFullSync() {
	s.Mu.Lock()
	s.fullSyncDue = true
	s.Mu.Unlock()
}
