package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/slot"
	"github.com/replsm/replsm/timeouts"
)

// Target is what a Follower changes: the replica that follows the
// cluster. Its methods are called from the Follower's goroutine, one at a
// time.
type Target interface {
	// AddShard follows the master at addr as a new shard id.
	AddShard(id slot.ID, addr, reason string) error
	// RepointShard makes shard id follow addr, keeping its cursor.
	RepointShard(id slot.ID, addr, reason string) error
	// RemoveShard detaches and forgets shard id.
	RemoveShard(id slot.ID, reason string) error
	// SetRoutes installs the slot → shard table for reads.
	SetRoutes(rt *Routes)
}

// Config configures a Follower.
type Config struct {
	// Seeds are "host:port" of cluster nodes asked for the first map, and
	// later whenever no master of the last good map answers.
	Seeds []string
	// Interval between refreshes of a good map; 0 means 5 s.
	Interval time.Duration
	// QueryTimeout bounds one node's answer; 0 means 2 s.
	QueryTimeout time.Duration
	// Backoff paces retries of a failed discovery; the zero value means
	// 200 ms growing ×1.6 up to 10 s, ±20 %.
	Backoff timeouts.Backoff
	// Logger gets every topology change and discovery failure.
	Logger *slog.Logger
	// Discover replaces the network discovery (tests); nil means Discover.
	Discover func(ctx context.Context, seeds []string) (Map, error)
	// Seed seeds the jitter; 0 draws one.
	Seed uint64
}

// Status is what a Follower reports.
type Status struct {
	Map       Map
	Followed  []RouteShard
	Refreshes uint64 // discoveries that succeeded
	Failures  uint64 // discoveries that failed
	LastError error  // of the last discovery; nil after a success
	Changes   []Change
}

// Follower keeps a replica following a cluster's map (see the package doc).
type Follower struct {
	cfg   Config
	clk   clock.Clock
	log   *slog.Logger
	rnd   *rand.Rand
	nudge chan struct{}

	mu       sync.Mutex
	followed []RouteShard
	m        Map
	nextID   slot.ID
	st       Status
}

// maxChangesKept bounds the changes a Status keeps.
const maxChangesKept = 64

// NewFollower checks cfg; nothing is asked until Bootstrap.
func NewFollower(cfg Config, clk clock.Clock) (*Follower, error) {
	if len(cfg.Seeds) == 0 {
		return nil, fmt.Errorf("%w: no seed nodes", ErrInvalidConfig)
	}
	if clk == nil {
		return nil, fmt.Errorf("%w: nil clock", ErrInvalidConfig)
	}
	if cfg.Interval < 0 || cfg.QueryTimeout < 0 {
		return nil, fmt.Errorf("%w: negative Interval or QueryTimeout", ErrInvalidConfig)
	}
	if cfg.Interval == 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.QueryTimeout == 0 {
		cfg.QueryTimeout = 2 * time.Second
	}
	if cfg.Backoff == (timeouts.Backoff{}) {
		cfg.Backoff = timeouts.Backoff{Initial: 200 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, Max: 10 * time.Second}
	}
	if err := cfg.Backoff.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	if cfg.Discover == nil {
		to := cfg.QueryTimeout
		cfg.Discover = func(ctx context.Context, seeds []string) (Map, error) { return Discover(ctx, seeds, to) }
	}
	return &Follower{cfg: cfg, clk: clk, log: cfg.Logger, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		nudge: make(chan struct{}, 1)}, nil
}

// Bootstrap discovers the first map, retrying with backoff until it gets
// a valid one or ctx ends, and returns the shards to follow: id → master.
func (f *Follower) Bootstrap(ctx context.Context) (map[slot.ID]string, error) {
	for attempt := 0; ; attempt++ {
		m, err := f.discover(ctx)
		if err == nil {
			f.mu.Lock()
			next, changes := plan(nil, m, 0)
			f.followed, f.m, f.nextID = next, m, slot.ID(len(next))
			f.noteLocked(changes)
			f.mu.Unlock()
			out := map[slot.ID]string{}
			for _, c := range changes {
				out[c.ID] = c.To
				f.log.Info("cluster topology", slog.String("change", string(c.Kind)), slog.String("shard", c.ID.String()),
					slog.String("master", c.To), slog.String("reason", "initial map: "+c.Reason))
			}
			return out, nil
		}
		if err := f.wait(ctx, f.cfg.Backoff.Delay(attempt, f.rnd), nil); err != nil {
			return nil, fmt.Errorf("cluster discovery: %w (last: %v)", err, f.Status().LastError)
		}
	}
}

// Routes is the slot table of the map followed now.
func (f *Follower) Routes() *Routes {
	f.mu.Lock()
	defer f.mu.Unlock()
	return NewRoutes(f.followed)
}

// Nudge asks for a refresh soon (a shard's link failed: maybe a failover).
func (f *Follower) Nudge() {
	select {
	case f.nudge <- struct{}{}:
	default:
	}
}

// Run installs the routes on t and keeps the map current until ctx ends:
// a refresh every Interval, or at once on Nudge; a failed one is retried
// with backoff.
func (f *Follower) Run(ctx context.Context, t Target) {
	t.SetRoutes(f.Routes())
	attempt := 0
	for {
		d := f.cfg.Interval
		if attempt > 0 {
			d = f.cfg.Backoff.Delay(attempt-1, f.rnd)
		}
		if f.wait(ctx, d, f.nudge) != nil {
			return
		}
		if err := f.Refresh(ctx, t); err != nil {
			attempt++
			continue
		}
		attempt = 0
	}
}

// wait waits d on the clock, or until nudge (if not nil) or ctx ends.
func (f *Follower) wait(ctx context.Context, d time.Duration, nudge <-chan struct{}) error {
	tm := f.clk.Timer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
	case <-nudge:
	}
	return nil
}

// discover asks the masters of the last good map, and the configured seeds
// when none of those answers (or before the first map), and counts the
// outcome. Masters first: redis-cli's SETSLOT NODE reaches every master
// directly while replicas learn it by gossip, so masters agree on a map
// between two slot moves of a resharding and replicas mostly do not.
func (f *Follower) discover(ctx context.Context) (Map, error) {
	f.mu.Lock()
	var masters []string
	for _, s := range f.followed {
		masters = append(masters, s.Master)
	}
	seeds := slices.Clone(f.cfg.Seeds)
	f.mu.Unlock()
	var m Map
	err := ErrUnreachable
	if len(masters) > 0 {
		m, err = f.cfg.Discover(ctx, masters)
	}
	if errors.Is(err, ErrUnreachable) {
		m, err = f.cfg.Discover(ctx, seeds)
	}
	if err == nil {
		err = m.Validate() // a custom Discover is held to it too
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		f.st.Failures++
		f.st.LastError = err
		f.log.Warn("cluster discovery failed; the last good map stays in force", slog.Any("err", err))
		return Map{}, err
	}
	f.st.Refreshes++
	f.st.LastError = nil
	return m, nil
}

// Refresh discovers the map once and applies what changed to t. It
// returns the discovery's error (the followed map then stays) or the
// errors of changes t refused (those are tried again next time).
func (f *Follower) Refresh(ctx context.Context, t Target) error {
	m, err := f.discover(ctx)
	if err != nil {
		return err
	}
	f.mu.Lock()
	old, nextID := slices.Clone(f.followed), f.nextID
	f.mu.Unlock()
	next, changes := plan(old, m, nextID)
	if len(changes) == 0 {
		f.mu.Lock()
		f.followed, f.m = next, m // node lists may have grown
		f.mu.Unlock()
		return nil
	}
	var errs []error
	failed := map[slot.ID]bool{}
	apply := func(kind ChangeKind, do func(Change) error) {
		for _, c := range changes {
			if c.Kind != kind {
				continue
			}
			if err := do(c); err != nil {
				failed[c.ID] = true
				errs = append(errs, fmt.Errorf("%s shard %s: %w", c.Kind, c.ID, err))
				f.log.Error("cluster topology change failed", slog.String("change", string(c.Kind)), slog.String("shard", c.ID.String()),
					slog.String("reason", c.Reason), slog.Any("err", err))
				continue
			}
			f.log.Info("cluster topology", slog.String("change", string(c.Kind)), slog.String("shard", c.ID.String()),
				slog.String("from", c.From), slog.String("to", c.To), slog.String("reason", c.Reason))
		}
	}
	// New shards first and removals last, so routes never name a shard
	// the replica does not have.
	apply(Add, func(c Change) error { return t.AddShard(c.ID, c.To, c.Reason) })
	apply(Repoint, func(c Change) error { return t.RepointShard(c.ID, c.To, c.Reason) })
	apply(Reslot, func(Change) error { return nil })
	// A shard whose add or re-point failed keeps its old entry (or none),
	// so the next refresh finds the same difference and tries again.
	kept := next[:0:0]
	for _, s := range next {
		if !failed[slot.ID(s.ID)] {
			kept = append(kept, s)
			continue
		}
		if i := slices.IndexFunc(old, func(o RouteShard) bool { return o.ID == s.ID }); i >= 0 {
			kept = append(kept, old[i])
		}
	}
	for _, c := range changes {
		if c.Kind == Add {
			nextID = max(nextID, c.ID+1) // never reuse an id, even of a failed add
		}
	}
	t.SetRoutes(NewRoutes(kept))
	apply(Remove, func(c Change) error { return t.RemoveShard(c.ID, c.Reason) })
	f.mu.Lock()
	f.followed, f.m, f.nextID = kept, m, nextID
	f.noteLocked(changes)
	f.mu.Unlock()
	return errors.Join(errs...)
}

func (f *Follower) noteLocked(changes []Change) {
	f.st.Changes = append(f.st.Changes, changes...)
	if n := len(f.st.Changes) - maxChangesKept; n > 0 {
		f.st.Changes = slices.Delete(f.st.Changes, 0, n)
	}
}

// Status is the map followed now and the discovery counters.
func (f *Follower) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.st
	st.Map, st.Followed, st.Changes = f.m, slices.Clone(f.followed), slices.Clone(f.st.Changes)
	return st
}

// SlotObserver nudges the Follower whenever a shard leaves Connected or
// fails to reach its master: the first sign of a failover. Add it to the
// replica's slot observers.
func (f *Follower) SlotObserver() slot.Observer {
	return func(rec slot.Record) {
		if (rec.From == slot.Connected && rec.To != slot.Connected) || rec.To == slot.Error {
			f.Nudge()
		}
	}
}
