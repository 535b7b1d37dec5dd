package slot

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/replsm/replsm/host"
)

// ID names a shard within an instance.
type ID int

func (id ID) String() string { return idPrefix + strconv.Itoa(int(id)) }

const idPrefix = "slot/"

// IDOf returns the id of the slot a record belongs to; ok is false for a
// record that is not a slot's.
func IDOf(rec Record) (id ID, ok bool) {
	rest, found := strings.CutPrefix(rec.ID, idPrefix)
	if !found || rec.Machine != def.Name() {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil {
		return 0, false
	}
	return ID(n), true
}

// Attribute keys a slot puts on its records (besides host's).
const (
	AttrSession     = "session"       // the session the transition concerns
	AttrReached     = "reached"       // false: the failure never reached the primary
	AttrFullSyncDue = "full_sync_due" // why the next start is a full sync
	AttrPollIn      = "poll_in"       // a busy primary is asked again after this
	AttrOldEndpoint = "old_endpoint"  // repoint: the primary followed before
	AttrNewEndpoint = "new_endpoint"  // repoint: the primary followed now
)

var (
	// ErrStaleSession is returned by Deliver, Busy, Data and ProbeResult for
	// a reply, data or probe answer whose session is not the slot's live
	// one. Nothing changes; the drop is counted in Stats.StaleDropped.
	ErrStaleSession = errors.New("slot: stale session")
	// ErrNotDeliverable is returned by Deliver for a declared event that only
	// the slot itself (timers) or an operator method may raise.
	ErrNotDeliverable = errors.New("slot: event is not a reply")
	// ErrExhausted is returned by WaitSynced when the slot has spent its
	// recovery budget (it keeps retrying at the slow cadence; WaitSynced
	// does not wait for that).
	ErrExhausted = errors.New("slot: recovery budget exhausted")
	// ErrDetached is returned by WaitSynced when the slot is Detached.
	ErrDetached = errors.New("slot: detached")
	// ErrInvalidEndpoint is returned by SetEndpoint for an empty endpoint or
	// one with spaces or control characters.
	ErrInvalidEndpoint = errors.New("slot: invalid endpoint")
)

// Slot is the replica-side replication machine of one shard. Its state,
// session, counters and armed deadline change together under one mutex
// (the host's); records and effects are handed out after it is released,
// in order.
type Slot struct {
	host.Host[State, Event]
	rt  *Runtime
	cfg *Config
	id  ID

	endpoint     string
	linkUp       bool
	session      Session // live session, 0 when none
	fullSession  bool    // the live session is a full sync
	busy         bool    // entering TryConnect/TryDBSync after a busy reply: poll
	unreached    bool    // the failing request never reached the primary
	counted      bool    // counted in the runtime's probing slots
	lastActivity time.Time
	incFailures  int
	fullSyncDue  bool
	stats        Stats
}

// Stats are a slot's counters.
type Stats struct {
	Transitions   uint64
	StaleDropped  uint64 // replies and data under a session that is not live
	Failures      uint64 // entries into Error
	Recoveries    uint64 // Error -> NoConnect on the slot's own (timer or probe)
	FullSyncs     uint64 // snapshots completed (db_sync_done or db_sync_loaded)
	PartialSyncs  uint64 // incremental syncs accepted (sync_ok)
	Probes        uint64 // reachability probes asked of the driver while in Error
	BusyRetries   uint64 // "busy, ask again" replies (-LOADING, -MASTERDOWN) answered by a re-ask
	Exhaustions   uint64 // exhaustion episodes
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
	if endpoint != "" {
		if err := ValidEndpoint(endpoint); err != nil {
			return nil, fmt.Errorf("slot %s: %w", id, err)
		}
	}
	b, err := cfg.budget()
	if err != nil {
		return nil, fmt.Errorf("slot %s: %w", id, err)
	}
	s := &Slot{rt: rt, cfg: cfg, id: id, endpoint: endpoint}
	s.Init(rt.host, def, id.String(), (*owner)(s), &rt.kind, b, uint64(id))
	return s, nil
}

// ValidEndpoint is the core's check of an endpoint: not empty, no spaces or
// control characters. What an endpoint means is the embedding's business.
func ValidEndpoint(ep string) error {
	if ep == "" || strings.IndexFunc(ep, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return fmt.Errorf("%w: %q", ErrInvalidEndpoint, ep)
	}
	return nil
}

// ID is the slot's id.
func (s *Slot) ID() ID { return s.id }

// Endpoint is the primary this slot follows ("" when it uses the instance's).
func (s *Slot) Endpoint() string {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	return s.endpoint
}

// State is the current state.
func (s *Slot) State() State {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	return s.M.State()
}

// Session is the live session, 0 when none.
func (s *Slot) Session() Session {
	s.Mu.Lock()
	defer s.Mu.Unlock()
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
	Exhausted    bool // in an exhaustion episode: retrying at the slow cadence
	Probing      bool // probing its endpoint for reachability
	FullSyncDue  bool
	LastError    string
	Since        time.Time     // when the current state was entered
	InState      time.Duration // how long it has been in it
	Stats        Stats
}

// Status returns a snapshot; it also refills the budget if the slot has been
// Connected for the stable period.
func (s *Slot) Status() Status {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	now := s.rt.host.Clock().Now()
	s.Settle(now)
	st := s.stats
	st.JournalErrors = s.JournalErrors()
	return Status{
		ID:           s.id,
		Endpoint:     s.endpoint,
		State:        s.M.State(),
		Session:      s.session,
		Seq:          s.M.Seq(),
		AttemptsLeft: s.Budget.Remaining(),
		Cap:          s.Budget.Cap(),
		Exhausted:    s.Exhausted,
		Probing:      s.Probing(),
		FullSyncDue:  s.fullSyncDue,
		LastError:    s.LastErr,
		Since:        s.EnteredAt,
		InState:      now.Sub(s.EnteredAt),
		Stats:        st,
	}
}
