package replsmtest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/sim"
	"github.com/replsm/replsm/slot"
)

// Driver is what the machines call; sim.Driver (the scripted peer) is one.
// An embedder's driver under test wraps the scripted peer: it sends its
// requests "over the wire" by calling the peer.
type Driver = sim.Driver

// Plant switches on a deliberate bug in the harness, so a test can show the
// explorer catches what each invariant is for. The zero Plant is faithful.
type Plant struct {
	AcceptStale       bool // replies for an old session are delivered under the live one
	DropClose         bool // the driver never tells the checker a session closed
	SkipSeq           bool // recover records are seen with a sequence gap
	ForgeSpec         bool // recover records are seen going to Connected
	LieAtomicLoad     bool // the checker believes the load is not atomic while it is
	LieCap            bool // the checker believes the cap is one lower
	SyncWhileDetached bool // the driver sends a request after a detach
	SilentHeal        bool // slot 1's peer stays silent after the heal
	WaitIgnores       bool // a WaitSynced caller ignores its deadline
	LieCounters       bool // the checker counts every recovery twice
	SyncWhileLinkDown bool // the driver sends a request after the link is lost
	StaleState        bool // the harness reads each slot's state before the command, not after
	ReuseSession      bool // the checker sees session numbers modulo 4, as if reused
	SpentAsExhausted  bool // the checker reads budget=spent as a second exhaustion report
	NoopReconnects    bool // slaveof to the master followed drops the link, as a careless core would
}

// Harness is one history in progress: a simulation whose machines are
// watched by a Checker through their observers and a spy driver.
type Harness struct {
	Sim      *sim.Sim
	Checker  *Checker
	Params   sim.Params
	plant    Plant
	spy      *spy
	lines    []string
	waiters  map[string]string // name -> target ("all" or a slot id)
	quiesce  func()
	lastInfo replica.Info // what the last info command read
}

// probeAnswer bounds the scripted peer's probe answer time (10 ms), with
// a margin.
const probeAnswer = 20 * time.Millisecond

// spy sits between the machines and the driver under test.
type spy struct {
	Driver
	c     *Checker
	plant *Plant
}

func (d *spy) Sync(req slot.Request) error {
	d.c.Sync(req)
	return d.Driver.Sync(req)
}

func (d *spy) MetaSync(req replica.MetaRequest) error {
	d.c.Meta(req.Session)
	return d.Driver.MetaSync(req)
}

func (d *spy) Close(id slot.ID, sess slot.Session, reason string) {
	if !d.plant.DropClose {
		d.c.Close(id, sess)
	}
	d.Driver.Close(id, sess, reason)
}

// NewHarness starts a simulation from the arguments of a `new` line (for
// example "slots=3 endpoints=own"), over base (sim.DefaultParams() when
// zero). opts.Wrap, if not nil, puts the caller's driver in front of the
// scripted peer; opts.Quiesce runs after every command.
func NewHarness(newArgs string, base sim.Params, opts Options) (*Harness, error) {
	wrap, plant := opts.Wrap, opts.Plant
	if base.SlotConfig.RecoveryCap == 0 {
		base = sim.DefaultParams()
	}
	line := strings.TrimSpace("new " + newArgs)
	_, args, err := sim.ParseScriptLine(line)
	if err != nil {
		return nil, err
	}
	p, err := sim.ApplyParams(base, args)
	if err != nil {
		return nil, err
	}
	lim := LimitsOf(p.SlotConfig, p.Config)
	if plant.LieCap {
		lim.SlotCap--
	}
	if plant.LieAtomicLoad {
		lim.AtomicLoad = !lim.AtomicLoad
	}
	h := &Harness{Checker: NewChecker(lim), plant: plant, waiters: map[string]string{}, lines: []string{line}, quiesce: opts.Quiesce}
	h.Checker.doubleRecoveries = plant.LieCounters
	h.Checker.spentAsExhausted = plant.SpentAsExhausted
	if plant.ReuseSession {
		h.Checker.sessionKey = func(s slot.Session) slot.Session { return s % 4 }
	}
	h.Params = p
	c := h.Checker
	if plant.SkipSeq || plant.ForgeSpec {
		c.Forge = func(id string, seq uint64, ev, from, to string) (uint64, string, string, string) {
			if ev == "recover" {
				if plant.SkipSeq {
					seq++
				}
				if plant.ForgeSpec {
					to = "Connected"
				}
			}
			return seq, ev, from, to
		}
	}
	p.SlotObservers = append(p.SlotObservers, c.SlotRecord)
	p.InstanceObservers = append(p.InstanceObservers, c.InstanceRecord)
	p.FollowerObservers = append(p.FollowerObservers, c.FollowerRecord)
	p.WrapDriver = func(peer Driver) Driver {
		d := peer
		if wrap != nil {
			d = wrap(peer)
		}
		h.spy = &spy{Driver: d, c: c, plant: &h.plant}
		return h.spy
	}
	if plant.WaitIgnores {
		p.WaitLimit = 50 * time.Millisecond
	}
	h.Sim, err = sim.New(p)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// Close stops what the simulation started.
func (h *Harness) Close() { h.Sim.Close() }

// Lines is the history so far, one command a line, starting with `new`: a
// plain script `replsm simulate --script` runs.
func (h *Harness) Lines() []string { return append([]string(nil), h.lines...) }

// Exec runs one script command, checks the invariants that command bears
// on, and returns its output. A script error (a malformed command) is
// returned as such.
func (h *Harness) Exec(line string) (string, error) {
	cmd, args, err := sim.ParseScriptLine(line)
	if err != nil {
		return "", err
	}
	h.lines = append(h.lines, line)
	m := map[string]string{}
	for _, a := range args {
		m[a.Key] = a.Val
	}
	c := h.Checker
	in := h.Sim.Inst

	// A reply, failure or data under a session that is not live must
	// change nothing.
	var stale *slot.Slot
	var staleSess, live slot.Session
	before := 0
	switch cmd {
	case "reply", "fail", "data":
		id, _ := strconv.Atoi(m["slot"])
		if sl, err := in.Slot(slot.ID(id)); err == nil {
			live = sl.Session()
			if v, ok := m["session"]; ok && v != "live" {
				n, _ := strconv.ParseUint(v, 10, 64)
				if s := slot.Session(n); s != live && !(cmd == "data" && s > live) {
					stale, staleSess = sl, s
					before = c.Records(sl.ID())
					if h.plant.AcceptStale && live != 0 {
						args = withArg(args, "session", strconv.FormatUint(uint64(live), 10))
					}
				}
			}
		}
	case "follower-ack":
		// checked below through the follower's stale count
	}
	var before2 []slot.State
	if h.plant.StaleState {
		for _, sl := range in.Slots() {
			before2 = append(before2, sl.State())
		}
	}
	// The master already followed, or the endpoint already followed: a
	// no-op, not a single record.
	noop := false
	switch cmd {
	case "slaveof":
		st := in.State()
		noop = m["addr"] == in.Master() && st != replica.NoConnect && st != replica.Error
	case "repoint":
		id, _ := strconv.Atoi(m["slot"])
		if sl, err := in.Slot(slot.ID(id)); err == nil {
			noop = sl.Endpoint() == m["endpoint"]
		}
	}
	total := c.Total()
	out, err := h.Sim.ExecScript(cmd, args)
	if err != nil {
		return out, err
	}
	if h.quiesce != nil {
		h.quiesce()
		h.Sim.Advance(0) // what the driver's goroutines delivered meanwhile
		out += h.Sim.Take()
	}
	if noop && h.plant.NoopReconnects && cmd == "slaveof" {
		_ = in.LinkLost(in.Session(), "slaveof (planted)")
		h.Sim.Advance(0)
	}
	if noop && c.Total() != total {
		c.Violate(InvNoop, "%q made %d records", line, c.Total()-total)
	}
	if stale != nil && c.Records(stale.ID()) != before {
		c.Violate(InvLiveReply, "%s: %q under session %d (live %d) changed the slot", stale.ID(), line, staleSess, live)
	}
	switch cmd {
	case "slaveof", "remove-master", "reset-instance":
		c.Refilled()
	case "remove-slot":
		id, _ := strconv.Atoi(m["id"])
		c.Removed(slot.ID(id))
	case "link-lost":
		if h.plant.SyncWhileLinkDown && in.State() != replica.Connected {
			if ids := in.Slots(); len(ids) > 0 {
				_ = h.spy.Sync(slot.Request{Slot: ids[0].ID(), Session: slot.Session(1 << 41), Full: true})
			}
		}
	case "detach":
		if h.plant.SyncWhileDetached {
			id, _ := strconv.Atoi(m["slot"])
			_ = h.spy.Sync(slot.Request{Slot: slot.ID(id), Session: slot.Session(1 << 40)})
		}
	case "info":
		c.Settled(h.Sim.Clock.Now())
		h.lastInfo = in.Info()
		c.Status(h.lastInfo)
	case "wait-start":
		if !strings.Contains(out, "error:") {
			h.waiters[m["name"]] = m["slot"]
		}
	case "wait-expire", "wait-result":
		delete(h.waiters, m["name"])
		if strings.Contains(out, "still waiting") || (h.plant.WaitIgnores && cmd == "wait-expire") {
			c.Violate(InvWait, "%s: WaitSynced did not return by its deadline", m["name"])
		}
	}
	for i, sl := range in.Slots() {
		st := sl.State()
		if h.plant.StaleState && i < len(before2) {
			st = before2[i]
		}
		c.Observe(sl.ID(), st, sl.Session())
	}
	return out, nil
}

func withArg(args []sim.Arg, k, v string) []sim.Arg {
	out := make([]sim.Arg, 0, len(args))
	for _, a := range args {
		if a.Key != k {
			out = append(out, a)
		}
	}
	return append(out, sim.Arg{Key: k, Val: v, HasVal: true})
}

// Bound is the liveness bound B for p: once every peer answers and keeps
// answering for B, the instance and every shard that is not Detached are
// Connected. The instance needs at most a meta timeout plus its longest
// wait (a connect backoff, an Error backoff, or the exhausted cadence, with
// jitter), and a shard at most its longest active timeout (reply or
// transfer idle) plus its longest Error wait (backoff with jitter, or the
// exhausted cadence), a busy poll, a probe interval and a transfer.
// Operator mode (ExhaustedRetry 0) has no bound and is not explored.
func Bound(p sim.Params) time.Duration {
	jit := func(d time.Duration, j float64) time.Duration { return time.Duration(float64(d) * (1 + j)) }
	ic, sc := p.Config, p.SlotConfig
	inst := ic.MetaTimeout + max(jit(ic.ConnectBackoff.Max, ic.ConnectBackoff.Jitter), jit(ic.Backoff.Max, ic.Backoff.Jitter), ic.ExhaustedRetry)
	sl := max(sc.ReplyTimeout, sc.TransferIdleTimeout) + max(jit(sc.Backoff.Max, sc.Backoff.Jitter), sc.ExhaustedRetry) +
		sc.BusyPoll + sc.ProbeInterval + p.Transfer
	return (inst + sl).Round(time.Second) + time.Second
}

// Heal makes every peer reachable and keeps it so for the bound, then
// checks liveness. It returns the bound it waited.
func (h *Harness) Heal() (time.Duration, error) {
	b := Bound(h.Params)
	heal := []string{"meta mode=ok", "peer slot=all mode=ok"}
	if h.Sim.Inst.Master() == "" {
		// Only a removed master needs the operator; anything else must
		// come back by itself (an operator's slaveof would refill every
		// budget and hide an exhausted machine that never retries).
		heal = append(heal, "slaveof addr="+masters[0])
	}
	if h.plant.SilentHeal {
		heal = append(heal, "peer slot=1 mode=silent")
	}
	for _, l := range heal {
		if _, err := h.Exec(l); err != nil {
			return b, err
		}
	}
	// A shard that probes recovers within a probe interval (plus the
	// scripted probe's answer time) of its peer answering.
	spent := time.Duration(0)
	if pi := h.Params.SlotConfig.ProbeInterval; pi > 0 {
		if _, err := h.Exec("info"); err != nil {
			return b, err
		}
		probing := map[slot.ID]bool{}
		for _, st := range h.lastInfo.Slots {
			if st.State == slot.Error && st.Probing {
				probing[st.ID] = true
			}
		}
		if len(probing) > 0 {
			spent = pi + probeAnswer
			for _, l := range []string{"advance " + spent.String(), "info"} {
				if _, err := h.Exec(l); err != nil {
					return b, err
				}
			}
			for _, st := range h.lastInfo.Slots {
				if probing[st.ID] && st.State == slot.Error {
					h.Checker.Violate(InvLiveness, "%s still in Error %s after its peer answers probes (every %s)", st.ID, spent, pi)
				}
			}
		}
	}
	if _, err := h.Exec("advance " + (b - spent).String()); err != nil {
		return b, err
	}
	if h.Params.SlotConfig.ExhaustedRetry == 0 || h.Params.Config.ExhaustedRetry == 0 {
		return b, nil // operator mode: nothing is bound to come back by itself
	}
	h.Checker.Live(h.Sim.Inst.Info(), b)
	// Every waiter still waiting returns now: its shard is synced (or
	// Detached, or gone).
	names := make([]string, 0, len(h.waiters))
	for n := range h.waiters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, err := h.Exec("wait-result name=" + n); err != nil {
			return b, err
		}
	}
	return b, nil
}

// Script renders the history as a scenario file: header comments, then
// each command with its output, as `replsm simulate --script` prints it.
func (h *Harness) Script(header ...string) string {
	return RenderScript(strings.Join(h.lines, "\n")+"\n", header...)
}

// RenderScript runs a plain script (one command a line) with the scripted
// peer and returns it as a scenario file, header lines as comments first.
func RenderScript(plain string, header ...string) string {
	var b strings.Builder
	for _, l := range header {
		for _, x := range strings.Split(strings.TrimSpace(l), "\n") {
			b.WriteString("# " + x + "\n")
		}
	}
	var out strings.Builder
	s, err := sim.Run(strings.NewReader(plain), &out, sim.DefaultParams())
	if s != nil {
		s.Close()
	}
	b.WriteString(out.String())
	if err != nil {
		fmt.Fprintf(&b, "# script error: %v\n", err)
	}
	return b.String()
}

var masters = []string{"10.0.0.1:9221", "10.0.0.2:9221"}

// infoState is a cheap read of the instance's and slots' states (no Settle).
func linkUp(in *replica.Instance) bool {
	if in.State() != replica.Connected {
		return false
	}
	for _, s := range in.Slots() {
		if st := s.State(); st != slot.Connected && st != slot.Detached {
			return false
		}
	}
	return true
}
