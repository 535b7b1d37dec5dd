package sim

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/cockroachdb/datadriven"

	"github.com/replsm/replsm/follower"
	"github.com/replsm/replsm/fsm"
	"github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/slot"
)

// Sim is one scenario in progress. It is driven from one goroutine.
type Sim struct {
	Clock *Clock
	// wall bounds real waits for goroutines the scenario starts (waiters).
	wall clock.Clock
	Inst *replica.Instance
	// Followers and Snapshots are the primary side, for scenarios about it.
	Followers *follower.Set
	Snapshots *follower.Snapshots[slot.ID, int]

	epoch       time.Time
	transfer    time.Duration
	waitLimit   time.Duration
	defaultPeer PeerMode
	peers       map[slot.ID]PeerMode
	meta        MetaMode
	pending     []action
	actionSeq   int
	waiters     map[string]*waiter

	mu  sync.Mutex // guards out: observers may run on waiter goroutines
	out strings.Builder
}

// Params are the knobs of `new`.
type Params struct {
	Slots      int
	Seed       uint64
	Transfer   time.Duration // how long the scripted peer takes to send a snapshot
	SlotConfig slot.Config
	Config     replica.Config
	Logger     *slog.Logger
	// OwnEndpoints gives every slot its own primary (the sharded shape:
	// slot N follows 10.0.1.N:6379) instead of the instance's master.
	OwnEndpoints bool

	// Hooks for test harnesses (replsmtest, the explorer); zero: none.
	// The observers see every record after the sim's own log has it.
	SlotObservers     []slot.Observer
	InstanceObservers []func(replica.Record)
	FollowerObservers []func(follower.Record)
	// WrapDriver puts a driver between the machines and the scripted peer
	// (an embedder's driver under test, or a spy); it gets the peer.
	WrapDriver func(peer Driver) Driver
	// WaitLimit bounds the real time wait-result and wait-expire wait for a
	// WaitSynced call (5 s when zero).
	WaitLimit time.Duration
}

// Driver is what the machines call: the scripted peer implements it, and
// Params.WrapDriver may put another in front of it.
type Driver interface {
	slot.Driver
	slot.Prober
	replica.Driver
}

// DefaultParams: 3 slots, seed 1, the default configs, 2 s transfers. The
// instance idle timeout is off: the scripted master sends no heartbeats.
func DefaultParams() Params {
	cfg := replica.DefaultConfig()
	cfg.IdleTimeout = 0
	return Params{Slots: 3, Seed: 1, Transfer: 2 * time.Second, SlotConfig: slot.DefaultConfig(), Config: cfg}
}

// New builds a scenario: an instance with p.Slots slots (ids 1..n) on a mock
// clock, the peer answering ok to everything.
func New(p Params) (*Sim, error) {
	if p.Slots < 0 || p.Transfer < 0 {
		return nil, fmt.Errorf("sim: slots and transfer must be >= 0")
	}
	s := &Sim{
		Clock: NewClock(), wall: clock.New(), transfer: p.Transfer, defaultPeer: PeerOK, meta: MetaOK,
		peers: map[slot.ID]PeerMode{}, waiters: map[string]*waiter{},
	}
	s.epoch = s.Clock.Now()
	s.waitLimit = p.WaitLimit
	if s.waitLimit <= 0 {
		s.waitLimit = 5 * time.Second
	}
	var drv Driver = driver{s}
	if p.WrapDriver != nil {
		drv = p.WrapDriver(drv)
	}
	slotObs := append([]slot.Observer{func(r slot.Record) { s.logf("%s", r) }}, p.SlotObservers...)
	instObs := append([]func(replica.Record){func(r replica.Record) { s.logf("%s", r) }}, p.InstanceObservers...)
	inst, err := replica.New(replica.Options{
		Slot: slot.Options{
			Clock: s.Clock, Driver: drv, Logger: p.Logger, Seed: p.Seed,
			Observers: slotObs,
		},
		Driver:     drv,
		Config:     p.Config,
		SlotConfig: p.SlotConfig,
		Observers:  instObs,
	})
	if err != nil {
		return nil, err
	}
	s.Inst = inst
	for i := 1; i <= p.Slots; i++ {
		ep := ""
		if p.OwnEndpoints {
			ep = fmt.Sprintf("10.0.1.%d:6379", i)
		}
		if _, err := inst.AddSlot(slot.ID(i), ep); err != nil {
			return nil, err
		}
	}
	s.Followers, err = follower.NewSet(follower.Options{
		Runtime: inst.Runtime().Host(), Driver: followerDriver{s},
		Config:    follower.Config{SyncTimeout: 30 * time.Second, AckTimeout: 20 * time.Second},
		Observers: append([]func(follower.Record){func(r follower.Record) { s.logf("%s", r) }}, p.FollowerObservers...),
	})
	if err != nil {
		return nil, err
	}
	s.Snapshots = &follower.Snapshots[slot.ID, int]{}
	return s, nil
}

func (s *Sim) logf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(&s.out, "[%s] ", stamp(s.Clock.Now().Sub(s.epoch)))
	fmt.Fprintf(&s.out, format, args...)
	s.out.WriteByte('\n')
}

// stamp is a fixed-width time offset: "  12.000s".
func stamp(d time.Duration) string {
	return fmt.Sprintf("%8.3fs", d.Seconds())
}

// Take returns and clears what was logged since the last Take.
func (s *Sim) Take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.out.String()
	s.out.Reset()
	return out
}

// Advance moves the clock by d, stopping at every due deadline and peer
// reply on the way so each fires at its own time.
func (s *Sim) Advance(d time.Duration) {
	end := s.Clock.Now().Add(d)
	for {
		s.settle()
		next, ok := s.next()
		if !ok || next.After(end) {
			break
		}
		s.Clock.Set(next)
	}
	s.Clock.Set(end)
	s.settle()
}

// settle runs everything due now until nothing is.
func (s *Sim) settle() {
	for {
		n := s.Inst.Runtime().RunDue() + s.runPeer()
		if n == 0 {
			return
		}
	}
}

func (s *Sim) runPeer() int {
	now := s.Clock.Now()
	sort.SliceStable(s.pending, func(i, j int) bool {
		if !s.pending[i].at.Equal(s.pending[j].at) {
			return s.pending[i].at.Before(s.pending[j].at)
		}
		return s.pending[i].seq < s.pending[j].seq
	})
	n := 0
	for len(s.pending) > 0 && !s.pending[0].at.After(now) {
		a := s.pending[0]
		s.pending = s.pending[1:]
		a.run()
		n++
	}
	return n
}

func (s *Sim) next() (time.Time, bool) {
	var best time.Time
	found := false
	consider := func(t time.Time, ok bool) {
		if ok && (!found || t.Before(best)) {
			best, found = t, true
		}
	}
	consider(s.Inst.Runtime().Next())
	for _, a := range s.pending {
		consider(a.at, true)
	}
	return best, found
}

// waiter is a WaitSynced call running on its own goroutine.
type waiter struct {
	cancel func()
	done   chan error
}

// stopWaiters cancels and joins every waiter (goroutines we start, we stop).
func (s *Sim) stopWaiters() {
	for name, w := range s.waiters {
		w.cancel()
		<-w.done
		delete(s.waiters, name)
	}
}

// Close stops everything the scenario started.
func (s *Sim) Close() { s.stopWaiters() }

// expiring is a context whose deadline the script decides: Expire makes it
// done with context.DeadlineExceeded, as a real timeout would.
type expiring struct {
	context.Context
	once sync.Once
	ch   chan struct{}
}

func newExpiring() *expiring {
	return &expiring{Context: context.Background(), ch: make(chan struct{})}
}

func (e *expiring) Done() <-chan struct{} { return e.ch }

func (e *expiring) Err() error {
	select {
	case <-e.ch:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

func (e *expiring) Expire() { e.once.Do(func() { close(e.ch) }) }

func parseSlot(v string) (slot.ID, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: bad slot id %q", ErrBadCommand, v)
	}
	return slot.ID(n), nil
}

// Run executes a script and writes it back with each command's output, in
// the datadriven format of testdata/scenarios: comments and blank lines as
// they are, then for each command the command, "----" and its output. A
// scenario file therefore replays to itself byte for byte, and the output
// of any script can be dropped into testdata/scenarios as a regression. A
// script may also be plain commands, one per line. Run stops at the first
// script error (unknown command, malformed argument: ErrBadCommand) and
// returns it; what the machines refuse (a stale session, an event not
// allowed) is output, part of the scenario. It returns the last simulation,
// for a final look (Overlay, Info); the caller closes it.
func Run(script io.Reader, w io.Writer, p Params) (*Sim, error) {
	data, err := io.ReadAll(script)
	if err != nil {
		return nil, err
	}
	var s *Sim
	fail := func(err error) (*Sim, error) {
		if s != nil {
			s.Close()
		}
		return nil, err
	}
	lines := strings.Split(string(data), "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1] // the file's final newline
	}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			fmt.Fprintln(w, line)
			continue
		}
		lineNo := i + 1
		// Skip the expected output of a scenario file: it is regenerated.
		blankAfter := true
		if i+1 < len(lines) && lines[i+1] == "----" {
			i += 2
			for i < len(lines) && lines[i] != "" {
				i++
			}
			blankAfter = i < len(lines)
		}
		cmd, args, err := ParseScriptLine(trimmed)
		if err != nil {
			return fail(fmt.Errorf("line %d: %w", lineNo, err))
		}
		var out string
		if cmd == "new" {
			np, err := ApplyParams(p, args)
			if err != nil {
				return fail(fmt.Errorf("line %d: %w", lineNo, err))
			}
			if s != nil {
				s.Close()
			}
			if s, err = New(np); err != nil {
				return nil, fmt.Errorf("line %d: %w", lineNo, err)
			}
			out = "ok\n"
		} else {
			if s == nil {
				if s, err = New(p); err != nil {
					return nil, err
				}
			}
			var scriptErr error
			out, scriptErr = s.ExecScript(cmd, args)
			if scriptErr != nil {
				fmt.Fprintf(w, "%s\n----\n%s", line, out)
				return fail(fmt.Errorf("line %d: %w", lineNo, scriptErr))
			}
		}
		fmt.Fprintf(w, "%s\n----\n%s", line, out)
		if blankAfter {
			fmt.Fprintln(w)
		}
	}
	if s == nil {
		if s, err = New(p); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ParseScriptLine parses one command line with datadriven's own parser:
// `cmd key=val key=(a b) word`.
func ParseScriptLine(line string) (string, []Arg, error) {
	cmd, cargs, err := datadriven.ParseLine(line)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrBadCommand, err)
	}
	return cmd, ToArgs(cargs), nil
}

// ToArgs converts datadriven's arguments: key=val, key=(a b) joined by
// commas, or a bare word.
func ToArgs(cargs []datadriven.CmdArg) []Arg {
	args := make([]Arg, 0, len(cargs))
	for _, ca := range cargs {
		if len(ca.Vals) == 0 {
			args = append(args, Arg{Key: ca.Key})
		} else {
			args = append(args, Arg{Key: ca.Key, Val: strings.Join(ca.Vals, ","), HasVal: true})
		}
	}
	return args
}

// Overlay counts the slots per state, as paths into the composite chart
// (the slot machine nested in the instance's Connected state), with the
// instance's state as the current one.
func (s *Sim) Overlay() fsm.Overlay {
	info := s.Inst.Info()
	o := fsm.Overlay{Current: string(info.State), Counts: map[string]int{}}
	for _, st := range info.Slots {
		o.Counts[string(replica.Connected)+fsm.PathSep+string(st.State)]++
	}
	return o
}
