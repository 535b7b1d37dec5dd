package replsmtest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"pgregory.net/rapid"

	"github.com/replsm/replsm/sim"
	"github.com/replsm/replsm/slot"
)

// Options configure an exploration.
type Options struct {
	// Wrap puts the driver under test in front of the scripted peer (nil:
	// the scripted peer alone).
	Wrap func(peer Driver) Driver
	// Plant switches a deliberate bug on (tests of the explorer itself).
	Plant Plant
	// Followers adds primary-side followers and snapshots to the histories.
	Followers bool
	// Quiesce, if set, runs after every command and returns once the
	// driver under test has nothing in flight (a driver that works on its
	// own goroutines waits for them here); the harness then runs what they
	// made due.
	Quiesce func()
}

// Failure is a history that broke an invariant.
type Failure struct {
	Violations []Violation
	Script     string // the history as a scenario file
}

// Property is the explorer as a rapid property: one random history over
// the instance, its slots (either deployment shape), followers and
// snapshots, checked after every step, then healed and checked for
// liveness. A failure reports the violations and the history as a
// scenario script.
func Property(opts Options) func(*rapid.T) {
	return func(t *rapid.T) {
		shape := rapid.SampledFrom([]string{"shared", "own"}).Draw(t, "shape")
		atomic := rapid.Bool().Draw(t, "atomic")
		nslots := rapid.IntRange(1, 3).Draw(t, "slots")
		seed := rapid.IntRange(1, 1000).Draw(t, "seed")
		knobs := fmt.Sprintf("cap=%d stable=%s exhausted-retry=%s transfer=%s k=%d busy-poll=%s",
			rapid.IntRange(1, 3).Draw(t, "cap"), rapid.SampledFrom([]string{"5s", "20s"}).Draw(t, "stable"),
			rapid.SampledFrom([]string{"10s", "30s", "0s"}).Draw(t, "exhausted-retry"), rapid.SampledFrom([]string{"0s", "2s", "4s"}).Draw(t, "transfer"),
			rapid.IntRange(1, 3).Draw(t, "k"), rapid.SampledFrom([]string{"1s", "3s"}).Draw(t, "busy-poll"))
		args := fmt.Sprintf("slots=%d seed=%d endpoints=%s atomic-load=%t %s %s", nslots, seed, shape, atomic, exploreKnobs, knobs)
		h, err := NewHarness(args, exploreBase(), opts)
		if err != nil {
			t.Fatalf("harness: %v", err)
		}
		defer h.Close()
		g := &gen{h: h, own: shape == "own", followers: opts.Followers}
		exec := func(t *rapid.T, line string) {
			if _, err := h.Exec(line); err != nil {
				t.Fatalf("script error in %q: %v", line, err)
			}
		}
		// Start as a deployment does: follow a master.
		exec(t, "slaveof addr="+masters[0])
		actions := g.actions(exec)
		actions[""] = func(t *rapid.T) {
			if h.Checker.Failed() {
				fail(t, h)
			}
		}
		t.Repeat(actions)
		if _, err := h.Heal(); err != nil {
			t.Fatalf("heal: %v", err)
		}
		if h.Checker.Failed() {
			fail(t, h)
		}
	}
}

// fail stops the history. The message must be the same on every replay of
// the same draws (rapid compares them while shrinking), so it holds the
// violations and the commands, not their output (a waiter's answer may
// race); RunSeeds renders the output once the history is minimal.
func fail(t *rapid.T, h *Harness) {
	var b strings.Builder
	for _, v := range h.Checker.Violations() {
		b.WriteString(v.String() + "\n")
	}
	t.Fatalf("%s%s%s", b.String(), historyMark, strings.Join(h.Lines(), "\n"))
}

// historyMark starts the history in a failure message.
const historyMark = "# history:\n"

// exploreKnobs are the timings of explored histories: short, so a history
// of a few dozen steps crosses every timer, and a small bound B.
const exploreKnobs = "reply=2s transfer-idle=5s backoff-max=4s icap=2 iexhausted-retry=40s meta-timeout=3s"

func exploreBase() (p paramsT) { return defaultParams() }

// gen draws commands from the harness's current state.
type gen struct {
	h         *Harness
	own       bool
	followers bool
	nextWait  int
}

var (
	peerModes = []string{"ok", "ok", "purged", "fullresync", "silent", "refuse", "stall", "busy", "error", "break"}
	metaModes = []string{"ok", "ok", "silent", "refuse", "fatal"}
	advances  = []string{"10ms", "500ms", "1s", "2s", "3s", "5s", "10s", "30s", "2m", "10m"}
	replyEvs  = []string{"sync_ok", "need_full_sync", "db_sync_started", "db_sync_done", "db_sync_loaded", "busy", "fail"}
)

func (g *gen) ids() []slot.ID {
	var ids []slot.ID
	for _, s := range g.h.Sim.Inst.Slots() {
		ids = append(ids, s.ID())
	}
	return ids
}

func (g *gen) slotArg(t *rapid.T) slot.ID {
	ids := g.ids()
	if len(ids) == 0 {
		t.Skip("no slots")
	}
	return rapid.SampledFrom(ids).Draw(t, "slot")
}

// session draws a session for slot id: live, an old one, none, or one
// never issued.
func (g *gen) session(t *rapid.T, id slot.ID) string {
	var past []slot.Session
	if sl, err := g.h.Sim.Inst.Slot(id); err == nil {
		live := sl.Session()
		for _, s := range g.h.Checker.Past(id) {
			if s != live {
				past = append(past, s)
			}
		}
	}
	switch k := rapid.IntRange(0, 5).Draw(t, "sess"); {
	case k <= 2 || len(past) == 0 && k <= 4:
		return "live"
	case k <= 4:
		return strconv.FormatUint(uint64(rapid.SampledFrom(past).Draw(t, "old")), 10)
	default:
		return strconv.Itoa(rapid.SampledFrom([]int{0, 999}).Draw(t, "odd"))
	}
}

func (g *gen) actions(exec func(*rapid.T, string)) map[string]func(*rapid.T) {
	a := map[string]func(*rapid.T){}
	do := func(name string, weight int, line func(t *rapid.T) string) {
		for i := 0; i < weight; i++ {
			a[name+strconv.Itoa(i)] = func(t *rapid.T) { exec(t, line(t)) }
		}
	}
	do("advance", 6, func(t *rapid.T) string { return "advance " + rapid.SampledFrom(advances).Draw(t, "d") })
	do("peer", 4, func(t *rapid.T) string {
		target := "all"
		if rapid.IntRange(0, 2).Draw(t, "one") > 0 {
			target = g.slotArg(t).String()[len("slot/"):]
		}
		return "peer slot=" + target + " mode=" + rapid.SampledFrom(peerModes).Draw(t, "mode")
	})
	do("meta", 1, func(t *rapid.T) string { return "meta mode=" + rapid.SampledFrom(metaModes).Draw(t, "meta") })
	do("reply", 3, func(t *rapid.T) string {
		id := g.slotArg(t)
		return fmt.Sprintf("reply slot=%d event=%s session=%s", id, rapid.SampledFrom(replyEvs).Draw(t, "ev"), g.session(t, id))
	})
	do("fail", 1, func(t *rapid.T) string {
		id := g.slotArg(t)
		return fmt.Sprintf("fail slot=%d session=%s", id, g.session(t, id))
	})
	do("data", 1, func(t *rapid.T) string {
		id := g.slotArg(t)
		return fmt.Sprintf("data slot=%d session=%s", id, g.session(t, id))
	})
	do("probe", 1, func(t *rapid.T) string {
		return fmt.Sprintf("probe-result slot=%d probe=%d ok=%t", g.slotArg(t), rapid.IntRange(1, 30).Draw(t, "probe"), rapid.Bool().Draw(t, "ok"))
	})
	do("operator", 2, func(t *rapid.T) string {
		return fmt.Sprintf("%s slot=%d", rapid.SampledFrom([]string{"detach", "resume", "reset"}).Draw(t, "op"), g.slotArg(t))
	})
	do("repoint", 1, func(t *rapid.T) string {
		id := g.slotArg(t)
		return fmt.Sprintf("repoint slot=%d endpoint=10.0.%d.%d:6379", id, rapid.IntRange(1, 3).Draw(t, "net"), id)
	})
	do("instance", 2, func(t *rapid.T) string {
		switch rapid.IntRange(0, 5).Draw(t, "iop") {
		case 0:
			return "slaveof addr=" + rapid.SampledFrom(masters).Draw(t, "master")
		case 1:
			return "remove-master"
		case 2:
			return "reset-instance"
		case 3:
			return "fatal"
		default:
			return "link-lost"
		}
	})
	do("slots", 1, func(t *rapid.T) string {
		id := rapid.IntRange(1, 4).Draw(t, "id")
		if _, err := g.h.Sim.Inst.Slot(slot.ID(id)); err == nil {
			return fmt.Sprintf("remove-slot id=%d", id)
		}
		if g.own {
			return fmt.Sprintf("add-slot id=%d endpoint=10.0.1.%d:6379", id, id)
		}
		return fmt.Sprintf("add-slot id=%d", id)
	})
	do("wait", 2, func(t *rapid.T) string {
		names := make([]string, 0, len(g.h.waiters))
		for n := range g.h.waiters {
			names = append(names, n)
		}
		sort.Strings(names)
		if len(names) > 0 && rapid.Bool().Draw(t, "end") {
			n := rapid.SampledFrom(names).Draw(t, "name")
			target := g.h.waiters[n]
			if g.ready(target) && rapid.Bool().Draw(t, "collect") {
				return "wait-result name=" + n
			}
			return "wait-expire name=" + n
		}
		if len(names) >= 3 {
			t.Skip("enough waiters")
		}
		g.nextWait++
		target := "all"
		if rapid.Bool().Draw(t, "one") {
			target = strconv.Itoa(int(g.slotArg(t)))
		}
		return fmt.Sprintf("wait-start name=w%d slot=%s", g.nextWait, target)
	})
	do("info", 1, func(*rapid.T) string { return "info" })
	if g.followers {
		do("follower", 2, func(t *rapid.T) string {
			id := rapid.SampledFrom([]string{"f1", "f2"}).Draw(t, "fid")
			f, ok := g.h.Sim.Followers.Get(id)
			if !ok || rapid.IntRange(0, 5).Draw(t, "readd") == 0 {
				return "follower-add id=" + id
			}
			switch rapid.IntRange(0, 4).Draw(t, "fop") {
			case 0:
				return "follower id=" + id + " event=" + rapid.SampledFrom([]string{"full_sync_requested", "continue", "closed"}).Draw(t, "fev")
			case 1:
				return "follower-progress id=" + id
			case 2:
				return fmt.Sprintf("follower-ack id=%s offset=%d session=%d", id, rapid.IntRange(0, 100).Draw(t, "off"), uint64(f.Session())-uint64(rapid.IntRange(0, 1).Draw(t, "fold")))
			case 3:
				return fmt.Sprintf("follower-ack id=%s offset=%d", id, rapid.IntRange(0, 100).Draw(t, "off"))
			default:
				return "followers"
			}
		})
		do("snapshot", 1, func(t *rapid.T) string {
			if rapid.IntRange(0, 9).Draw(t, "snap") != 0 {
				t.Skip("snapshots are rare: they take real time")
			}
			return fmt.Sprintf("snapshot shard=1 requests=%d", rapid.IntRange(1, 3).Draw(t, "k"))
		})
	}
	return a
}

// ready reports whether a waiter on target returns now, whatever the
// goroutine saw before: the target is synced.
func (g *gen) ready(target string) bool {
	in := g.h.Sim.Inst
	if target == "all" {
		return linkUp(in)
	}
	n, _ := strconv.Atoi(target)
	s, err := in.Slot(slot.ID(n))
	return err == nil && s.State() == slot.Connected
}

type paramsT = sim.Params

func defaultParams() sim.Params { return sim.DefaultParams() }
