package replica

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/replsm/replsm/slot"
)

// SlaveOf sets the master and (re)connects: from any state to Connect. In
// Error it doubles as a reset with a fresh budget.
func (in *Instance) SlaveOf(addr string) (Record, error) {
	if strings.TrimSpace(addr) == "" {
		return Record{}, ErrNoMaster
	}
	in.mu.Lock()
	defer in.unlockAndFlush()
	in.master = addr
	if in.m.State() == Error {
		in.budget.Refill()
		in.backoffStep, in.exhausted = 0, false
	}
	return in.fire(EvSlaveOf, "slaveof "+addr)
}

// RemoveMaster is "slaveof no one": back to NoConnect from anywhere, every
// shard to NoConnect.
func (in *Instance) RemoveMaster() (Record, error) {
	in.mu.Lock()
	defer in.unlockAndFlush()
	return in.fire(EvRemoveMaster, "slaveof no one")
}

// Reset is the operator's way out of Error: NoConnect with a fresh budget,
// then a reconnect to the configured master.
func (in *Instance) Reset(reason string) (Record, error) {
	in.mu.Lock()
	defer in.unlockAndFlush()
	if in.m.State() == Error {
		in.budget.Refill()
		in.backoffStep, in.exhausted = 0, false
	}
	return in.fire(EvReset, reason)
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
// the idle timer quiet; no scheduler work).
func (in *Instance) Activity(sess slot.Session) {
	in.mu.Lock()
	if sess == in.session && sess != 0 {
		in.lastActivity = in.rt.Clock().Now()
	}
	in.mu.Unlock()
}

func (in *Instance) reply(sess slot.Session, ev Event, reason string) error {
	in.mu.Lock()
	defer in.unlockAndFlush()
	if sess == 0 || sess != in.session {
		return fmt.Errorf("%w: instance %s for session %d, live session is %d", ErrStaleSession, ev, sess, in.session)
	}
	_, err := in.fire(ev, reason)
	return err
}

// Session is the live meta session, 0 when none.
func (in *Instance) Session() slot.Session {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.session
}

func (in *Instance) masterAddr() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.master
}

func (in *Instance) lastError() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.lastErr
}

// WaitSynced returns nil once the link is up: the instance Connected and
// every slot that is not Detached Connected. It joins syncs in flight; it
// returns early with ErrExhausted when a slot gives up, or ctx's error.
func (in *Instance) WaitSynced(ctx context.Context) error {
	for _, s := range in.Slots() {
		err := s.WaitSynced(ctx)
		if err != nil && !errors.Is(err, slot.ErrDetached) {
			return err
		}
	}
	if st := in.State(); st != Connected {
		return fmt.Errorf("replica: instance is %s after its slots synced", st)
	}
	return nil
}

// Info is a consistent-per-part snapshot, printable like INFO replication.
type Info struct {
	State        State
	Master       string
	LinkUp       bool
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
	in.mu.Lock()
	now := in.rt.Clock().Now()
	if in.budget.Settle(now) {
		in.backoffStep = 0
	}
	info := Info{
		State: in.m.State(), Master: in.master, Session: in.session,
		AttemptsLeft: in.budget.Remaining(), Cap: in.budget.Cap(), Exhausted: in.exhausted,
		LastError: in.lastErr, Since: in.enteredAt, InState: now.Sub(in.enteredAt),
	}
	in.mu.Unlock()
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

// String renders Info in the key:value style of INFO replication.
func (i Info) String() string {
	var b strings.Builder
	up := "down"
	if i.LinkUp {
		up = "up"
	}
	fmt.Fprintf(&b, "role:slave\nmaster:%s\nmaster_link_status:%s\ninstance_state:%s\ninstance_session:%d\n", i.Master, up, i.State, i.Session)
	fmt.Fprintf(&b, "instance_attempts_left:%d/%d\ninstance_exhausted:%t\ninstance_in_state:%s\n", i.AttemptsLeft, i.Cap, i.Exhausted, i.InState)
	if i.LastError != "" {
		fmt.Fprintf(&b, "instance_last_error:%s\n", i.LastError)
	}
	for _, s := range i.Slots {
		fmt.Fprintf(&b, "%s:state=%s,session=%d,attempts_left=%d/%d,exhausted=%t,in_state=%s,full_syncs=%d,recoveries=%d,stale_dropped=%d",
			s.ID, s.State, s.Session, s.AttemptsLeft, s.Cap, s.Exhausted, s.InState, s.Stats.FullSyncs, s.Stats.Recoveries, s.Stats.StaleDropped)
		if s.Endpoint != "" {
			fmt.Fprintf(&b, ",endpoint=%s", s.Endpoint)
		}
		if s.LastError != "" {
			fmt.Fprintf(&b, ",last_error=%q", s.LastError)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
