package sim

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/replsm/replsm/follower"
	"github.com/replsm/replsm/slot"
)

// Arg is one argument of a command: key=val, or a bare word.
type Arg struct {
	Key    string
	Val    string
	HasVal bool
}

// ErrBadCommand is returned (in the output, as "error: ...") for an unknown
// command or a missing or malformed argument.
var ErrBadCommand = errors.New("sim: bad command")

type argMap map[string]string

func toMap(args []Arg) (argMap, []string) {
	m := argMap{}
	var pos []string
	for _, a := range args {
		if a.HasVal {
			m[a.Key] = a.Val
		} else {
			pos = append(pos, a.Key)
		}
	}
	return m, pos
}

func (m argMap) need(k string) (string, error) {
	v, ok := m[k]
	if !ok || v == "" {
		return "", fmt.Errorf("%w: missing %s=", ErrBadCommand, k)
	}
	return v, nil
}

func (m argMap) or(k, def string) string {
	if v, ok := m[k]; ok {
		return v
	}
	return def
}

func (m argMap) duration(k string, into *time.Duration) error {
	v, ok := m[k]
	if !ok {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%w: %s=%q: %v", ErrBadCommand, k, v, err)
	}
	*into = d
	return nil
}

func (m argMap) integer(k string, into *int) error {
	v, ok := m[k]
	if !ok {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("%w: %s=%q is not a number", ErrBadCommand, k, v)
	}
	*into = n
	return nil
}

// ApplyParams reads the arguments of `new` over p: slots, seed, cap, k,
// reply, transfer-idle, keepalive, stable, icap, meta-timeout, idle,
// transfer, backoff (initial), backoff-max, exhausted-retry,
// iexhausted-retry, probe, busy-poll, endpoints (shared or own),
// atomic-load (true or false). See docs/simulate.md.
func ApplyParams(p Params, args []Arg) (Params, error) {
	m, pos := toMap(args)
	if len(pos) > 0 {
		return p, fmt.Errorf("%w: new: unexpected %q", ErrBadCommand, pos[0])
	}
	seed := int(p.Seed)
	switch v := m.or("endpoints", "shared"); v {
	case "shared":
		p.OwnEndpoints = false
	case "own":
		p.OwnEndpoints = true
	default:
		return p, fmt.Errorf("%w: new: endpoints=%q (want shared or own)", ErrBadCommand, v)
	}
	switch v := m.or("atomic-load", "false"); v {
	case "true", "false":
		p.SlotConfig.AtomicLoad = v == "true"
	default:
		return p, fmt.Errorf("%w: new: atomic-load=%q (want true or false)", ErrBadCommand, v)
	}
	errs := []error{
		m.integer("slots", &p.Slots),
		m.integer("seed", &seed),
		m.integer("cap", &p.SlotConfig.RecoveryCap),
		m.integer("k", &p.SlotConfig.FullSyncAfter),
		m.integer("icap", &p.Config.RecoveryCap),
		m.duration("reply", &p.SlotConfig.ReplyTimeout),
		m.duration("transfer-idle", &p.SlotConfig.TransferIdleTimeout),
		m.duration("keepalive", &p.SlotConfig.KeepaliveTimeout),
		m.duration("stable", &p.SlotConfig.StablePeriod),
		m.duration("meta-timeout", &p.Config.MetaTimeout),
		m.duration("idle", &p.Config.IdleTimeout),
		m.duration("transfer", &p.Transfer),
		m.duration("backoff", &p.SlotConfig.Backoff.Initial),
		m.duration("backoff-max", &p.SlotConfig.Backoff.Max),
		m.duration("exhausted-retry", &p.SlotConfig.ExhaustedRetry),
		m.duration("iexhausted-retry", &p.Config.ExhaustedRetry),
		m.duration("probe", &p.SlotConfig.ProbeInterval),
		m.duration("busy-poll", &p.SlotConfig.BusyPoll),
	}
	for k := range m {
		switch k {
		case "slots", "seed", "cap", "k", "icap", "reply", "transfer-idle", "keepalive", "stable", "meta-timeout", "idle", "transfer", "backoff", "backoff-max",
			"exhausted-retry", "iexhausted-retry", "probe", "busy-poll", "endpoints", "atomic-load":
		default:
			errs = append(errs, fmt.Errorf("%w: new: unknown argument %q", ErrBadCommand, k))
		}
	}
	p.Seed = uint64(seed)
	return p, errors.Join(errs...)
}

// Exec runs one command and returns its output: the records and effects it
// caused, then anything the command prints. Errors are part of the output,
// as "error: ...", and change nothing.
func (s *Sim) Exec(cmd string, args []Arg) string {
	out, _ := s.ExecScript(cmd, args)
	return out
}

// ExecScript is Exec that also returns a script error (ErrBadCommand:
// unknown command, malformed argument) apart from what the machines
// refused, which is only output.
func (s *Sim) ExecScript(cmd string, args []Arg) (string, error) {
	extra, err := s.exec(cmd, args)
	out := s.Take() + extra
	if err != nil {
		out += "error: " + err.Error() + "\n"
		if errors.Is(err, ErrBadCommand) {
			return out, err
		}
	}
	return out, nil
}

func (s *Sim) exec(cmd string, args []Arg) (string, error) {
	m, pos := toMap(args)
	slotArg := func() (*slot.Slot, error) {
		v, err := m.need("slot")
		if err != nil {
			return nil, err
		}
		id, err := parseSlot(v)
		if err != nil {
			return nil, err
		}
		return s.Inst.Slot(id)
	}
	reason := m.or("reason", "")
	switch cmd {
	case "meta":
		mode := MetaMode(m.or("mode", ""))
		if !metaModes[mode] {
			return "", fmt.Errorf("%w: meta mode=%q (want ok, silent, refuse or fatal)", ErrBadCommand, mode)
		}
		s.meta = mode
	case "peer":
		target, err := m.need("slot")
		if err != nil {
			return "", err
		}
		if err := s.setPeer(target, PeerMode(m.or("mode", ""))); err != nil {
			return "", err
		}
	case "slaveof":
		_, err := s.Inst.SlaveOf(m.or("addr", ""))
		s.settle()
		return "", err
	case "remove-master":
		_, err := s.Inst.RemoveMaster()
		s.settle()
		return "", err
	case "reset-instance":
		_, err := s.Inst.Reset(or(reason, "operator reset"))
		s.settle()
		return "", err
	case "fatal":
		err := s.Inst.Fatal(s.Inst.Session(), or(reason, "fatal mismatch"))
		s.settle()
		return "", err
	case "link-lost":
		err := s.Inst.LinkLost(s.Inst.Session(), or(reason, "connection closed"))
		s.settle()
		return "", err
	case "advance":
		if len(pos) != 1 {
			return "", fmt.Errorf("%w: advance <duration>", ErrBadCommand)
		}
		d, err := time.ParseDuration(pos[0])
		if err != nil || d < 0 {
			return "", fmt.Errorf("%w: advance %q", ErrBadCommand, pos[0])
		}
		s.Advance(d)
	case "reply", "fail", "data":
		sl, err := slotArg()
		if err != nil {
			return "", err
		}
		sess := sl.Session()
		if v, ok := m["session"]; ok && v != "live" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return "", fmt.Errorf("%w: session=%q", ErrBadCommand, v)
			}
			sess = slot.Session(n)
		}
		switch cmd {
		case "data":
			err = sl.Data(sess)
		case "fail":
			_, err = sl.Deliver(sess, slot.EvFail, or(reason, "failed"))
		default:
			_, err = sl.Deliver(sess, slot.Event(m.or("event", "")), reason)
		}
		s.settle()
		return "", err
	case "detach", "resume", "reset":
		sl, err := slotArg()
		if err != nil {
			return "", err
		}
		switch cmd {
		case "detach":
			_, err = sl.Detach(or(reason, "operator detach"))
		case "resume":
			_, err = sl.Resume(or(reason, "operator resume"))
		default:
			_, err = sl.Reset(or(reason, "operator reset"))
		}
		s.settle()
		return "", err
	case "repoint":
		sl, err := slotArg()
		if err != nil {
			return "", err
		}
		_, err = sl.SetEndpoint(m.or("endpoint", ""), or(reason, "operator re-point"))
		s.settle()
		return "", err
	case "probe-result":
		sl, err := slotArg()
		if err != nil {
			return "", err
		}
		n, perr := strconv.ParseUint(m.or("probe", ""), 10, 64)
		if perr != nil {
			return "", fmt.Errorf("%w: probe-result probe=%q", ErrBadCommand, m.or("probe", ""))
		}
		var res error
		if m.or("ok", "true") != "true" {
			res = errRefused
		}
		err = sl.ProbeResult(slot.Session(n), res)
		s.settle()
		return "", err
	case "add-slot", "remove-slot":
		v, err := m.need("id")
		if err != nil {
			return "", err
		}
		id, err := parseSlot(v)
		if err != nil {
			return "", err
		}
		if cmd == "add-slot" {
			_, err = s.Inst.AddSlot(id, m.or("endpoint", ""))
		} else {
			err = s.Inst.RemoveSlot(id)
		}
		s.settle()
		return "", err
	case "info":
		return statusText(s.Inst.Info()), nil
	case "wait-start", "wait-expire", "wait-result":
		return s.waitCmd(cmd, m)
	case "follower-add", "follower", "follower-ack", "follower-progress", "followers":
		return s.followerCmd(cmd, m)
	case "snapshot":
		return s.snapshotCmd(m)
	default:
		return "", fmt.Errorf("%w: unknown command %q", ErrBadCommand, cmd)
	}
	return "", nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// waitCmd starts a WaitSynced on its own goroutine (wait-start name= slot=N
// or slot=all), expires its deadline (wait-expire), or collects its result
// (wait-result), blocking up to a real-time safety limit.
func (s *Sim) waitCmd(cmd string, m argMap) (string, error) {
	name, err := m.need("name")
	if err != nil {
		return "", err
	}
	if cmd == "wait-start" {
		if _, dup := s.waiters[name]; dup {
			return "", fmt.Errorf("%w: waiter %q exists", ErrBadCommand, name)
		}
		target, err := m.need("slot")
		if err != nil {
			return "", err
		}
		wait := s.Inst.WaitSynced
		if target != "all" {
			id, err := parseSlot(target)
			if err != nil {
				return "", err
			}
			sl, err := s.Inst.Slot(id)
			if err != nil {
				return "", err
			}
			wait = sl.WaitSynced
		}
		ctx := newExpiring()
		w := &waiter{cancel: ctx.Expire, done: make(chan error, 1)}
		s.waiters[name] = w
		go func() { w.done <- wait(ctx) }()
		return "", nil
	}
	w, ok := s.waiters[name]
	if !ok {
		return "", fmt.Errorf("%w: no waiter %q", ErrBadCommand, name)
	}
	if cmd == "wait-expire" {
		w.cancel()
	}
	select {
	case err := <-w.done:
		delete(s.waiters, name)
		if err != nil {
			return fmt.Sprintf("%s: %v\n", name, err), nil
		}
		return fmt.Sprintf("%s: synced\n", name), nil
	case <-s.wall.After(s.waitLimit):
		return fmt.Sprintf("%s: still waiting\n", name), nil
	}
}

func (s *Sim) followerCmd(cmd string, m argMap) (string, error) {
	if cmd == "followers" {
		var b strings.Builder
		for _, f := range s.Followers.List() {
			fmt.Fprintf(&b, "follower/%s: state=%s session=%d offset=%d stale=%d\n", f.ID, f.State, f.Session, f.Offset, f.Stale)
		}
		return b.String(), nil
	}
	id, err := m.need("id")
	if err != nil {
		return "", err
	}
	if cmd == "follower-add" {
		f := s.Followers.Add(id)
		return fmt.Sprintf("follower/%s session=%d\n", id, f.Session()), nil
	}
	f, ok := s.Followers.Get(id)
	if !ok {
		return "", fmt.Errorf("%w: no follower %q", ErrBadCommand, id)
	}
	switch cmd {
	case "follower-progress":
		f.Progress()
	case "follower-ack":
		sess := f.Session()
		if v, ok := m["session"]; ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return "", fmt.Errorf("%w: session=%q", ErrBadCommand, v)
			}
			sess = slot.Session(n)
		}
		off, _ := strconv.ParseInt(m.or("offset", "0"), 10, 64)
		err = f.Ack(sess, off)
	default:
		switch ev := follower.Event(m.or("event", "")); ev {
		case follower.EvFullSyncRequested:
			err = f.FullSyncRequested(m.or("reason", ""))
		case follower.EvContinue:
			err = f.Continue(m.or("reason", ""))
		case follower.EvClosed:
			err = f.Close(m.or("reason", ""))
		default:
			err = fmt.Errorf("%w: follower event=%q (want full_sync_requested, continue or closed)", ErrBadCommand, ev)
		}
	}
	s.settle()
	return "", err
}

// snapshotCmd sends `requests` concurrent full-sync requests for one shard
// through the Snapshots coordinator; the snapshot is released only once all
// of them have arrived, so they must share it.
func (s *Sim) snapshotCmd(m argMap) (string, error) {
	n := 0
	if err := m.integer("requests", &n); err != nil || n < 1 {
		return "", fmt.Errorf("%w: snapshot requests=N (N >= 1)", ErrBadCommand)
	}
	id, err := parseSlot(m.or("shard", "1"))
	if err != nil {
		return "", err
	}
	release := make(chan struct{})
	built := 0
	build := func(context.Context) (int, error) {
		<-release
		built++
		return 1000 + built, nil
	}
	type result struct {
		val    int
		shared bool
		err    error
	}
	results := make(chan result, n)
	startedBefore, joinedBefore := s.Snapshots.Counts()
	for i := 0; i < n; i++ {
		go func() {
			v, shared, err := s.Snapshots.Acquire(context.Background(), id, build)
			results <- result{v, shared, err}
		}()
	}
	deadline := s.wall.Now().Add(5 * time.Second)
	for {
		st, jn := s.Snapshots.Counts()
		if int(st-startedBefore+jn-joinedBefore) == n || s.wall.Now().After(deadline) {
			break
		}
		s.wall.Sleep(time.Millisecond) // polling a condition, bounded by deadline
	}
	close(release)
	shared, vals := 0, map[int]int{}
	for i := 0; i < n; i++ {
		r := <-results
		if r.err != nil {
			return "", r.err
		}
		vals[r.val]++
		if r.shared {
			shared++
		}
	}
	st, jn := s.Snapshots.Counts()
	return fmt.Sprintf("requests=%d snapshots_built=%d started=%d joined=%d distinct_results=%d\n",
		n, built, st-startedBefore, jn-joinedBefore, len(vals)), nil
}
