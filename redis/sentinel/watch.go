package sentinel

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/redis/resp"
)

// Config configures a Watcher. Zero durations take the defaults below.
type Config struct {
	// Sentinels are the "host:port" of the sentinels to listen to; each
	// gets its own link.
	Sentinels []string
	// Masters are the monitored names whose events are delivered; others
	// are ignored.
	Masters []string
	// OnEvent receives every event about a watched name, one at a time in
	// arrival order (one dispatcher goroutine for all sentinels), so it
	// may take a while (a ROLE probe) without holding a link up.
	OnEvent func(Event)

	DialTimeout  time.Duration // dial, subscribe confirmation, each question; default 2 s
	PingInterval time.Duration // PING on an idle link; three silent intervals drop it; default 1 s
	PollInterval time.Duration // ask GET-MASTER-ADDR-BY-NAME again this often; default 10 s
	MinBackoff   time.Duration // first reconnect delay, doubled per failure; default 500 ms
	MaxBackoff   time.Duration // reconnect delay cap; default 30 s
	Logger       *slog.Logger  // nil discards
}

// Defaults of Config's durations.
const (
	DefaultDialTimeout  = 2 * time.Second
	DefaultPingInterval = time.Second
	DefaultPollInterval = 10 * time.Second
	DefaultMinBackoff   = 500 * time.Millisecond
	DefaultMaxBackoff   = 30 * time.Second
)

// eventQueue bounds events waiting for OnEvent; beyond it events are
// dropped and logged (the next poll asks again, so nothing is lost for
// good).
const eventQueue = 256

// Link is one sentinel link's state, for INFO and tests.
type Link struct {
	Sentinel   string
	Up         bool
	Since      time.Time // when it last came up or went down
	Connects   uint64    // times the link reached the subscribed state
	LastError  string    // why it last went down ("" never)
	Dropped    uint64    // events dropped because OnEvent lagged
	LastEvent  string    // the last event delivered from this sentinel
	LastAnswer string    // the last GET-MASTER-ADDR-BY-NAME answers, "name=addr ..."
}

// Watcher keeps a pub/sub link to every sentinel of Config.Sentinels.
type Watcher struct {
	cfg    Config
	clk    clock.Clock
	log    *slog.Logger
	names  map[string]bool
	events chan Event

	mu      sync.Mutex
	links   map[string]*Link
	started bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	dropped atomic.Uint64
}

// NewWatcher checks cfg and returns a Watcher that does nothing until
// Start. Errors wrap ErrInvalidConfig.
func NewWatcher(cfg Config, clk clock.Clock) (*Watcher, error) {
	if clk == nil {
		return nil, fmt.Errorf("%w: nil clock", ErrInvalidConfig)
	}
	if len(cfg.Sentinels) == 0 {
		return nil, fmt.Errorf("%w: no sentinels", ErrInvalidConfig)
	}
	for _, s := range cfg.Sentinels {
		h, p, err := net.SplitHostPort(s)
		if err == nil {
			_, err = hostPort(h, p)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: sentinel %q: %v", ErrInvalidConfig, clip(s), err)
		}
	}
	if len(cfg.Masters) == 0 {
		return nil, fmt.Errorf("%w: no master names", ErrInvalidConfig)
	}
	if cfg.OnEvent == nil {
		return nil, fmt.Errorf("%w: no OnEvent", ErrInvalidConfig)
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&cfg.DialTimeout, DefaultDialTimeout}, {&cfg.PingInterval, DefaultPingInterval},
		{&cfg.PollInterval, DefaultPollInterval}, {&cfg.MinBackoff, DefaultMinBackoff}, {&cfg.MaxBackoff, DefaultMaxBackoff}} {
		if *d.v < 0 {
			return nil, fmt.Errorf("%w: negative duration %s", ErrInvalidConfig, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{cfg: cfg, clk: clk, log: log, names: map[string]bool{}, events: make(chan Event, eventQueue), links: map[string]*Link{}}
	for _, n := range cfg.Masters {
		if n == "" || strings.ContainsAny(n, " \r\n") {
			return nil, fmt.Errorf("%w: master name %q", ErrInvalidConfig, clip(n))
		}
		w.names[n] = true
	}
	for _, s := range cfg.Sentinels {
		w.links[s] = &Link{Sentinel: s}
	}
	return w, nil
}

// Start starts the links and the dispatcher. A second call does nothing.
func (w *Watcher) Start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return
	}
	w.started = true
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	w.wg.Add(1 + len(w.cfg.Sentinels))
	go w.dispatch(ctx)
	for _, s := range w.cfg.Sentinels {
		go w.run(ctx, s)
	}
}

// Close stops every link and the dispatcher and waits for them; events not
// yet delivered are dropped. Idempotent.
func (w *Watcher) Close() {
	w.mu.Lock()
	cancel := w.cancel
	w.cancel = nil
	w.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	w.wg.Wait()
}

// Links reports every link's state, in Config.Sentinels order.
func (w *Watcher) Links() []Link {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Link, 0, len(w.cfg.Sentinels))
	for _, s := range w.cfg.Sentinels {
		out = append(out, *w.links[s])
	}
	return out
}

func (w *Watcher) dispatch(ctx context.Context) {
	defer w.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-w.events:
			w.cfg.OnEvent(e)
		}
	}
}

// emit queues e for OnEvent, dropping it (logged) when the queue is full.
func (w *Watcher) emit(e Event) {
	w.mu.Lock()
	l := w.links[e.Sentinel]
	if e.Kind == Answer {
		l.LastAnswer = e.Master + "=" + e.New
	} else {
		l.LastEvent = e.Channel + " " + e.Payload
	}
	w.mu.Unlock()
	select {
	case w.events <- e:
	default:
		w.mu.Lock()
		l.Dropped++
		w.mu.Unlock()
		w.log.Warn("sentinel event dropped: the follower is behind", slog.String("event", e.String()))
	}
}

func (w *Watcher) setLink(s string, up bool, why string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.links[s]
	l.Up, l.Since = up, w.clk.Now()
	if up {
		l.Connects++
	} else {
		l.LastError = why
	}
}

// run keeps the link to sentinel s: connect, listen, and after any end
// wait a backoff (reset by a link that came up) and connect again.
func (w *Watcher) run(ctx context.Context, s string) {
	defer w.wg.Done()
	backoff := w.cfg.MinBackoff
	for {
		up, err := w.link(ctx, s)
		if ctx.Err() != nil {
			return
		}
		if up {
			backoff = w.cfg.MinBackoff
		}
		w.setLink(s, false, err.Error())
		w.log.Warn("sentinel link down; reconnecting", slog.String("sentinel", s),
			slog.String("err", err.Error()), slog.Duration("retry_in", backoff))
		t := w.clk.Timer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, w.cfg.MaxBackoff)
	}
}

// errIdle ends a link whose sentinel stopped answering PINGs.
var errIdle = errors.New("sentinel silent")

// link runs one connection to sentinel s until it fails or ctx ends. up
// says whether it got as far as the subscribed state.
func (w *Watcher) link(ctx context.Context, s string) (up bool, err error) {
	lctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	c, err := dial(lctx, w.clk, s, w.cfg.DialTimeout)
	if err != nil {
		return false, err
	}
	defer c.Close()
	context.AfterFunc(lctx, func() { _ = c.Close() })
	var lastRead atomic.Int64
	lastRead.Store(w.clk.Now().UnixNano())
	var wmu sync.Mutex
	write := func(args ...string) error {
		wmu.Lock()
		defer wmu.Unlock()
		_, err := c.Write(resp.AppendCommandStrings(nil, args...))
		return err
	}
	if err := write("SUBSCRIBE", chanSwitchMaster, chanTryFailover); err != nil {
		return false, fmt.Errorf("sentinel %s: SUBSCRIBE: %w", s, err)
	}
	if err := write("PSUBSCRIBE", patAbort); err != nil {
		return false, fmt.Errorf("sentinel %s: PSUBSCRIBE: %w", s, err)
	}
	// The watchdog: the confirmations within DialTimeout, then a PING
	// every PingInterval and three silent intervals end the link.
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel(nil) // runs before wg.Wait
	subscribed := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.watchdog(lctx, cancel, s, subscribed, &lastRead, write)
	}()

	rd := resp.NewReaderLimits(bufio.NewReaderSize(c, 4<<10), replyLimits)
	confirmed := 0
	for {
		v, _, err := rd.ReadValue()
		if err != nil {
			if cause := context.Cause(lctx); cause != nil {
				return up, cause
			}
			return up, fmt.Errorf("sentinel %s: %w", s, err)
		}
		lastRead.Store(w.clk.Now().UnixNano())
		kind, fields, ok := pushFields(v)
		if !ok {
			if v.Kind == resp.KindError {
				return up, fmt.Errorf("%w: sentinel %s answered %s", ErrBadReply, s, clip(v.Text()))
			}
			w.log.Debug("sentinel sent an unexpected value", slog.String("sentinel", s), slog.String("value", clip(v.String())))
			continue
		}
		switch kind {
		case "subscribe", "psubscribe":
			if confirmed++; confirmed == 3 {
				up = true
				close(subscribed)
				w.setLink(s, true, "")
				w.log.Info("sentinel link up", slog.String("sentinel", s))
				wg.Add(1)
				go func() {
					defer wg.Done()
					w.poll(lctx, s)
				}()
			}
		case "message", "pmessage":
			ch, payload := fields[0], fields[1]
			if kind == "pmessage" {
				ch, payload = fields[1], fields[2]
			}
			e, err := parseEvent(s, ch, payload)
			if err != nil {
				w.log.Warn("sentinel message not understood; ignored", slog.String("sentinel", s), slog.String("err", err.Error()))
				continue
			}
			if w.names[e.Master] {
				w.emit(e)
			}
		}
	}
}

// pushFields reads a pub/sub push: its kind and the rest as text.
func pushFields(v resp.Value) (string, []string, bool) {
	if v.Kind != resp.KindArray || len(v.Array) < 2 {
		return "", nil, false
	}
	f := make([]string, len(v.Array))
	for i, e := range v.Array {
		f[i] = e.Text()
	}
	kind := strings.ToLower(f[0])
	want := map[string]int{"subscribe": 3, "psubscribe": 3, "message": 3, "pmessage": 4, "pong": 2}[kind]
	if want == 0 || len(f) != want {
		return "", nil, false
	}
	return kind, f[1:], true
}

func (w *Watcher) watchdog(ctx context.Context, cancel context.CancelCauseFunc, s string, subscribed <-chan struct{},
	lastRead *atomic.Int64, write func(...string) error) {
	confirm := w.clk.Timer(w.cfg.DialTimeout)
	select {
	case <-ctx.Done():
		confirm.Stop()
		return
	case <-confirm.C:
		cancel(fmt.Errorf("%w: sentinel %s did not confirm SUBSCRIBE in %s", errIdle, s, w.cfg.DialTimeout))
		return
	case <-subscribed:
		confirm.Stop()
	}
	t := w.clk.Ticker(w.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if idle := w.clk.Now().Sub(time.Unix(0, lastRead.Load())); idle >= 3*w.cfg.PingInterval {
			cancel(fmt.Errorf("%w: nothing from sentinel %s in %s", errIdle, s, idle.Round(time.Millisecond)))
			return
		}
		if err := write("PING"); err != nil {
			cancel(fmt.Errorf("sentinel %s: PING: %w", s, err))
			return
		}
	}
}

// poll asks s for every watched name now and every PollInterval while
// the link is up.
func (w *Watcher) poll(ctx context.Context, s string) {
	names := make([]string, 0, len(w.names))
	for n := range w.names {
		names = append(names, n)
	}
	slices.Sort(names)
	t := w.clk.Ticker(w.cfg.PollInterval)
	defer t.Stop()
	for {
		for _, n := range names {
			addr, err := AskMaster(ctx, w.clk, s, n, w.cfg.DialTimeout)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				w.log.Warn("sentinel did not name a primary", slog.String("sentinel", s), slog.String("master", n), slog.String("err", err.Error()))
				continue
			}
			w.emit(Event{Sentinel: s, Kind: Answer, Master: n, New: addr})
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
