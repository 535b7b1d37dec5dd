package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/store"
	"github.com/replsm/replsm/timeouts"
)

// Defaults used for zero Config fields.
const (
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 30 * time.Second
	DefaultBatchSize       = 256
	DefaultBacklogWarn     = 10000
	// MaxBatchSize bounds BatchSize, and so the memory of one replay batch.
	MaxBatchSize = 100000
)

// Config tunes an Outbox. Zero fields take the defaults (DefaultConfig).
type Config struct {
	// Backoff spaces retries after consecutive failures, attempt 0 after the
	// first. The zero value means timeouts.DefaultBackoff().
	Backoff timeouts.Backoff
	// BreakerFailures consecutive failures open the circuit breaker.
	BreakerFailures int
	// BreakerCooldown is how long the breaker stays open before one probe.
	BreakerCooldown time.Duration
	// BatchSize is how many milestones are read (and acked in one
	// transaction) at a time; it bounds replay memory.
	BatchSize int
	// BacklogWarn: a pending count above it logs a warning once per
	// crossing and sets Stats().BacklogWarning.
	BacklogWarn int
	// Rand draws the backoff jitter. Nil means a randomly seeded source;
	// pass a seeded one for repeatable delays. Only the outbox may use it.
	Rand *rand.Rand
	// Logger receives breaker, backlog and failure logs. Nil discards.
	Logger *slog.Logger
}

// DefaultConfig returns the defaults: gRPC-style backoff, breaker after 5
// failures with a 30 s cooldown, batches of 256, warning above 10000.
func DefaultConfig() Config {
	return Config{
		Backoff:         timeouts.DefaultBackoff(),
		BreakerFailures: DefaultBreakerFailures,
		BreakerCooldown: DefaultBreakerCooldown,
		BatchSize:       DefaultBatchSize,
		BacklogWarn:     DefaultBacklogWarn,
	}
}

func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	if c.Backoff == (timeouts.Backoff{}) {
		c.Backoff = d.Backoff
	}
	if err := c.Backoff.Validate(); err != nil {
		return c, fmt.Errorf("%w: Backoff: %w", ErrInvalidConfig, err)
	}
	switch {
	case c.BreakerFailures < 0:
		return c, fmt.Errorf("%w: BreakerFailures must be >= 1, got %d", ErrInvalidConfig, c.BreakerFailures)
	case c.BreakerCooldown < 0:
		return c, fmt.Errorf("%w: BreakerCooldown must be > 0, got %v", ErrInvalidConfig, c.BreakerCooldown)
	case c.BatchSize < 0 || c.BatchSize > MaxBatchSize:
		return c, fmt.Errorf("%w: BatchSize must be in 1..%d, got %d", ErrInvalidConfig, MaxBatchSize, c.BatchSize)
	case c.BacklogWarn < 0:
		return c, fmt.Errorf("%w: BacklogWarn must be >= 1, got %d", ErrInvalidConfig, c.BacklogWarn)
	}
	if c.BreakerFailures == 0 {
		c.BreakerFailures = d.BreakerFailures
	}
	if c.BreakerCooldown == 0 {
		c.BreakerCooldown = d.BreakerCooldown
	}
	if c.BatchSize == 0 {
		c.BatchSize = d.BatchSize
	}
	if c.BacklogWarn == 0 {
		c.BacklogWarn = d.BacklogWarn
	}
	if c.Rand == nil {
		c.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// BreakerState is the circuit breaker's state.
type BreakerState int

// Breaker states.
const (
	BreakerClosed   BreakerState = iota // deliveries flow
	BreakerOpen                         // sink considered down; waiting for the cooldown
	BreakerHalfOpen                     // one probe delivery in flight
)

// String returns "closed", "open" or "half-open".
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return fmt.Sprintf("BreakerState(%d)", int(s))
}

// Stats is a snapshot of an Outbox.
type Stats struct {
	Pending             int          // milestones in the store not yet acked
	Delivered           uint64       // milestones the sink accepted (since New)
	Failures            uint64       // failed delivery attempts (since New)
	ConsecutiveFailures int          // failures since the last success
	Breaker             BreakerState // circuit breaker state
	NextAttempt         time.Time    // earliest next try after a failure; zero when not waiting
	LastError           error        // last delivery or store error; nil after a success
	BacklogWarning      bool         // Pending is above Config.BacklogWarn
}

// Outbox delivers milestones from a store.Store to a Sink at least once,
// strictly in creation order. See the package documentation.
type Outbox struct {
	st       store.Store
	acker    store.BatchAcker // nil if st cannot ack in batches
	sink     Sink
	sinkName string
	clk      clock.Clock
	cfg      Config
	log      *slog.Logger

	wake chan struct{} // capacity 1: "there may be something new"

	passMu sync.Mutex // one delivery pass at a time keeps the order strict

	mu            sync.Mutex // guards the fields below and cfg.Rand
	consecutive   int
	storeFailures int
	breaker       BreakerState
	nextAttempt   time.Time
	delivered     uint64
	failures      uint64
	lastErr       error
	pending       int
	backlogWarned bool

	runMu   sync.Mutex
	running bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// New returns an Outbox over st delivering to sink, timed by clk. It does
// not start delivering: call Start, or DeliverPending yourself. A backlog
// already above BacklogWarn is logged here.
func New(st store.Store, sink Sink, clk clock.Clock, cfg Config) (*Outbox, error) {
	switch {
	case st == nil:
		return nil, fmt.Errorf("%w: nil store", ErrInvalidConfig)
	case sink == nil:
		return nil, fmt.Errorf("%w: nil sink", ErrInvalidConfig)
	case clk == nil:
		return nil, fmt.Errorf("%w: nil clock", ErrInvalidConfig)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	o := &Outbox{
		st:       st,
		sink:     sink,
		sinkName: describe(sink),
		clk:      clk,
		cfg:      cfg,
		log:      cfg.Logger,
		wake:     make(chan struct{}, 1),
	}
	o.acker, _ = st.(store.BatchAcker)
	o.refreshBacklog()
	return o, nil
}

// Append stores m durably (one fsync with the Bolt store) and wakes the
// deliverer. It never calls the sink, so it is safe to call while holding
// the caller's own lock. A zero m.At is set from the clock. Appending a
// Key that is still pending returns the pending milestone.
func (o *Outbox) Append(m store.Milestone) (store.Milestone, error) {
	out, err := o.AppendAll([]store.Milestone{m})
	if err != nil {
		return store.Milestone{}, err
	}
	return out[0], nil
}

// AppendAll is Append for several milestones that must be durable together
// (the milestones of one transition): one transaction, all or none.
func (o *Outbox) AppendAll(ms []store.Milestone) ([]store.Milestone, error) {
	now := o.clk.Now()
	for i := range ms {
		if ms[i].At.IsZero() {
			ms[i].At = now
		}
	}
	out, err := o.st.AppendMilestones(ms)
	if err != nil {
		keys := make([]string, len(ms))
		for i, m := range ms {
			keys[i] = m.Key
		}
		return nil, fmt.Errorf("outbox: append %q: %w", keys, err)
	}
	o.refreshBacklog()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return out, nil
}

// Start launches the background deliverer. It first replays every pending
// milestone left by earlier runs, in creation order and BatchSize at a
// time, then delivers new ones as Append wakes it, waiting out backoffs
// and breaker cooldowns on the clock. Start on a running Outbox is a no-op.
func (o *Outbox) Start() {
	o.runMu.Lock()
	defer o.runMu.Unlock()
	if o.running {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	o.running, o.cancel, o.done = true, cancel, make(chan struct{})
	go o.run(ctx, o.done)
}

// Stop stops the deliverer, cancelling a delivery in flight, and waits for
// it to exit. Pending milestones stay in the store for the next Start (or
// the next process). If the sink has a CloseIdleConnections method (as
// HTTPSink does) it is called, so no keep-alive goroutines linger. Stop on
// a stopped Outbox is a no-op. It does not close the store.
func (o *Outbox) Stop() {
	o.runMu.Lock()
	defer o.runMu.Unlock()
	if !o.running {
		return
	}
	o.cancel()
	<-o.done
	o.running = false
	if c, ok := o.sink.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// DeliverPending runs one delivery pass in the caller's goroutine: unless
// a backoff or the breaker says wait (ErrNotDue, ErrBreakerOpen), it
// delivers pending milestones in order until none are left (nil), the sink
// fails (ErrDeliveryFailed), ctx ends, or the store fails. It returns how
// many the sink accepted. Tests use it instead of Start; it is safe to call
// while the deliverer runs.
func (o *Outbox) DeliverPending(ctx context.Context) (delivered int, err error) {
	o.passMu.Lock()
	defer o.passMu.Unlock()
	if err := o.admit(); err != nil {
		return 0, err
	}
	after := uint64(0)
	for {
		batch, err := o.st.PendingMilestones(after, o.cfg.BatchSize)
		if err != nil {
			return delivered, o.storeFailed("read pending milestones", err)
		}
		if len(batch) == 0 {
			return delivered, nil
		}
		acked := make([]uint64, 0, len(batch))
		for _, m := range batch {
			if err := ctx.Err(); err != nil {
				return delivered, errors.Join(err, o.ack(acked))
			}
			if err := o.deliverOne(ctx, m); err != nil {
				ackErr := o.ack(acked)
				if ctx.Err() != nil {
					// Our own shutdown, not the sink's fault.
					return delivered, errors.Join(ctx.Err(), ackErr)
				}
				o.deliveryFailed(m, err)
				return delivered, errors.Join(
					fmt.Errorf("%w: milestone %d %q to %s: %w", ErrDeliveryFailed, m.Seq, m.Key, o.sinkName, err), ackErr)
			}
			o.deliverySucceeded()
			acked = append(acked, m.Seq)
			delivered++
		}
		if err := o.ack(acked); err != nil {
			return delivered, err
		}
		after = batch[len(batch)-1].Seq
	}
}

// Stats returns a snapshot. Pending comes from the store (the last known
// value if the store fails).
func (o *Outbox) Stats() Stats {
	o.refreshBacklog()
	o.mu.Lock()
	defer o.mu.Unlock()
	return Stats{
		Pending:             o.pending,
		Delivered:           o.delivered,
		Failures:            o.failures,
		ConsecutiveFailures: o.consecutive,
		Breaker:             o.breaker,
		NextAttempt:         o.nextAttempt,
		LastError:           o.lastErr,
		BacklogWarning:      o.backlogWarned,
	}
}

// admit decides whether a pass may call the sink now, moving an open
// breaker whose cooldown has elapsed to half-open.
func (o *Outbox) admit() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.clk.Now()
	if now.Before(o.nextAttempt) {
		if o.breaker == BreakerOpen {
			return fmt.Errorf("%w: probe at %s", ErrBreakerOpen, o.nextAttempt.Format(time.RFC3339Nano))
		}
		return fmt.Errorf("%w: retry at %s", ErrNotDue, o.nextAttempt.Format(time.RFC3339Nano))
	}
	if o.breaker == BreakerOpen {
		o.breaker = BreakerHalfOpen
		o.log.Info("breaker half-open: sending one probe", "sink", o.sinkName)
	}
	return nil
}

// deliverOne calls the sink, turning a panic into an error.
func (o *Outbox) deliverOne(ctx context.Context, m store.Milestone) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sink panicked: %v", r)
		}
	}()
	return o.sink.Deliver(ctx, m)
}

func (o *Outbox) deliverySucceeded() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.delivered++
	if o.breaker != BreakerClosed {
		o.log.Info("breaker closed: sink accepted the probe", "sink", o.sinkName, "failures_before", o.consecutive)
		o.breaker = BreakerClosed
	}
	o.consecutive, o.storeFailures = 0, 0
	o.nextAttempt, o.lastErr = time.Time{}, nil
}

func (o *Outbox) deliveryFailed(m store.Milestone, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.clk.Now()
	o.failures++
	o.consecutive++
	o.lastErr = err
	switch {
	case o.breaker == BreakerHalfOpen || o.consecutive >= o.cfg.BreakerFailures:
		probe := o.breaker == BreakerHalfOpen
		o.breaker = BreakerOpen
		o.nextAttempt = now.Add(o.cfg.BreakerCooldown)
		o.log.Warn("breaker open", "sink", o.sinkName, "err", err, "probe", probe,
			"consecutive_failures", o.consecutive, "cooldown", o.cfg.BreakerCooldown,
			"next_attempt", o.nextAttempt, "seq", m.Seq, "key", m.Key)
	default:
		delay := o.cfg.Backoff.Delay(o.consecutive-1, o.cfg.Rand)
		o.nextAttempt = now.Add(delay)
		o.log.Info("delivery failed; will retry", "sink", o.sinkName, "err", err,
			"seq", m.Seq, "key", m.Key, "attempt", o.consecutive, "retry_in", delay)
	}
}

// storeFailed backs off after a store error without touching the breaker,
// which is about the sink.
func (o *Outbox) storeFailed(op string, err error) error {
	err = fmt.Errorf("outbox: %s: %w", op, err)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.storeFailures++
	o.lastErr = err
	delay := o.cfg.Backoff.Delay(o.storeFailures-1, o.cfg.Rand)
	o.nextAttempt = o.clk.Now().Add(delay)
	o.log.Error("outbox store failed; will retry", "err", err, "retry_in", delay)
	return err
}

// ack deletes delivered milestones: one transaction per batch when the
// store supports it. A crash before this point redelivers them
// (at-least-once); receivers dedupe by key.
func (o *Outbox) ack(seqs []uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	var err error
	if o.acker != nil {
		err = o.acker.AckMilestones(seqs)
	} else {
		for _, s := range seqs {
			if err = o.st.AckMilestone(s); err != nil {
				break
			}
		}
	}
	if err != nil {
		return o.storeFailed("ack delivered milestones", err)
	}
	o.refreshBacklog()
	return nil
}

// refreshBacklog reads the pending count and logs backlog crossings.
func (o *Outbox) refreshBacklog() {
	n, err := o.st.PendingCount()
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		return // keep the last known count
	}
	o.pending = n
	switch {
	case n > o.cfg.BacklogWarn && !o.backlogWarned:
		o.backlogWarned = true
		o.log.Warn("outbox backlog above threshold", "sink", o.sinkName, "pending", n,
			"threshold", o.cfg.BacklogWarn, "breaker", o.breaker.String(), "last_error", o.lastErr)
	case n <= o.cfg.BacklogWarn && o.backlogWarned:
		o.backlogWarned = false
		o.log.Info("outbox backlog back under threshold", "sink", o.sinkName, "pending", n, "threshold", o.cfg.BacklogWarn)
	}
}

// run is the background deliverer.
func (o *Outbox) run(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	for {
		_, _ = o.DeliverPending(ctx) // outcomes are in Stats and the log
		if ctx.Err() != nil {
			return
		}
		o.mu.Lock()
		next := o.nextAttempt
		o.mu.Unlock()
		var timer *clock.Timer
		var timeout <-chan time.Time
		if !next.IsZero() {
			timer = o.clk.Timer(next.Sub(o.clk.Now()))
			timeout = timer.C
		}
		select {
		case <-ctx.Done():
		case <-o.wake:
		case <-timeout:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

func describe(s Sink) string {
	if st, ok := s.(fmt.Stringer); ok {
		return st.String()
	}
	return fmt.Sprintf("%T", s)
}
