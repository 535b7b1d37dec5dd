package replica

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/replsm/replsm/fsm"
	"github.com/replsm/replsm/slot"
	"github.com/replsm/replsm/timeouts"
)

var (
	// ErrUnknownSlot is returned for a slot id the instance does not own.
	ErrUnknownSlot = errors.New("replica: unknown slot")
	// ErrSlotExists is returned by AddSlot for an id already owned.
	ErrSlotExists = errors.New("replica: slot already exists")
	// ErrNoMaster is returned by SlaveOf for an empty address.
	ErrNoMaster = errors.New("replica: no master address")
	// ErrStaleSession is returned for an instance reply whose session is not
	// the live meta session; it is slot.ErrStaleSession.
	ErrStaleSession = slot.ErrStaleSession
	// ErrExhausted is returned by WaitSynced when the instance or a slot ran
	// out of recoveries.
	ErrExhausted = slot.ErrExhausted
)

// Record is one instance transition.
type Record = fsm.Record[State, Event]

// MetaRequest is the instance's meta handshake.
type MetaRequest struct {
	Master  string
	Session slot.Session
}

// Driver carries out the instance's effects; the embedding implements it.
// Like slot.Driver, its methods run without locks and may call back.
type Driver interface {
	// MetaSync starts the meta handshake. An error is a meta_failed.
	MetaSync(req MetaRequest) error
	// MetaClose ends the meta session (the instance left it).
	MetaClose(session slot.Session, reason string)
}

// Options configures an Instance.
type Options struct {
	Slot       slot.Options // clock, shard driver, logger, shard observers, seed
	Driver     Driver       // the instance's meta driver
	Config     Config
	SlotConfig slot.Config
	// Observers get every instance record, in order, outside locks.
	Observers []func(Record)
	// OnExhausted is called when the instance runs out of recoveries.
	OnExhausted func(Record)
	// Journal, when set, is called under the instance lock for every
	// record, before anything else sees it (see slot.Options.Journal). An
	// error is logged; the transition stands.
	Journal func(Record) error
}

// Instance is the replica's instance-level machine and owner of its slots.
type Instance struct {
	rt      *slot.Runtime
	cfg     Config
	slotCfg *slot.Config
	drv     Driver
	opts    Options
	sched   *timeouts.Scheduler[*Instance]

	mu           sync.Mutex
	m            fsm.Machine[State, Event]
	master       string
	session      slot.Session
	lastSession  slot.Session
	enteredAt    time.Time
	lastActivity time.Time
	deadline     time.Time
	armed        bool
	budget       timeouts.Budget
	backoffStep  int
	connectStep  int
	exhausted    bool
	lastErr      string
	rng          *rand.Rand
	box          fsm.Mailbox[effect]
	recAt        int

	slotsMu sync.RWMutex
	slots   map[slot.ID]*slot.Slot
}

// New builds an instance in NoConnect with no slots.
func New(opts Options) (*Instance, error) {
	if opts.Driver == nil {
		return nil, fmt.Errorf("%w: replica.Options.Driver is nil", slot.ErrMissingOption)
	}
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	if err := opts.SlotConfig.Validate(); err != nil {
		return nil, err
	}
	rt, err := slot.NewRuntime(opts.Slot)
	if err != nil {
		return nil, err
	}
	b, err := timeouts.NewBudget(opts.Config.RecoveryCap, opts.Config.StablePeriod)
	if err != nil {
		return nil, err
	}
	slotCfg := opts.SlotConfig
	in := &Instance{
		rt: rt, cfg: opts.Config, slotCfg: &slotCfg, drv: opts.Driver, opts: opts,
		budget: b, slots: map[slot.ID]*slot.Slot{},
		m: fsm.NewMachine(def, "instance"),
	}
	in.enteredAt = rt.Clock().Now()
	in.sched = timeouts.NewScheduler(rt.Clock(), func(i *Instance, at time.Time) { i.onDeadline(at) })
	return in, nil
}

// Runtime is what the instance's slots share (clock, scheduler, driver).
func (in *Instance) Runtime() *slot.Runtime { return in.rt }

// Scheduler holds the instance's own deadline (tests RunDue it beside the
// slots' one).
func (in *Instance) Scheduler() *timeouts.Scheduler[*Instance] { return in.sched }

// Start runs both schedulers in the background; Stop stops them.
func (in *Instance) Start() { in.rt.Start(); in.sched.Start() }

// Stop stops the background schedulers and waits for them.
func (in *Instance) Stop() { in.sched.Stop(); in.rt.Stop() }

// State is the instance state.
func (in *Instance) State() State {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.m.State()
}

// AddSlot adds a shard following endpoint ("" for the instance's master).
// It starts at once if the instance is Connected.
func (in *Instance) AddSlot(id slot.ID, endpoint string) (*slot.Slot, error) {
	s, err := in.rt.NewSlot(id, endpoint, in.slotCfg)
	if err != nil {
		return nil, err
	}
	in.slotsMu.Lock()
	if _, dup := in.slots[id]; dup {
		in.slotsMu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrSlotExists, id)
	}
	in.slots[id] = s
	in.slotsMu.Unlock()
	if in.State() == Connected {
		s.LinkUp()
	}
	return s, nil
}

// RemoveSlot detaches the slot (stopping any sync in flight, under its lock)
// and forgets it; later replies for it get ErrUnknownSlot.
func (in *Instance) RemoveSlot(id slot.ID) error {
	in.slotsMu.Lock()
	s, ok := in.slots[id]
	delete(in.slots, id)
	in.slotsMu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownSlot, id)
	}
	if s.State() != slot.Detached {
		_, _ = s.Detach("slot removed")
	}
	return nil
}

// Slot returns the slot with that id.
func (in *Instance) Slot(id slot.ID) (*slot.Slot, error) {
	in.slotsMu.RLock()
	s, ok := in.slots[id]
	in.slotsMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownSlot, id)
	}
	return s, nil
}

// Slots returns every slot, sorted by id.
func (in *Instance) Slots() []*slot.Slot {
	in.slotsMu.RLock()
	out := make([]*slot.Slot, 0, len(in.slots))
	for _, s := range in.slots {
		out = append(out, s)
	}
	in.slotsMu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	return out
}

// Deliver hands a primary's reply to slot id (see slot.Slot.Deliver).
func (in *Instance) Deliver(id slot.ID, sess slot.Session, ev slot.Event, reason string) (slot.Record, error) {
	s, err := in.Slot(id)
	if err != nil {
		return slot.Record{}, err
	}
	return s.Deliver(sess, ev, reason)
}

func (in *Instance) random() *rand.Rand {
	if in.rng == nil {
		in.rng = rand.New(rand.NewPCG(in.opts.Slot.Seed, ^uint64(0)))
	}
	return in.rng
}
