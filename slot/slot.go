package slot

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/replsm/replsm/fsm"
	"github.com/replsm/replsm/timeouts"
)

// ID names a shard within an instance.
type ID int

func (id ID) String() string { return "slot/" + strconv.Itoa(int(id)) }

var (
	// ErrStaleSession is returned by Deliver and Data for a reply or data
	// whose session is not the slot's live one. Nothing changes; the drop is
	// counted in Status.StaleDropped.
	ErrStaleSession = errors.New("slot: stale session")
	// ErrNotDeliverable is returned by Deliver for a declared event that only
	// the slot itself (timers) or an operator method may raise.
	ErrNotDeliverable = errors.New("slot: event is not a reply")
	// ErrExhausted is returned by WaitSynced when the slot is in Error with
	// no recoveries left; an operator Reset is needed.
	ErrExhausted = errors.New("slot: recovery budget exhausted")
	// ErrDetached is returned by WaitSynced when the slot is Detached.
	ErrDetached = errors.New("slot: detached")
)

// Slot is the replica-side replication machine of one shard. Its state,
// session, counters and armed deadline change together under one mutex;
// records and effects are handed out after the mutex is released, in order.
type Slot struct {
	rt       *Runtime
	cfg      *Config
	id       ID
	endpoint string

	mu           sync.Mutex
	m            fsm.Machine[State, Event]
	linkUp       bool
	session      Session // live session, 0 when none
	lastSession  Session
	fullSession  bool // the live session is a full sync
	enteredAt    time.Time
	lastActivity time.Time
	deadline     time.Time
	armed        bool
	budget       timeouts.Budget
	backoffStep  int
	incFailures  int
	fullSyncDue  bool
	unreached    bool // the failing request never reached the primary
	exhausted    bool
	lastErr      string
	rng          *rand.Rand
	stats        Stats
	wake         chan struct{} // closed when waiters should look again

	// box holds records and effects decided under mu, handed out after it.
	box   fsm.Mailbox[output]
	recAt int // index in box reserved for the record being made
}

// Stats are a slot's counters.
type Stats struct {
	Transitions   uint64
	StaleDropped  uint64 // replies and data under a session that is not live
	Failures      uint64 // entries into Error
	Recoveries    uint64 // Error -> NoConnect by the recovery timer
	FullSyncs     uint64 // snapshots completed
	PartialSyncs  uint64 // incremental syncs accepted (sync_ok)
	Probes        uint64 // reachability probes asked of the driver while in Error
	BusyRetries   uint64 // "busy, ask again" replies (-LOADING, -MASTERDOWN) answered by a re-ask
	Exhaustions   uint64
	JournalErrors uint64
}

// NewSlot returns a slot in NoConnect. cfg is shared, not copied: do not
// change it afterwards.
func (rt *Runtime) NewSlot(id ID, endpoint string, cfg *Config) (*Slot, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: slot %s: nil config", ErrInvalidConfig, id)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("slot %s: %w", id, err)
	}
	b, err := timeouts.NewBudget(cfg.RecoveryCap, cfg.StablePeriod)
	if err != nil {
		return nil, fmt.Errorf("slot %s: %w", id, err)
	}
	s := &Slot{rt: rt, cfg: cfg, id: id, endpoint: endpoint, budget: b}
	s.m = fsm.NewMachine(def, id.String())
	s.enteredAt = rt.clock.Now()
	return s, nil
}

// ID is the slot's id.
func (s *Slot) ID() ID { return s.id }

// Endpoint is the primary this slot follows ("" when it uses the instance's).
func (s *Slot) Endpoint() string { return s.endpoint }

// State is the current state.
func (s *Slot) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.State()
}

// Session is the live session, 0 when none.
func (s *Slot) Session() Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.session
}

// Status is a consistent snapshot of one slot.
type Status struct {
	ID           ID
	Endpoint     string
	State        State
	Session      Session
	Seq          uint64
	AttemptsLeft int
	Cap          int
	Exhausted    bool
	FullSyncDue  bool
	LastError    string
	Since        time.Time     // when the current state was entered
	InState      time.Duration // how long it has been in it
	Stats        Stats
}

// Status returns a snapshot; it also refills the budget if the slot has been
// Connected for the stable period.
func (s *Slot) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.rt.clock.Now()
	if s.budget.Settle(now) {
		s.backoffStep = 0
	}
	return Status{
		ID:           s.id,
		Endpoint:     s.endpoint,
		State:        s.m.State(),
		Session:      s.session,
		Seq:          s.m.Seq(),
		AttemptsLeft: s.budget.Remaining(),
		Cap:          s.budget.Cap(),
		Exhausted:    s.exhausted,
		FullSyncDue:  s.fullSyncDue,
		LastError:    s.lastErr,
		Since:        s.enteredAt,
		InState:      now.Sub(s.enteredAt),
		Stats:        s.stats,
	}
}
