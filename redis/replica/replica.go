package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/observe"
	"github.com/replsm/replsm/redis/cluster"
	"github.com/replsm/replsm/redis/pubsub"
	"github.com/replsm/replsm/redis/server"
	core "github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/slot"
	"github.com/replsm/replsm/store"
)

// Replica follows one Redis primary per shard and serves reads of the
// union of the shards. It is the core.Driver of its instance and, through
// SlotDriver, the slot.Driver of its shards: the core machines decide when
// to sync, fail, back off and recover; the Replica speaks the Redis
// protocol.
type Replica struct {
	cfg  Config
	clk  clock.Clock
	log  *slog.Logger
	inst *core.Instance
	set  atomic.Pointer[shardSet] // the shards; replaced whole when one is added or removed (cluster.go)

	routes atomic.Pointer[cluster.Routes] // slot → shard when following a Redis Cluster (cluster.go); nil otherwise

	dur    *durable  // nil without Config.StateDir
	notify *notifier // nil without Config.Notify

	hub      *pubsub.Hub      // SUBSCRIBE/PUBLISH on the read port (admin.go)
	rnd      io.Reader        // replication ids of promoted shards (roles.go)
	metrics  *observe.Metrics // the core's metrics plus this embedding's (metrics.go)
	feed     *observe.Feed    // the last transitions, for the status page
	started0 time.Time        // for INFO server's uptime
	runID    string
	stopLag  context.CancelFunc
	sent     *sentinelFollower // nil without Config.Sentinel (sentinel.go)

	repointMu sync.Mutex // one re-point at a time, whoever asks (repoint.go)

	roleMu  sync.Mutex // one promotion or demotion at a time (roles.go)
	mu      sync.Mutex
	started bool
	closed  bool
	srv     *server.Server
	port    int                     // announced with REPLCONF listening-port
	metas   map[slot.Session]func() // cancel of each meta probe in flight
	wg      sync.WaitGroup          // every goroutine the Replica starts
}

// New checks cfg and builds a Replica with one slot per shard, all in
// NoConnect. Nothing is dialled or bound until Start. clk is the clock of
// every timer (clock.New() in production, a mock in tests).
//
// With a StateDir, New also opens the state there and loads every shard's
// snapshot and cursor (see Config.StateDir); it fails with ErrStateDir for
// a directory it cannot use and with the store's error (store.ErrCorruptStore,
// store.ErrStoreUnavailable, store.ErrStoreLocked) for a store file it
// cannot trust or open, which it leaves untouched. The Replica then holds
// the store's file lock until Close.
func New(cfg Config, clk clock.Clock) (_ *Replica, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if clk == nil {
		return nil, fmt.Errorf("%w: nil clock", ErrInvalidConfig)
	}
	cfg.Shards = maps.Clone(cfg.Shards) // the caller's map stays the caller's
	// A full sync loads into a new keyspace that is swapped in only when
	// complete (transfer.go), and the cursor moves with it: an aborted
	// transfer leaves data and cursor as they were, so it needs no full
	// sync of its own.
	cfg.SlotConfig.AtomicLoad = true
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Replica{cfg: cfg, clk: clk, log: log, metas: map[slot.Session]func(){},
		hub: pubsub.New(pubsub.Options{Logger: log}), rnd: newRand(cfg.Seed)}
	r.set.Store(&shardSet{byID: map[slot.ID]*shard{}})
	defer func() {
		if err != nil {
			r.closeState()
		}
	}()
	var st store.Store
	if cfg.StateDir != "" {
		if r.dur, err = openDurable(cfg, clk, log); err != nil {
			return nil, err
		}
		st = r.dur.st
	}
	r.metrics, r.feed = observe.New(), observe.NewFeed(observe.DefaultFeedSize)
	r.started0, r.runID = clk.Now(), newRunID()
	slotObs := append([]slot.Observer{r.metrics.SlotObserver(), r.feed.SlotObserver(), r.onSlotRecord}, cfg.Observers...)
	instObs := append([]func(core.Record){r.metrics.InstanceObserver(), r.feed.InstanceObserver()}, cfg.InstanceObservers...)
	var drv slot.Driver = slotDriver{r}
	if cfg.WrapSlotDriver != nil {
		drv = cfg.WrapSlotDriver(drv)
	}
	slotOpts := slot.Options{
		Clock: clk, Driver: drv, Logger: log, Observers: slotObs,
		OnExhausted: cfg.OnExhausted, Seed: cfg.Seed,
	}
	instOpts := core.Options{
		Driver:     r,
		Config:     cfg.Instance,
		SlotConfig: cfg.SlotConfig,
		Observers:  instObs,
	}
	if cfg.Notify != nil {
		if r.notify, err = newNotifier(cfg, st, clk, log, r.milestoneAttrs); err != nil {
			return nil, err
		}
		slotOpts.Journal, instOpts.Journal = r.notify.journal.Slot, r.notify.journal.Instance
	} else if st != nil {
		if n, _ := st.PendingCount(); n > 0 {
			log.Warn("milestones are waiting in the state store but no notify sink is configured; they are kept until one is",
				slog.Int("pending", n))
		}
	}
	instOpts.Slot = slotOpts
	inst, err := core.New(instOpts)
	if err != nil {
		return nil, err
	}
	r.inst = inst
	r.metrics.Attach(inst)
	if err := r.addShardMetrics(); err != nil {
		return nil, err
	}
	ids := make([]slot.ID, 0, len(cfg.Shards))
	for id := range cfg.Shards {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	set := &shardSet{byID: map[slot.ID]*shard{}}
	for _, id := range ids {
		s, err := inst.AddSlot(id, cfg.Shards[id])
		if err != nil {
			return nil, err
		}
		sh := newShard(id, cfg.Shards[id], s, clk, r.primaryConfig().BacklogSize)
		set.order = append(set.order, sh)
		set.byID[id] = sh
	}
	r.set.Store(set)
	if r.dur != nil {
		if err := r.dur.restore(r.shards()); err != nil {
			return nil, err
		}
	}
	if cfg.Sentinel != nil {
		if r.sent, err = newSentinelFollower(r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// closeState releases the store (and the outbox's in-memory one).
func (r *Replica) closeState() error {
	var err error
	if r.notify != nil {
		r.notify.close()
	}
	if r.dur != nil {
		err = r.dur.st.Close()
	}
	return err
}

// Start binds the read port, starts the core's schedulers and points the
// instance at the shards (SlaveOf), which runs the meta step and then
// starts every shard. Unreachable primaries are not an error here: their
// slots fail and recover on their own. It returns the listen error, or
// ErrClosed after Close or on a second call.
func (r *Replica) Start() error {
	r.mu.Lock()
	if r.closed || r.started {
		r.mu.Unlock()
		return ErrClosed
	}
	r.started = true
	r.mu.Unlock()

	srv, err := server.Listen(r.cfg.ListenAddr, r.handle, r.log)
	if err != nil {
		return fmt.Errorf("redis replica: listen on %s: %w", r.cfg.ListenAddr, err)
	}
	port := r.cfg.ListeningPort
	if port == 0 {
		_, p, _ := net.SplitHostPort(srv.Addr())
		port, _ = strconv.Atoi(p)
	}
	r.mu.Lock()
	if r.closed { // Close raced with Start
		r.mu.Unlock()
		return errors.Join(ErrClosed, srv.Close())
	}
	r.srv, r.port = srv, port
	// Under r.mu, so a racing Close either sees them running and stops
	// them, or has already marked the replica closed above.
	if r.dur != nil {
		r.dur.start()
	}
	if r.notify != nil {
		r.notify.ob.Start() // replays what an earlier run left undelivered
	}
	if r.cfg.LagProbeInterval > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		r.stopLag = cancel
		r.wg.Add(1)
		go r.runLagProbe(ctx)
	}
	r.mu.Unlock()

	r.inst.Start()
	if r.cfg.StartAsPrimary {
		return r.promote(r.shards()[0], "started as a primary")
	}
	if _, err := r.inst.SlaveOf(r.masterLabel()); err != nil {
		return err
	}
	if r.sent != nil {
		r.sent.start()
	}
	return nil
}

// masterLabel names the instance's "master" in its records: the list of
// shard endpoints, since no single master speaks for all of them.
func (r *Replica) masterLabel() string {
	order := r.shards()
	parts := make([]string, len(order))
	for i, sh := range order {
		parts[i] = strconv.Itoa(int(sh.id)) + "=" + sh.addr()
	}
	return strings.Join(parts, ",")
}

// Close stops serving, stops the core's schedulers, ends every session,
// meta step and reachability probe and waits for all of their goroutines. Shard states stay as
// they were. With a StateDir it then writes a last snapshot of every shard
// whose data moved since its previous one, and closes the store; the
// outbox stops with undelivered milestones kept for the next run. Close is
// idempotent.
func (r *Replica) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	srv := r.srv
	if r.stopLag != nil {
		r.stopLag()
	}
	r.mu.Unlock()

	if r.sent != nil {
		r.sent.close() // no re-point from here on
	}
	// Timers first, so no transition starts a session while we stop them.
	r.inst.Stop()
	var err error
	if srv != nil {
		err = srv.Close()
	}
	r.closePromoted()
	r.hub.Close()
	r.mu.Lock()
	for _, sh := range r.shards() {
		if sh.live != nil {
			sh.live.stop("replica closing")
		}
		if sh.probeCancel != nil {
			sh.probeCancel()
		}
	}
	for _, cancel := range r.metas {
		cancel()
	}
	r.mu.Unlock()
	r.wg.Wait()
	if r.dur != nil {
		r.dur.stopWriter()
		err = errors.Join(err, r.dur.final())
	}
	if r.notify != nil {
		r.notify.ob.Stop()
	}
	return errors.Join(err, r.closeState())
}

// Addr is the address reads are served on ("" before Start).
func (r *Replica) Addr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.srv == nil {
		return ""
	}
	return r.srv.Addr()
}

// Instance is the core instance machine (for WaitSynced, Info, operator
// commands).
func (r *Replica) Instance() *core.Instance { return r.inst }

// Info is the core's instance and slot status, with the milestone outbox's
// backlog and breaker when Config.Notify is set.
func (r *Replica) Info() Info {
	info := Info{Info: r.inst.Info()}
	r.outboxInfo(&info)
	return info
}

// ShardIDs lists the configured shards in order.
func (r *Replica) ShardIDs() []slot.ID {
	order := r.shards()
	ids := make([]slot.ID, len(order))
	for i, sh := range order {
		ids[i] = sh.id
	}
	return ids
}

// Cursor is where shard id's data stands in its primary's history.
func (r *Replica) Cursor(id slot.ID) (Cursor, error) {
	sh, err := r.shard(id)
	if err != nil {
		return Cursor{}, err
	}
	return sh.cursor(), nil
}

// Stats returns shard id's counters and position.
func (r *Replica) Stats(id slot.ID) (ShardStats, error) {
	sh, err := r.shard(id)
	if err != nil {
		return ShardStats{}, err
	}
	return sh.stats(), nil
}

// Reset is the operator's way out of Error for shard id: NoConnect with a
// fresh retry budget, and a new sync at once if the instance is up. It
// returns the slot's error (fsm.ErrNotAllowed when the shard is not in
// Error).
func (r *Replica) Reset(id slot.ID, reason string) error {
	sh, err := r.shard(id)
	if err != nil {
		return err
	}
	_, err = sh.slot.Reset(reason)
	return err
}

func (r *Replica) shard(id slot.ID) (*shard, error) {
	sh, ok := r.lookup(id)
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrUnknownShard, id)
	}
	return sh, nil
}

func (r *Replica) listeningPort() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.port
}

// SlotDriver is the slot.Driver the Replica's shards run with. It is a
// separate value because slot.Driver's Close(slot, session, reason) and the
// Replica's own Close() cannot share a method name.
func (r *Replica) SlotDriver() slot.Driver { return slotDriver{r} }

// slotDriver carries out the shards' effects.
type slotDriver struct{ r *Replica }

// Sync starts a session for req on its own goroutine. The shard's previous
// session, if still running, is stopped (the slot already closed it) and the
// new one waits for it to exit before it dials.
func (d slotDriver) Sync(req slot.Request) error {
	r := d.r
	sh, err := r.shard(req.Slot)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	var prev <-chan struct{}
	if sh.live != nil {
		sh.live.stop("superseded by session " + strconv.FormatUint(uint64(req.Session), 10))
		prev = sh.live.done
	}
	s := newSession(r, sh, req, prev)
	sh.live = s
	r.wg.Add(1)
	go s.run()
	return nil
}

// Close ends session sess because its slot left it. It does not wait for
// the session to exit: it may be running on that session's own goroutine.
func (d slotDriver) Close(id slot.ID, sess slot.Session, reason string) {
	r := d.r
	sh, ok := r.lookup(id)
	if !ok {
		return
	}
	r.mu.Lock()
	live := sh.live
	r.mu.Unlock()
	if live != nil && live.id == sess {
		live.stop(reason)
	}
}

var (
	_ core.Driver = (*Replica)(nil)
	_ slot.Driver = slotDriver{}
	_ slot.Prober = slotDriver{}
)
