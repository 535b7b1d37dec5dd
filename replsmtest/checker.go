package replsmtest

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/replsm/replsm/follower"
	"github.com/replsm/replsm/fsm"
	"github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/slot"
)

// Invariant names, as Violation.Invariant reports them.
const (
	InvOneSession     = "one-live-session"        // a slot opens a session while another is open
	InvSessionsUnique = "sessions-unique"         // a session number handed out twice
	InvLiveReply      = "reply-live-session"      // a reply under a session that is not live changed something
	InvSequence       = "records-contiguous"      // seq gap, or From is not the previous To
	InvSpec           = "transition-in-spec"      // (event, from) -> to not in the machine's spec
	InvFullAfterAbort = "full-sync-after-abort"   // an incremental request after an aborted transfer
	InvBudget         = "budget"                  // budget negative, or more than Cap budgeted recoveries in one period
	InvDetached       = "detached-silent"         // a Detached slot sent a request
	InvState          = "state-matches-records"   // the machine's state is not the last record's To
	InvLiveness       = "liveness"                // peers reachable for B, yet a shard is not Connected
	InvLinkDown       = "no-sync-while-link-down" // a shard asked for sync while the instance is not Connected
	InvCounters       = "counters"                // a slot's Stats disagree with its records
	InvWait           = "wait-returns"            // a WaitSynced caller did not return by its deadline
)

// More invariant names.
const (
	InvExhaustOnce = "exhausted-once"       // exhaustion reported twice in one episode
	InvNoop        = "noop-changes-nothing" // slaveof the master followed, or repoint to the endpoint followed, made a record
)

// Violation is one broken invariant.
type Violation struct {
	Invariant string
	Detail    string
}

func (v Violation) String() string { return v.Invariant + ": " + v.Detail }

// Limits are what the checker needs to know of the configuration.
type Limits struct {
	SlotCap        int
	SlotStable     time.Duration
	AtomicLoad     bool
	InstanceCap    int
	InstanceStable time.Duration
}

// LimitsOf reads the limits from a slot and an instance configuration.
func LimitsOf(sc slot.Config, ic replica.Config) Limits {
	return Limits{SlotCap: sc.RecoveryCap, SlotStable: sc.StablePeriod, AtomicLoad: sc.AtomicLoad,
		InstanceCap: ic.RecoveryCap, InstanceStable: ic.StablePeriod}
}

type key struct{ ev, from string }

// transitions is a spec as a lookup: (event, from) -> to.
type transitions map[key]string

func specOf[S ~string, E ~string](sp fsm.Spec[S, E]) transitions {
	t := transitions{}
	for _, tr := range sp.Transitions {
		for _, src := range tr.Src {
			t[key{string(tr.Event), string(src)}] = string(tr.Dst)
		}
	}
	return t
}

var (
	slotSpec     = specOf(slot.Spec(slot.DefaultConfig()))
	instanceSpec = specOf(replica.Spec(replica.DefaultConfig()))
	followerSpec = specOf(follower.Spec(follower.DefaultConfig()))
)

// machine is what the checker remembers of one machine's record stream.
type machine struct {
	seq   uint64
	state string
	// budgeted recoveries in this stable period, the times it reached
	// health in it (each may credit a spent budget with one attempt), and
	// the Connected spell.
	recoveries     int
	credits        int
	connectedSince time.Time
	connected      bool
	exhausted      bool // in an exhaustion episode
}

type slotTrack struct {
	open     []slot.Session // sessions asked for and not closed
	past     []slot.Session // every session it was handed, oldest first
	state    slot.State
	mustFull bool
	records  int
	stats    slot.Stats // counted from the records
}

// Checker checks the invariants on what it is shown: records (its
// observers), the requests and closes the machines ask their driver for
// (Sync, Close), and the harness's own knowledge (Reply, Refilled, ...).
// It is safe for concurrent use; Violations lists what broke.
type Checker struct {
	mu       sync.Mutex
	lim      Limits
	machines map[string]*machine
	slots    map[slot.ID]*slotTrack
	sessions map[slot.Session]bool
	viol     []Violation
	total    int // records seen
	// doubleRecoveries is a planted bug (Plant.LieCounters).
	doubleRecoveries bool
	spentAsExhausted bool // planted (Plant.SpentAsExhausted)
	// sessionKey is a planted bug (Plant.ReuseSession) when set.
	sessionKey func(slot.Session) slot.Session
	// Forge, when set, may rewrite each record before it is checked (planted
	// bugs drive the checker with a forged stream this way).
	Forge func(id string, seq uint64, ev, from, to string) (seq2 uint64, ev2, from2, to2 string)
}

// NewChecker returns a checker for machines configured within lim.
func NewChecker(lim Limits) *Checker {
	return &Checker{lim: lim, machines: map[string]*machine{}, slots: map[slot.ID]*slotTrack{}, sessions: map[slot.Session]bool{}}
}

// Violations returns what broke so far.
func (c *Checker) Violations() []Violation {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Violation(nil), c.viol...)
}

// Failed reports whether anything broke.
func (c *Checker) Failed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.viol) > 0
}

// Violate records a violation found by the harness.
func (c *Checker) Violate(inv, format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.violate(inv, format, args...)
}

func (c *Checker) violate(inv, format string, args ...any) {
	if len(c.viol) < 16 { // the first ones tell; bound the memory
		c.viol = append(c.viol, Violation{inv, fmt.Sprintf(format, args...)})
	}
}

func (c *Checker) slot(id slot.ID) *slotTrack {
	t := c.slots[id]
	if t == nil {
		t = &slotTrack{state: slot.NoConnect}
		c.slots[id] = t
	}
	return t
}

// SlotRecord is a slot.Observer.
func (c *Checker) SlotRecord(r slot.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	from, to := c.record(r.ID, r.Seq, string(r.Event), string(r.From), string(r.To), r.Time, r.Attrs, slotSpec, string(slot.Connected), c.lim.SlotCap, c.lim.SlotStable)
	id, ok := slot.IDOf(r)
	if !ok {
		return
	}
	t := c.slot(id)
	t.records++
	t.state = slot.State(to)
	switch r.Event {
	case slot.EvSyncOK:
		t.stats.PartialSyncs++
	case slot.EvDBSyncDone, slot.EvDBSyncLoaded:
		t.stats.FullSyncs++
	case slot.EvRecover:
		t.stats.Recoveries++
		if c.doubleRecoveries {
			t.stats.Recoveries++
		}
	case slot.EvBusy, slot.EvBusyFull:
		t.stats.BusyRetries++
	}
	if r.To == slot.Error {
		t.stats.Failures++
	}
	// A reply's record carries the session it was accepted under: it must
	// be the open one.
	if replyEvent[r.Event] {
		v, ok := r.Attr("session")
		sess := slot.Session(0)
		if ok {
			sess = slot.Session(v.Uint64())
		}
		if !t.isOpen(sess) {
			c.violate(InvLiveReply, "%s #%d: %s accepted under session %d, which is not open", r.ID, r.Seq, r.Event, sess)
		}
	}
	if _, ok := r.Attr("exhausted"); ok {
		t.stats.Exhaustions++
	}
	if from == string(slot.WaitDBSync) && to != string(slot.Connected) && r.Event != slot.EvDBSyncLoaded && !c.lim.AtomicLoad {
		t.mustFull = true
	}
}

var replyEvent = map[slot.Event]bool{
	slot.EvSyncOK: true, slot.EvNeedFullSync: true, slot.EvDBSyncStarted: true, slot.EvDBSyncDone: true,
	slot.EvDBSyncLoaded: true, slot.EvBusy: true, slot.EvBusyFull: true, slot.EvFail: true,
}

func (t *slotTrack) isOpen(s slot.Session) bool {
	for _, o := range t.open {
		if o == s && s != 0 {
			return true
		}
	}
	return false
}

// InstanceRecord is a replica observer.
func (c *Checker) InstanceRecord(r replica.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record(r.ID, r.Seq, string(r.Event), string(r.From), string(r.To), r.Time, r.Attrs, instanceSpec, string(replica.Connected), c.lim.InstanceCap, c.lim.InstanceStable)
}

// FollowerRecord is a follower observer.
func (c *Checker) FollowerRecord(r follower.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record(r.ID, r.Seq, string(r.Event), string(r.From), string(r.To), r.Time, nil, followerSpec, "", 0, 0)
}

// record checks sequence, spec and budget for one record; it returns the
// (possibly forged) from and to.
func (c *Checker) record(id string, seq uint64, ev, from, to string, at time.Time, attrs []slog.Attr, spec transitions, healthy string, cap int, stable time.Duration) (string, string) {
	if c.Forge != nil {
		seq, ev, from, to = c.Forge(id, seq, ev, from, to)
	}
	m := c.machines[id]
	if m != nil && seq == 1 && strings.HasPrefix(id, "follower/") {
		m = nil // a follower of that id connected again: a new machine
	}
	if m == nil {
		m = &machine{}
		c.machines[id] = m
	}
	if m.seq != 0 || seq != 1 {
		if seq != m.seq+1 {
			c.violate(InvSequence, "%s: record #%d after #%d", id, seq, m.seq)
		}
		if from != m.state {
			c.violate(InvSequence, "%s #%d: from %s, but the previous record went to %s", id, seq, from, m.state)
		}
	}
	if want, ok := spec[key{ev, from}]; !ok || want != to {
		c.violate(InvSpec, "%s #%d: %s %s -> %s is not in the spec", id, seq, ev, from, to)
	}
	m.seq, m.state = seq, to
	c.total++
	if cap == 0 {
		return from, to
	}
	// Budget: a stable Connected spell, a refilled mark or an operator's
	// fresh start begins a new period.
	if from == healthy && to != healthy && m.connected {
		if at.Sub(m.connectedSince) >= stable {
			m.recoveries, m.credits = 0, 0
		}
		m.connected = false
	}
	if to == healthy && from != healthy {
		m.connected, m.connectedSince = true, at
		m.exhausted = false
		if m.recoveries >= cap {
			m.credits++ // coming back credits a spent budget with one attempt
		}
	}
	switch ev {
	case "reset", "repoint", "resume":
		m.recoveries, m.credits, m.exhausted = 0, 0, false
	}
	for _, a := range attrs {
		switch {
		case a.Key == "budget" && a.Value.String() == "refilled":
			m.recoveries, m.credits = 0, 0
		case a.Key == "exhausted" || c.spentAsExhausted && a.Key == "budget" && a.Value.String() == "spent":
			if m.exhausted {
				c.violate(InvExhaustOnce, "%s #%d: exhausted again in the same episode", id, seq)
			}
			m.exhausted = true
		case a.Key == "attempt" && ev == "recover":
			n, c2, ok := strings.Cut(a.Value.String(), "/")
			if !ok {
				continue // "slow": the exhausted cadence is not budgeted
			}
			m.recoveries++
			ni, _ := strconv.Atoi(n)
			ci, _ := strconv.Atoi(c2)
			if ni > cap || ci != cap || ni < 1 {
				c.violate(InvBudget, "%s #%d: attempt %s with a cap of %d", id, seq, a.Value.String(), cap)
			}
			if m.recoveries > cap+m.credits {
				c.violate(InvBudget, "%s #%d: %d budgeted recoveries in one stable period, cap %d plus %d credits for coming back", id, seq, m.recoveries, cap, m.credits)
			}
		}
	}
	return from, to
}

// Settled tells the checker the stable period may have refilled budgets at
// now (a status read settles them).
func (c *Checker) Settled(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, m := range c.machines {
		st := c.lim.SlotStable
		if id == "instance" {
			st = c.lim.InstanceStable
		}
		if m.connected && now.Sub(m.connectedSince) >= st {
			m.recoveries, m.credits = 0, 0
		}
	}
}

// Refilled tells the checker every budget was refilled (slaveof, remove
// master, instance reset).
func (c *Checker) Refilled() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.machines {
		m.recoveries, m.credits, m.exhausted = 0, 0, false
	}
}

// Total counts every record seen.
func (c *Checker) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// Removed tells the checker slot id was removed: a later slot of that id
// is a new machine.
func (c *Checker) Removed(id slot.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.machines, id.String())
	if t := c.slots[id]; t != nil {
		t.open, t.mustFull, t.state, t.stats = nil, false, slot.NoConnect, slot.Stats{}
	}
}

// Sync is called for every request a slot sends (the spy driver).
func (c *Checker) Sync(req slot.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.slot(req.Slot)
	if c.seen(req.Session) {
		c.violate(InvSessionsUnique, "%s: session %d handed out before", req.Slot, req.Session)
	}
	if len(t.open) > 0 {
		c.violate(InvOneSession, "%s: session %d requested while session %d is still open", req.Slot, req.Session, t.open[0])
	}
	if m := c.machines["instance"]; m == nil || m.state != string(replica.Connected) {
		c.violate(InvLinkDown, "%s: request under session %d while the instance is not Connected", req.Slot, req.Session)
	}
	if t.state == slot.Detached {
		c.violate(InvDetached, "%s: request under session %d while Detached", req.Slot, req.Session)
	}
	if t.mustFull && !req.Full {
		c.violate(InvFullAfterAbort, "%s: incremental request under session %d after an aborted transfer", req.Slot, req.Session)
	}
	if req.Full {
		t.mustFull = false
	}
	t.open = append(t.open, req.Session)
	t.past = append(t.past, req.Session)
}

// seen notes a session and reports whether it was handed out before.
func (c *Checker) seen(s slot.Session) bool {
	if c.sessionKey != nil {
		s = c.sessionKey(s)
	}
	dup := c.sessions[s]
	c.sessions[s] = true
	return dup
}

// Meta is called for every meta handshake the instance sends.
func (c *Checker) Meta(sess slot.Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen(sess) {
		c.violate(InvSessionsUnique, "instance: meta session %d handed out before", sess)
	}
}

// Close is called for every session a slot closes (the spy driver).
func (c *Checker) Close(id slot.ID, sess slot.Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.slot(id)
	for i, s := range t.open {
		if s == sess {
			t.open = append(t.open[:i], t.open[i+1:]...)
			return
		}
	}
}

// Past returns the sessions slot id was handed, oldest first.
func (c *Checker) Past(id slot.ID) []slot.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]slot.Session(nil), c.slot(id).past...)
}

// Records counts slot id's records so far.
func (c *Checker) Records(id slot.ID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slot(id).records
}

// Observe checks what can be read of a slot without changing it: its state
// is its last record's To, and its session is open.
func (c *Checker) Observe(id slot.ID, st slot.State, sess slot.Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.slot(id)
	if st != t.state {
		c.violate(InvState, "%s is %s, its last record went to %s", id, st, t.state)
	}
	if sess == 0 {
		return
	}
	for _, s := range t.open {
		if s == sess {
			return
		}
	}
	c.violate(InvOneSession, "%s: live session %d was never requested or is closed", id, sess)
}

// Status checks a status read: budgets within [0, cap].
func (c *Checker) Status(info replica.Info) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if info.AttemptsLeft < 0 || info.AttemptsLeft > info.Cap {
		c.violate(InvBudget, "instance: %d of %d attempts left", info.AttemptsLeft, info.Cap)
	}
	for _, s := range info.Slots {
		if s.AttemptsLeft < 0 || s.AttemptsLeft > s.Cap {
			c.violate(InvBudget, "%s: %d of %d attempts left", s.ID, s.AttemptsLeft, s.Cap)
		}
		if s.Exhausted && s.AttemptsLeft > 0 {
			c.violate(InvBudget, "%s: exhausted with %d of %d attempts left", s.ID, s.AttemptsLeft, s.Cap)
		}
		want, got := c.slot(s.ID).stats, s.Stats
		if got.PartialSyncs != want.PartialSyncs || got.FullSyncs != want.FullSyncs || got.Recoveries != want.Recoveries ||
			got.BusyRetries != want.BusyRetries || got.Failures != want.Failures || got.Exhaustions != want.Exhaustions {
			c.violate(InvCounters, "%s: stats partial=%d full=%d recoveries=%d busy=%d failures=%d exhaustions=%d, records say %d %d %d %d %d %d",
				s.ID, got.PartialSyncs, got.FullSyncs, got.Recoveries, got.BusyRetries, got.Failures, got.Exhaustions,
				want.PartialSyncs, want.FullSyncs, want.Recoveries, want.BusyRetries, want.Failures, want.Exhaustions)
		}
	}
}

// Live checks liveness: the peers have been reachable for the bound, so
// the instance and every shard that is not Detached must be Connected.
func (c *Checker) Live(info replica.Info, bound time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if info.State != replica.Connected {
		c.violate(InvLiveness, "instance is %s after %s of reachable peers", info.State, bound)
	}
	for _, s := range info.Slots {
		if s.State != slot.Connected && s.State != slot.Detached {
			c.violate(InvLiveness, "%s is %s after %s of reachable peers (last error %q)", s.ID, s.State, bound, s.LastError)
		}
	}
}
