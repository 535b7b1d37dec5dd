package replica

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/replsm/replsm/fsm"
	"github.com/replsm/replsm/host"
	"github.com/replsm/replsm/slot"
	"github.com/replsm/replsm/timeouts"
)

var (
	// ErrUnknownSlot is returned for a slot id the instance does not own.
	ErrUnknownSlot = errors.New("replica: unknown slot")
	// ErrSlotExists is returned by AddSlot for an id already owned.
	ErrSlotExists = errors.New("replica: slot already exists")
	// ErrNoMaster is returned by SlaveOf for an empty or malformed address.
	ErrNoMaster = errors.New("replica: no master address")
	// ErrStaleSession is returned for an instance reply whose session is not
	// the live meta session; it is slot.ErrStaleSession.
	ErrStaleSession = slot.ErrStaleSession
	// ErrExhausted is returned by WaitSynced as soon as the instance or a
	// slot has spent its recovery budget.
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
	// OnExhausted is called once per exhaustion episode of the instance.
	OnExhausted func(Record)
	// Journal, when set, makes every instance record durable after the
	// instance lock is released and before anything else sees it (see
	// slot.Options.Journal). An error is logged; the transition stands.
	Journal func(Record) error
}

// Instance is the replica's instance-level machine and owner of its slots.
type Instance struct {
	host.Host[State, Event]
	rt      *slot.Runtime
	cfg     Config
	slotCfg *slot.Config
	drv     Driver
	opts    Options
	kind    host.Kind[State, Event]

	master       string
	session      slot.Session
	lastActivity time.Time
	connectStep  int
	refillSlots  string // set by an operator command: refill every slot after the slots are told the link is down

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
		slots: map[slot.ID]*slot.Slot{},
	}
	in.kind = host.Kind[State, Event]{Error: Error, Observers: opts.Observers, Journal: opts.Journal}
	// The instance's jitter stream is apart from every slot's.
	in.Init(rt.Host(), def, "instance", (*owner)(in), &in.kind, b, ^uint64(0))
	rt.OnConnected(in.siblingConnected)
	return in, nil
}

// Runtime is what the instance and its slots share (one deadline heap).
func (in *Instance) Runtime() *slot.Runtime { return in.rt }

// Start runs the runtime's deadline heap in the background; Stop stops it.
func (in *Instance) Start() { in.rt.Start() }

// Stop stops the background scheduler and waits for it.
func (in *Instance) Stop() { in.rt.Stop() }

// State is the instance state.
func (in *Instance) State() State {
	in.Mu.Lock()
	defer in.Mu.Unlock()
	return in.M.State()
}

// AddSlot adds a shard following endpoint ("" for the instance's master).
// It starts at once if the instance is Connected. Its sessions are new to
// the runtime, so replies meant for an earlier slot of the same id are
// stale.
func (in *Instance) AddSlot(id slot.ID, endpoint string) (*slot.Slot, error) {
	return in.AddSlotReady(id, endpoint, nil)
}

// AddSlotReady is AddSlot with a step between building the slot and
// starting it: ready (when not nil) gets the slot before any of its effects
// can reach the driver, so an embedding adding a shard at runtime can
// register it first. An error from ready adds nothing and is returned.
func (in *Instance) AddSlotReady(id slot.ID, endpoint string, ready func(*slot.Slot) error) (*slot.Slot, error) {
	s, err := in.rt.NewSlot(id, endpoint, in.slotCfg)
	if err != nil {
		return nil, err
	}
	in.slotsMu.Lock()
	if _, dup := in.slots[id]; dup {
		in.slotsMu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrSlotExists, id)
	}
	if ready != nil {
		if err := ready(s); err != nil {
			in.slotsMu.Unlock()
			return nil, err
		}
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

// RepointSlot re-points one slot at another primary (see
// slot.Slot.SetEndpoint): the endpoint it follows already is a no-op.
func (in *Instance) RepointSlot(id slot.ID, endpoint, reason string) (slot.Record, error) {
	s, err := in.Slot(id)
	if err != nil {
		return slot.Record{}, err
	}
	return s.SetEndpoint(endpoint, reason)
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

// siblingConnected: a slot reached Connected, so its endpoint answers;
// siblings on the same endpoint that are probing it recover at once.
func (in *Instance) siblingConnected(c *slot.Slot, endpoint string) {
	if !in.rt.AnyProbing() {
		return
	}
	for _, s := range in.Slots() {
		if s != c && s.Endpoint() == endpoint {
			s.Reachable("sibling " + c.ID().String() + " connected to the same endpoint")
		}
	}
}
