package slot

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/fsm"
	"github.com/replsm/replsm/timeouts"
)

// FollowerState is where a primary stands with one follower of one shard.
type FollowerState string

// Follower states (Pika's SlaveNode, plus Removed as the end).
const (
	NotSync    FollowerState = "NotSync"
	DBSync     FollowerState = "DBSync"
	BinlogSync FollowerState = "BinlogSync"
	Removed    FollowerState = "Removed"
)

// FollowerEvent is something a primary learns about a follower.
type FollowerEvent string

// Follower events.
const (
	FEvFullSyncRequested FollowerEvent = "full_sync_requested"
	FEvContinue          FollowerEvent = "continue"
	FEvFirstAck          FollowerEvent = "first_ack"
	FEvSyncTimeout       FollowerEvent = "sync_timeout"
	FEvAckTimeout        FollowerEvent = "ack_timeout"
	FEvClosed            FollowerEvent = "closed"
)

// FollowerRecord is one follower transition.
type FollowerRecord = fsm.Record[FollowerState, FollowerEvent]

// FollowerConfig holds the primary side's timeouts.
type FollowerConfig struct {
	// SyncTimeout bounds NotSync and DBSync: a follower that neither
	// finishes its full sync nor acks in this long is removed.
	SyncTimeout time.Duration
	// AckTimeout bounds BinlogSync: no ack in this long removes it.
	AckTimeout time.Duration
}

// DefaultFollowerConfig uses Redis's repl-timeout for both.
func DefaultFollowerConfig() FollowerConfig {
	return FollowerConfig{SyncTimeout: 60 * time.Second, AckTimeout: 60 * time.Second}
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c FollowerConfig) Validate() error {
	if c.SyncTimeout <= 0 {
		return fmt.Errorf("%w: slot.FollowerConfig.SyncTimeout must be > 0, got %s", ErrInvalidConfig, c.SyncTimeout)
	}
	if c.AckTimeout <= 0 {
		return fmt.Errorf("%w: slot.FollowerConfig.AckTimeout must be > 0, got %s", ErrInvalidConfig, c.AckTimeout)
	}
	return nil
}

// FollowerSpec is the primary-side machine for one follower of one shard.
func FollowerSpec(cfg FollowerConfig) fsm.Spec[FollowerState, FollowerEvent] {
	live := []FollowerState{NotSync, DBSync, BinlogSync}
	return fsm.Spec[FollowerState, FollowerEvent]{
		Name: "follower",
		Doc:  "Primary side of one follower of one shard: full sync, then the stream, until acks stop or the connection closes.",
		States: []fsm.State[FollowerState]{
			{Name: NotSync, Kind: fsm.KindInitial, Doc: "connected; no sync agreed yet"},
			{Name: DBSync, Doc: "full sync requested; snapshot being made or sent"},
			{Name: BinlogSync, Doc: "streaming; acks expected"},
			{Name: Removed, Kind: fsm.KindTerminal, Doc: "gone: acks stopped or the connection closed"},
		},
		Transitions: []fsm.Transition[FollowerState, FollowerEvent]{
			{Event: FEvFullSyncRequested, Src: []FollowerState{NotSync, BinlogSync}, Dst: DBSync, Doc: "follower asked for a full sync"},
			{Event: FEvContinue, Src: []FollowerState{NotSync}, Dst: BinlogSync, Doc: "follower's cursor is in the backlog; streaming resumes"},
			{Event: FEvFirstAck, Src: []FollowerState{DBSync}, Dst: BinlogSync, Doc: "first ack after the snapshot"},
			{Event: FEvSyncTimeout, Src: []FollowerState{NotSync, DBSync}, Dst: Removed, Timer: timeouts.Label(cfg.SyncTimeout), Doc: "sync never completed"},
			{Event: FEvAckTimeout, Src: []FollowerState{BinlogSync}, Dst: Removed, Timer: timeouts.Label(cfg.AckTimeout), Doc: "acks stopped"},
			{Event: FEvClosed, Src: live, Dst: Removed, Doc: "connection closed"},
		},
	}
}

var followerDef = fsm.MustCompile(FollowerSpec(DefaultFollowerConfig()))

// FollowerOptions configures a Followers tracker.
type FollowerOptions struct {
	Clock     clock.Clock // required
	Config    FollowerConfig
	Logger    *slog.Logger
	Observers []func(FollowerRecord)
}

// Followers tracks every follower of one shard on a primary.
type Followers struct {
	clock clock.Clock
	cfg   FollowerConfig
	log   *slog.Logger
	obs   []func(FollowerRecord)
	sched *timeouts.Scheduler[*Follower]

	mu      sync.Mutex
	byID    map[string]*Follower
	session Session
}

// NewFollowers returns an empty tracker.
func NewFollowers(opts FollowerOptions) (*Followers, error) {
	if opts.Clock == nil {
		return nil, fmt.Errorf("%w: slot.FollowerOptions.Clock is nil", ErrMissingOption)
	}
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	fs := &Followers{clock: opts.Clock, cfg: opts.Config, log: opts.Logger, obs: opts.Observers, byID: map[string]*Follower{}}
	if fs.log == nil {
		fs.log = slog.New(slog.DiscardHandler)
	}
	fs.sched = timeouts.NewScheduler(opts.Clock, func(f *Follower, at time.Time) { f.onDeadline(at) })
	return fs, nil
}

// Scheduler is the tracker's deadline heap (RunDue in tests, Start in servers).
func (fs *Followers) Scheduler() *timeouts.Scheduler[*Follower] { return fs.sched }

// Add registers a follower under a new session. A follower already known
// by that id (a reconnect) is closed first, so its late acks are stale.
func (fs *Followers) Add(id string) *Follower {
	fs.mu.Lock()
	old := fs.byID[id]
	fs.session++
	f := &Follower{fs: fs, id: id, session: fs.session, m: fsm.NewMachine(followerDef, "follower/"+id)}
	fs.byID[id] = f
	fs.mu.Unlock()
	if old != nil {
		old.Close("replaced by a new connection")
	}
	f.mu.Lock()
	f.since = fs.clock.Now()
	f.arm(f.since.Add(fs.cfg.SyncTimeout))
	f.mu.Unlock()
	return f
}

// Get returns the live follower with that id.
func (fs *Followers) Get(id string) (*Follower, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f, ok := fs.byID[id]
	return f, ok
}

// FollowerStatus is a snapshot of one follower.
type FollowerStatus struct {
	ID      string
	State   FollowerState
	Session Session
	Offset  int64 // last acked offset
	LastAck time.Time
	Stale   uint64 // acks dropped for a stale session
}

// List returns every live follower, sorted by id.
func (fs *Followers) List() []FollowerStatus {
	fs.mu.Lock()
	all := make([]*Follower, 0, len(fs.byID))
	for _, f := range fs.byID {
		all = append(all, f)
	}
	fs.mu.Unlock()
	out := make([]FollowerStatus, 0, len(all))
	for _, f := range all {
		out = append(out, f.Status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (fs *Followers) forget(f *Follower) {
	fs.mu.Lock()
	if fs.byID[f.id] == f {
		delete(fs.byID, f.id)
	}
	fs.mu.Unlock()
}

// Follower is the primary's view of one follower of one shard.
type Follower struct {
	fs      *Followers
	id      string
	session Session

	mu       sync.Mutex
	m        fsm.Machine[FollowerState, FollowerEvent]
	since    time.Time
	offset   int64
	lastAck  time.Time
	stale    uint64
	deadline time.Time
	armed    bool
	box      fsm.Mailbox[FollowerRecord]
}

// Session is the follower's session; acks must carry it.
func (f *Follower) Session() Session { return f.session }

// ID is the follower's id.
func (f *Follower) ID() string { return f.id }

// State is the current state.
func (f *Follower) State() FollowerState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m.State()
}

// Status is a snapshot.
func (f *Follower) Status() FollowerStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return FollowerStatus{ID: f.id, State: f.m.State(), Session: f.session, Offset: f.offset, LastAck: f.lastAck, Stale: f.stale}
}

// FullSyncRequested: the follower asked for a snapshot.
func (f *Follower) FullSyncRequested(reason string) error {
	return f.fire(FEvFullSyncRequested, reason)
}

// Continue: the follower resumes from the backlog.
func (f *Follower) Continue(reason string) error { return f.fire(FEvContinue, reason) }

// Close: the connection closed.
func (f *Follower) Close(reason string) error {
	err := f.fire(FEvClosed, reason)
	return err
}

// Ack records an acknowledged offset under session sess. The first ack
// after a full sync moves DBSync to BinlogSync. An ack for another session
// is dropped, counted, and returns ErrStaleSession.
func (f *Follower) Ack(sess Session, offset int64) error {
	f.mu.Lock()
	if sess != f.session || f.m.State() == Removed {
		f.stale++
		f.mu.Unlock()
		return fmt.Errorf("%w: follower %s ack for session %d, live session is %d", ErrStaleSession, f.id, sess, f.session)
	}
	f.offset, f.lastAck = offset, f.fs.clock.Now()
	var err error
	switch f.m.State() {
	case DBSync:
		_, err = f.m.Fire(FEvFirstAck, fmt.Sprintf("ack offset %d", offset), (*followerEnv)(f))
	case BinlogSync:
		// Acks in BinlogSync only move the lazy deadline.
	}
	f.unlockAndFlush()
	return err
}

func (f *Follower) fire(ev FollowerEvent, reason string) error {
	f.mu.Lock()
	_, err := f.m.Fire(ev, reason, (*followerEnv)(f))
	f.unlockAndFlush()
	return err
}

func (f *Follower) unlockAndFlush() {
	f.box.UnlockAndFlush(&f.mu, func(r *FollowerRecord) {
		fsm.Log(context.Background(), f.fs.log, slog.LevelInfo, *r)
		for _, o := range f.fs.obs {
			o(*r)
		}
	})
}

func (f *Follower) arm(at time.Time) {
	f.deadline, f.armed = at, true
	f.fs.sched.Arm(f, at)
}

func (f *Follower) onDeadline(at time.Time) {
	f.mu.Lock()
	if !f.armed || !f.deadline.Equal(at) {
		f.mu.Unlock()
		return
	}
	f.armed = false
	now := f.fs.clock.Now()
	switch f.m.State() {
	case NotSync, DBSync:
		f.m.Fire(FEvSyncTimeout, "no sync in "+timeouts.Label(f.fs.cfg.SyncTimeout), (*followerEnv)(f))
	case BinlogSync:
		if due := f.lastAck.Add(f.fs.cfg.AckTimeout); now.Before(due) {
			f.arm(due)
		} else {
			f.m.Fire(FEvAckTimeout, "no ack in "+timeouts.Label(f.fs.cfg.AckTimeout), (*followerEnv)(f))
		}
	}
	f.unlockAndFlush()
}

type followerEnv Follower

func (e *followerEnv) Now() time.Time { return e.fs.clock.Now() }

func (e *followerEnv) Entered(_ *fsm.Machine[FollowerState, FollowerEvent], rec FollowerRecord) FollowerRecord {
	f := (*Follower)(e)
	rec.Attrs = append(rec.Attrs, slog.Uint64("session", uint64(f.session)))
	if f.armed {
		f.armed = false
		f.fs.sched.Cancel(f)
	}
	switch rec.To {
	case DBSync:
		f.arm(rec.Time.Add(f.fs.cfg.SyncTimeout))
	case BinlogSync:
		f.lastAck = rec.Time
		f.arm(rec.Time.Add(f.fs.cfg.AckTimeout))
	case Removed:
		f.fs.forget(f)
	}
	return rec
}

func (e *followerEnv) Emit(rec FollowerRecord) { e.box.Put(rec) }
