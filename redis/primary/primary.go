package primary

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/replsm/replsm/follower"
	"github.com/replsm/replsm/host"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/redis/keyspace"
	"github.com/replsm/replsm/redis/pubsub"
	"github.com/replsm/replsm/redis/server"
	"github.com/replsm/replsm/slot"
)

// Primary is a Redis-protocol primary: it serves clients, executes their
// commands on an in-memory keyspace and streams every change to its
// followers. Its methods are safe for concurrent use.
type Primary struct {
	cfg       Config
	clk       clock.Clock
	log       *slog.Logger
	ks        *keyspace.Keyspace
	followers *follower.Set
	rt        *host.Runtime
	snaps     follower.Snapshots[uint64, *snapshot] // keyed by history epoch
	hooks     testHooks
	hub       *pubsub.Hub // SUBSCRIBE/PUBLISH (admin.go)

	// mu orders the replication stream. Every keyspace command runs under
	// it together with the append of what it propagated, and a snapshot is
	// taken under it together with the offset it stands for. PSYNC
	// decisions and stream reads take it too. Never held while calling into
	// a follower.Follower (whose driver takes mu) or doing network I/O.
	mu       sync.Mutex
	replID   string
	replID2  string // the history continued before a promotion ("" none)
	offset2  int64  // second_repl_offset: where replID2's history ended here; -1 none
	bl       *Backlog
	seldb    int           // database of the stream's last SELECT; -1 forces one
	wake     chan struct{} // closed and replaced on every append
	epoch    uint64        // bumped by ForgetHistory
	sessions map[slot.Session]*session
	closed   bool
	feedBuf  []byte

	// dataEnd is the stream position after the last change of data, and
	// dataDB the database selected there: past it the stream holds only
	// pings and PUBLISHes, which Demote drops (stream.go, docs/sentinel.md).
	dataEnd int64
	dataDB  int

	stats counters

	lifeMu sync.Mutex // Listen and Close
	srv    *server.Server

	done      chan struct{} // closed by Close
	wg        sync.WaitGroup
	sessWG    sync.WaitGroup // replication sessions, which run on the server's goroutines
	closeOnce sync.Once
}

// counters are the Stats fields the primary counts itself.
type counters struct {
	fullSyncs    atomic.Uint64
	partialSyncs atomic.Uint64
	partialErr   atomic.Uint64
	resumedBytes atomic.Uint64
	staleAcks    atomic.Uint64
	fellBehind   atomic.Uint64
	expired      atomic.Uint64
}

// testHooks let tests in this package interpose on the snapshot build.
type testHooks struct {
	// beforeSnapshot runs on the build goroutine before the keyspace
	// snapshot and its offset are taken.
	beforeSnapshot func()
}

// New returns a primary with an empty keyspace, a fresh replication id (or
// cfg.ReplID) and offset 0. It starts the background work (follower
// timeouts, the stream's ping, active expiry) on clk; call Listen to serve
// and Close to stop. A nil logger discards.
func New(cfg Config, clk clock.Clock, logger *slog.Logger) (*Primary, error) {
	return newPrimary(cfg, clk, logger, nil)
}

// newPrimary is New on the keyspace ks (nil: a new empty one).
func newPrimary(cfg Config, clk clock.Clock, logger *slog.Logger, ks *keyspace.Keyspace) (*Primary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if clk == nil {
		return nil, fmt.Errorf("%w: nil clock", ErrInvalidConfig)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if ks == nil {
		ks = keyspace.New(clk)
	}
	hub := cfg.Hub
	if hub == nil {
		hub = pubsub.New(pubsub.Options{Logger: logger})
	}
	p := &Primary{
		cfg:      cfg,
		clk:      clk,
		log:      logger,
		ks:       ks,
		replID:   cfg.ReplID,
		offset2:  -1,
		bl:       NewBacklog(cfg.BacklogSize, 0),
		seldb:    -1,
		dataDB:   -1,
		wake:     make(chan struct{}),
		sessions: map[slot.Session]*session{},
		done:     make(chan struct{}),
		hub:      hub,
	}
	if p.replID == "" {
		p.replID = NewReplID(cfg.Rand)
	}
	p.rt = host.NewRuntime(clk, logger, 0)
	fs, err := follower.NewSet(follower.Options{
		Runtime: p.rt,
		Driver:  followerDriver{p},
		Config:  follower.Config{SyncTimeout: cfg.ReplTimeout, AckTimeout: cfg.ReplTimeout},
	})
	if err != nil {
		return nil, err
	}
	p.followers = fs
	p.rt.Start()
	// The tickers exist before New returns, so a test's mock clock can be
	// advanced right away.
	p.wg.Add(2)
	go p.every(clk.Ticker(cfg.PingPeriod), p.pingFollowersLocked)
	go p.every(clk.Ticker(cfg.ExpirePeriod), p.expireLocked)
	return p, nil
}

// every runs fn under p.mu on every tick of t until Close.
func (p *Primary) every(t *clock.Ticker, fn func()) {
	defer p.wg.Done()
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
			p.mu.Lock()
			fn()
			p.mu.Unlock()
		}
	}
}

// expireLocked deletes keys whose TTL has passed and streams a DEL for
// each, one propagation per key as Redis's active expire cycle does.
func (p *Primary) expireLocked() {
	for _, ref := range p.ks.ActiveExpire(expireBatch) {
		p.feedLocked([]op{{db: ref.DB, args: [][]byte{[]byte("DEL"), []byte(ref.Key)}}})
		p.stats.expired.Add(1)
	}
}

// expireBatch bounds the keys one active expire round deletes, so that one
// round never holds the stream for long; the rest go in later rounds.
const expireBatch = 1000

// Listen serves clients and followers on addr, for example
// "127.0.0.1:7000" or "127.0.0.1:0".
func (p *Primary) Listen(addr string) error {
	p.lifeMu.Lock()
	defer p.lifeMu.Unlock()
	if p.isClosed() {
		return ErrClosed
	}
	if p.srv != nil {
		return fmt.Errorf("%w on %s", ErrAlreadyListening, p.srv.Addr())
	}
	srv, err := server.ListenOptions(addr, p.handle, server.Options{Logger: p.log, Limits: p.cfg.Limits, Clock: p.clk})
	if err != nil {
		return err
	}
	p.srv = srv
	p.log.Info("primary listening", "addr", srv.Addr(), "replid", p.ReplID())
	return nil
}

// Addr is the address Listen bound, or "" before Listen.
func (p *Primary) Addr() string {
	p.lifeMu.Lock()
	defer p.lifeMu.Unlock()
	if p.srv == nil {
		return ""
	}
	return p.srv.Addr()
}

func (p *Primary) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// Close disconnects every client and follower, stops the background work
// and waits for every goroutine the primary started. Later calls return
// nil at once.
func (p *Primary) Close() error {
	var err error
	p.closeOnce.Do(func() {
		p.lifeMu.Lock()
		defer p.lifeMu.Unlock()
		p.mu.Lock()
		p.closed = true
		sessions := p.sessionsLocked()
		p.mu.Unlock()
		close(p.done)
		for _, s := range sessions {
			s.close("primary closing")
		}
		if p.srv != nil {
			err = p.srv.Close()
		}
		if p.cfg.Hub == nil {
			p.hub.Close() // a shared hub is its owner's to close
		}
		p.wg.Wait()
		p.sessWG.Wait()
		p.rt.Stop()
		p.log.Info("primary closed")
	})
	return err
}

// ReplID is the current replication id.
func (p *Primary) ReplID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.replID
}

// Offset is the replication offset: every byte ever streamed in the
// current history (Redis's master_repl_offset).
func (p *Primary) Offset() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bl.end
}

// Keyspace is the primary's data, for tests and demos that read it
// directly. Writes made through it are NOT streamed to followers; write
// through the primary's port.
func (p *Primary) Keyspace() *keyspace.Keyspace { return p.ks }

// ForgetHistory simulates a restart without persistence of the replication
// state: a new replication id, offset 0, an empty backlog, and every
// follower disconnected. The data stays. Followers that reconnect ask for
// the old id and get +FULLRESYNC <new id> 0, as after a real restart.
func (p *Primary) ForgetHistory() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	old := p.replID
	p.replID = NewReplID(p.cfg.Rand)
	p.replID2, p.offset2 = "", -1
	p.epoch++
	p.bl.reset(0)
	p.seldb = -1
	p.dataEnd, p.dataDB = 0, -1
	close(p.wake) // sessions waiting to stream notice the new epoch
	p.wake = make(chan struct{})
	sessions := p.sessionsLocked()
	id := p.replID
	p.mu.Unlock()
	for _, s := range sessions {
		s.close("replication history forgotten")
	}
	p.log.Info("replication history forgotten", "old_replid", old, "replid", id, "followers_dropped", len(sessions))
	return nil
}

// DisconnectFollower closes the replication connection of the follower
// with that id (see FollowerInfo.ID), as a network fault would. It returns
// ErrUnknownFollower when no such follower is connected.
func (p *Primary) DisconnectFollower(id string) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	var found []*session
	for _, s := range p.sessions {
		if s.id == id {
			found = append(found, s)
		}
	}
	p.mu.Unlock()
	if len(found) == 0 {
		return fmt.Errorf("%w: %q", ErrUnknownFollower, id)
	}
	for _, s := range found {
		s.close("disconnected by request")
	}
	return nil
}

func (p *Primary) sessionsLocked() []*session {
	out := make([]*session, 0, len(p.sessions))
	for _, s := range p.sessions {
		out = append(out, s)
	}
	return out
}
