package replica

import (
	"context"

	"fmt"
	"time"

	"github.com/replsm/replsm/slot"
)

// SlaveOf sets the master and (re)connects: from any state to Connect. The
// master already followed is a no-op (no session closed, no transfer
// aborted; a zero Record) unless the instance is in Error, where it doubles
// as a reset. Another master refills the budget of the instance and of
// every shard, exhausted ones included. An empty or malformed address
// returns ErrNoMaster and changes nothing.
func (in *Instance) SlaveOf(addr string) (Record, error) {
	if err := slot.ValidEndpoint(addr); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrNoMaster, err)
	}
	in.Mu.Lock()
	defer in.UnlockAndFlush()
	st := in.M.State()
	if addr == in.master && st != NoConnect && st != Error {
		return Record{}, nil
	}
	in.master = addr
	in.Refill()
	in.refillSlots = "slaveof " + addr
	return in.Fire(EvSlaveOf, "slaveof "+addr)
}

// RemoveMaster is "slaveof no one": back to NoConnect from anywhere, every
// shard to NoConnect with a fresh budget.
func (in *Instance) RemoveMaster() (Record, error) {
	in.Mu.Lock()
	defer in.UnlockAndFlush()
	in.Refill()
	in.refillSlots = "slaveof no one"
	return in.Fire(EvRemoveMaster, "slaveof no one")
}

// Reset is the operator's way out of Error: NoConnect with a fresh budget
// for the instance and every shard, then a reconnect to the configured
// master. In any other state it returns an *fsm.EventError wrapping
// fsm.ErrNotAllowed and changes nothing.
func (in *Instance) Reset(reason string) (Record, error) {
	in.Mu.Lock()
	defer in.UnlockAndFlush()
	if in.M.State() == Error {
		in.Refill()
		in.refillSlots = reason
	}
	return in.Fire(EvReset, reason)
}

// MetaOK: the master accepted the meta handshake of session sess.
func (in *Instance) MetaOK(sess slot.Session) error { return in.reply(sess, EvMetaOK, "") }

// MetaFailed: the handshake of session sess failed in a way worth retrying.
func (in *Instance) MetaFailed(sess slot.Session, reason string) error {
	return in.reply(sess, EvMetaFailed, reason)
}

// Fatal: a mismatch no retry on the same terms can fix (auth, replication
// id, topology). The instance goes to Error and recovers on its timer.
func (in *Instance) Fatal(sess slot.Session, reason string) error {
	return in.reply(sess, EvFatal, reason)
}

// LinkLost: the link of session sess closed.
func (in *Instance) LinkLost(sess slot.Session, reason string) error {
	return in.reply(sess, EvLinkLost, reason)
}

// Activity notes that the master was heard from under session sess (keeps
// the idle timer quiet; no heap work). Shard data counts too, on its own.
func (in *Instance) Activity(sess slot.Session) {
	in.Mu.Lock()
	if sess == in.session && sess != 0 {
		in.lastActivity = in.rt.Clock().Now()
	}
	in.Mu.Unlock()
}

func (in *Instance) reply(sess slot.Session, ev Event, reason string) error {
	in.Mu.Lock()
	defer in.UnlockAndFlush()
	if sess == 0 || sess != in.session {
		return fmt.Errorf("%w: instance %s for session %d, live session is %d", ErrStaleSession, ev, sess, in.session)
	}
	_, err := in.Fire(ev, reason)
	return err
}

// Session is the live meta session, 0 when none.
func (in *Instance) Session() slot.Session {
	in.Mu.Lock()
	defer in.Mu.Unlock()
	return in.session
}

// Master is the configured master ("" after RemoveMaster).
func (in *Instance) Master() string { return in.masterAddr() }

func (in *Instance) masterAddr() string {
	in.Mu.Lock()
	defer in.Mu.Unlock()
	return in.master
}

// WaitSynced returns nil once the link is up: the instance Connected and
// every slot that is not Detached Connected. It joins syncs in flight. It
// returns ErrExhausted as soon as the instance or a slot has spent its
// budget, or ctx's error.
func (in *Instance) WaitSynced(ctx context.Context) error {
	for {
		changed, done := in.rt.Host().Watch()
		err, ok := in.synced()
		if ok {
			done()
			return err
		}
		select {
		case <-changed:
			done()
		case <-ctx.Done():
			done()
			return fmt.Errorf("replica: wait for sync: %w", ctx.Err())
		}
	}
}

func (in *Instance) synced() (error, bool) {
	in.Mu.Lock()
	st, exhausted, lastErr := in.M.State(), in.Exhausted, in.LastErr
	in.Mu.Unlock()
	if exhausted {
		return fmt.Errorf("%w: instance: %s", ErrExhausted, lastErr), true
	}
	up := st == Connected
	for _, s := range in.Slots() {
		ss := s.Status()
		switch {
		case ss.Exhausted:
			return fmt.Errorf("%w: %s: %s", ErrExhausted, ss.ID, ss.LastError), true
		case ss.State != slot.Connected && ss.State != slot.Detached:
			up = false
		}
	}
	return nil, up
}

// Info is a consistent-per-part snapshot of the instance and its slots:
// data, for an embedding to render (the Redis one prints INFO replication).
type Info struct {
	State        State
	Master       string
	LinkUp       bool // the instance Connected and every non-detached slot Connected
	Session      slot.Session
	AttemptsLeft int
	Cap          int
	Exhausted    bool
	LastError    string
	Since        time.Time
	InState      time.Duration
	Slots        []slot.Status
}

// Info returns the instance's and every slot's status.
func (in *Instance) Info() Info {
	in.Mu.Lock()
	now := in.rt.Clock().Now()
	in.Settle(now)
	info := Info{
		State: in.M.State(), Master: in.master, Session: in.session,
		AttemptsLeft: in.Budget.Remaining(), Cap: in.Budget.Cap(), Exhausted: in.Exhausted,
		LastError: in.LastErr, Since: in.EnteredAt, InState: now.Sub(in.EnteredAt),
	}
	in.Mu.Unlock()
	info.LinkUp = info.State == Connected
	for _, s := range in.Slots() {
		st := s.Status()
		info.Slots = append(info.Slots, st)
		if st.State != slot.Connected && st.State != slot.Detached {
			info.LinkUp = false
		}
	}
	return info
}
