package follower

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/replsm/replsm/fsm"
	"github.com/replsm/replsm/host"
	"github.com/replsm/replsm/timeouts"
)

// State is where a primary stands with one follower of one shard.
type State string

// Follower states (Pika's SlaveNode, plus Removed as the end).
const (
	NotSync    State = "NotSync"
	DBSync     State = "DBSync"
	BinlogSync State = "BinlogSync"
	Removed    State = "Removed"
)

// Event is something a primary learns about a follower.
type Event string

// Follower events.
const (
	EvFullSyncRequested Event = "full_sync_requested"
	EvContinue          Event = "continue"
	EvFirstAck          Event = "first_ack"
	EvSyncTimeout       Event = "sync_timeout"
	EvAckTimeout        Event = "ack_timeout"
	EvClosed            Event = "closed"
)

// Record is one follower transition.
type Record = fsm.Record[State, Event]

// Session is a follower's session; its acks must carry it.
type Session = host.Session

var (
	// ErrStaleSession is returned by Ack for an ack under a session that is
	// not the follower's live one (an older connection); it is dropped and
	// counted.
	ErrStaleSession = errors.New("follower: stale session")
	// ErrMissingOption is returned by NewSet without a runtime or driver.
	ErrMissingOption = errors.New("follower: missing required option")
	// ErrInvalidConfig is returned for zero or negative timeouts.
	ErrInvalidConfig = timeouts.ErrInvalidConfig
)

// Config holds the primary side's timeouts.
type Config struct {
	// SyncTimeout is an idle limit on NotSync and DBSync: a follower that
	// neither makes transfer progress nor acks for this long is removed. A
	// long transfer that keeps moving is never cut.
	SyncTimeout time.Duration
	// AckTimeout bounds BinlogSync: no ack in this long removes it.
	AckTimeout time.Duration
}

// DefaultConfig uses Redis's repl-timeout for both.
func DefaultConfig() Config {
	return Config{SyncTimeout: 60 * time.Second, AckTimeout: 60 * time.Second}
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	if c.SyncTimeout <= 0 {
		return fmt.Errorf("%w: follower.Config.SyncTimeout must be > 0, got %s", ErrInvalidConfig, c.SyncTimeout)
	}
	if c.AckTimeout <= 0 {
		return fmt.Errorf("%w: follower.Config.AckTimeout must be > 0, got %s", ErrInvalidConfig, c.AckTimeout)
	}
	return nil
}

// Spec is the primary-side machine for one follower of one shard.
func Spec(cfg Config) fsm.Spec[State, Event] {
	live := []State{NotSync, DBSync, BinlogSync}
	return fsm.Spec[State, Event]{
		Name: "follower",
		Doc:  "Primary side of one follower of one shard: full sync, then the stream, until acks stop or the connection closes.",
		States: []fsm.State[State]{
			{Name: NotSync, Kind: fsm.KindInitial, Doc: "connected; no sync agreed yet"},
			{Name: DBSync, Doc: "full sync requested; snapshot being made or sent"},
			{Name: BinlogSync, Doc: "streaming; acks expected"},
			{Name: Removed, Kind: fsm.KindTerminal, Doc: "gone: acks stopped or the connection closed"},
		},
		Transitions: []fsm.Transition[State, Event]{
			{Event: EvFullSyncRequested, Src: []State{NotSync, BinlogSync}, Dst: DBSync, Doc: "follower asked for a full sync"},
			{Event: EvContinue, Src: []State{NotSync}, Dst: BinlogSync, Doc: "follower's cursor is in the backlog; streaming resumes"},
			{Event: EvFirstAck, Src: []State{DBSync}, Dst: BinlogSync, Doc: "first ack after the snapshot"},
			{Event: EvSyncTimeout, Src: []State{NotSync, DBSync}, Dst: Removed, Timer: "idle " + timeouts.Label(cfg.SyncTimeout), Doc: "no sync progress for the sync timeout"},
			{Event: EvAckTimeout, Src: []State{BinlogSync}, Dst: Removed, Timer: timeouts.Label(cfg.AckTimeout), Doc: "acks stopped"},
			{Event: EvClosed, Src: live, Dst: Removed, Doc: "connection closed"},
		},
	}
}

var def = fsm.MustCompile(Spec(DefaultConfig()))

// Driver carries out a follower machine's effects; the primary embedding
// implements it. Close runs without locks and may call back.
type Driver interface {
	// Close ends the connection of follower id's session sess, which the
	// machine removed (timeout, or replaced by a newer connection).
	Close(id string, sess Session, reason string)
}

// Options configures a Set.
type Options struct {
	Runtime   *host.Runtime // required: clock, deadline heap, sessions
	Driver    Driver        // required
	Config    Config
	Observers []func(Record)
}

// Set tracks every follower of one shard on a primary.
type Set struct {
	rt   *host.Runtime
	cfg  Config
	drv  Driver
	kind host.Kind[State, Event]

	mu   sync.Mutex
	byID map[string]*Follower
}

// NewSet returns an empty tracker.
func NewSet(opts Options) (*Set, error) {
	if opts.Runtime == nil || opts.Driver == nil {
		return nil, fmt.Errorf("%w: follower.Options needs Runtime and Driver", ErrMissingOption)
	}
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	return &Set{
		rt: opts.Runtime, cfg: opts.Config, drv: opts.Driver,
		kind: host.Kind[State, Event]{Error: "", Observers: opts.Observers},
		byID: map[string]*Follower{},
	}, nil
}

// Add registers a follower under a new session. A follower already known
// by that id (a reconnect) is removed first, so its late acks are stale.
func (fs *Set) Add(id string) *Follower {
	f := &Follower{fs: fs, id: id, session: fs.rt.NewSession()}
	// Followers are never in Error; the budget is unused.
	f.Init(fs.rt, def, "follower/"+id, (*owner)(f), &fs.kind, timeouts.Budget{}, 0)
	fs.mu.Lock()
	old := fs.byID[id]
	fs.byID[id] = f
	fs.mu.Unlock()
	if old != nil {
		old.remove(EvClosed, "replaced by a new connection")
	}
	f.Mu.Lock()
	f.lastProgress = f.EnteredAt
	f.Arm(f.EnteredAt.Add(fs.cfg.SyncTimeout))
	f.Mu.Unlock()
	return f
}

// Get returns the live follower with that id.
func (fs *Set) Get(id string) (*Follower, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f, ok := fs.byID[id]
	return f, ok
}

// Status is a snapshot of one follower.
type Status struct {
	ID      string
	State   State
	Session Session
	Offset  int64 // last acked offset
	LastAck time.Time
	Stale   uint64 // acks dropped for a stale session
}

// List returns every live follower, sorted by id.
func (fs *Set) List() []Status {
	fs.mu.Lock()
	all := make([]*Follower, 0, len(fs.byID))
	for _, f := range fs.byID {
		all = append(all, f)
	}
	fs.mu.Unlock()
	out := make([]Status, 0, len(all))
	for _, f := range all {
		out = append(out, f.Status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (fs *Set) forget(f *Follower) {
	fs.mu.Lock()
	if fs.byID[f.id] == f {
		delete(fs.byID, f.id)
	}
	fs.mu.Unlock()
}

// Follower is the primary's view of one follower of one shard.
type Follower struct {
	host.Host[State, Event]
	fs      *Set
	id      string
	session Session

	offset       int64
	lastAck      time.Time
	lastProgress time.Time
	stale        uint64
	closeConn    bool // the removal was the machine's decision: close the connection
}

// Session is the follower's session; acks must carry it.
func (f *Follower) Session() Session { return f.session }

// ID is the follower's id.
func (f *Follower) ID() string { return f.id }

// State is the current state.
func (f *Follower) State() State {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return f.M.State()
}

// Status is a snapshot.
func (f *Follower) Status() Status {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return Status{ID: f.id, State: f.M.State(), Session: f.session, Offset: f.offset, LastAck: f.lastAck, Stale: f.stale}
}

// Deadline is the follower's armed deadline (sync or ack timeout).
func (f *Follower) Deadline() (time.Time, bool) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return f.Host.Deadline()
}

// FullSyncRequested: the follower asked for a snapshot.
func (f *Follower) FullSyncRequested(reason string) error {
	return f.fire(EvFullSyncRequested, reason)
}

// Continue: the follower resumes from the backlog.
func (f *Follower) Continue(reason string) error { return f.fire(EvContinue, reason) }

// Close: the connection closed (the embedding saw it).
func (f *Follower) Close(reason string) error { return f.fire(EvClosed, reason) }

// Progress notes that the full-sync transfer moved (snapshot bytes sent):
// the sync timeout is an idle limit, not a limit on a transfer's length.
// It costs the follower's lock and no heap work.
func (f *Follower) Progress() {
	f.Mu.Lock()
	f.lastProgress = f.fs.rt.Clock().Now()
	f.Mu.Unlock()
}

// Ack records an acknowledged offset under session sess. The first ack
// after a full sync moves DBSync to BinlogSync. An ack for another session
// is dropped, counted, and returns ErrStaleSession.
func (f *Follower) Ack(sess Session, offset int64) error {
	f.Mu.Lock()
	if sess != f.session || f.M.State() == Removed {
		f.stale++
		f.Mu.Unlock()
		return fmt.Errorf("%w: follower %s ack for session %d, live session is %d", ErrStaleSession, f.id, sess, f.session)
	}
	f.offset, f.lastAck = offset, f.fs.rt.Clock().Now()
	var err error
	if f.M.State() == DBSync {
		_, err = f.Fire(EvFirstAck, fmt.Sprintf("ack offset %d", offset))
	}
	f.UnlockAndFlush()
	return err
}

func (f *Follower) fire(ev Event, reason string) error {
	f.Mu.Lock()
	_, err := f.Fire(ev, reason)
	f.UnlockAndFlush()
	return err
}

// remove ends the follower and has the driver close its connection.
func (f *Follower) remove(ev Event, reason string) {
	f.Mu.Lock()
	if f.M.State() != Removed {
		f.closeConn = true
		f.Fire(ev, reason)
	}
	f.UnlockAndFlush()
}

const effClose uint8 = 0

type owner Follower

func (o *owner) Entered(rec *Record) {
	f := (*Follower)(o)
	rec.Attrs = append(rec.Attrs, slog.Uint64("session", uint64(f.session)))
	switch rec.To {
	case DBSync:
		f.lastProgress = rec.Time
		f.Arm(rec.Time.Add(f.fs.cfg.SyncTimeout))
	case BinlogSync:
		f.lastAck = rec.Time
		f.Arm(rec.Time.Add(f.fs.cfg.AckTimeout))
	case Removed:
		f.fs.forget(f)
		if f.closeConn {
			f.Queue(host.Output[State, Event]{Kind: host.OutEffect, Code: effClose, Session: f.session, Reason: string(rec.Event) + ": " + rec.Reason})
		}
	}
}

func (o *owner) Due(now time.Time) {
	f := (*Follower)(o)
	switch f.M.State() {
	case NotSync, DBSync:
		if due := f.lastProgress.Add(f.fs.cfg.SyncTimeout); now.Before(due) {
			f.Arm(due)
			return
		}
		f.closeConn = true
		f.Fire(EvSyncTimeout, "no sync progress in "+timeouts.Label(f.fs.cfg.SyncTimeout))
	case BinlogSync:
		if due := f.lastAck.Add(f.fs.cfg.AckTimeout); now.Before(due) {
			f.Arm(due)
			return
		}
		f.closeConn = true
		f.Fire(EvAckTimeout, "no ack in "+timeouts.Label(f.fs.cfg.AckTimeout))
	}
}

func (o *owner) Effect(out *host.Output[State, Event]) {
	f := (*Follower)(o)
	if out.Kind == host.OutEffect && out.Code == effClose {
		f.fs.drv.Close(f.id, out.Session, out.Reason)
	}
}
