package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/redis/sentinel"
	"github.com/replsm/replsm/slot"
)

// Following Redis Sentinel (docs/sentinel.md). A shard named in
// Config.Sentinel.Masters follows whichever node the sentinels name for
// its master name. A sentinel.Watcher keeps a pub/sub link to every
// sentinel; its events arrive here one at a time:
//
//	+try-failover of the primary followed
//	                the shard stops following it: its session is closed
//	                and new ones answer "busy" without dialling, until the
//	                failover ends, every sentinel that started it aborts,
//	                or FailoverHold passes. Writes the old primary takes
//	                meanwhile are the ones the failover discards; applying
//	                them would put the shard ahead of the promoted node's
//	                history and cost a full sync.
//	+switch-master  the announced node's ROLE is checked; a master is
//	                followed (the slot's repoint transition, cursor kept,
//	                PSYNC continues on the promoted node's replid2); any
//	                other answer is a stale announcement, logged and ignored.
//	an answer to GET-MASTER-ADDR-BY-NAME (asked on every link-up and every
//	                PollInterval) naming another node: followed only if that
//	                node's ROLE is master and the node followed no longer
//	                says it is one — a missed +switch-master is caught up,
//	                a lagging sentinel cannot pull the shard back.
//
// Every reason handed to the slot says which sentinel said what and what
// the ROLE check answered, so the transition log tells the failover's
// story.

// SentinelConfig makes shards follow the primary Redis Sentinel names.
type SentinelConfig struct {
	// Sentinels are the "host:port" of the sentinels to ask and listen to.
	Sentinels []string
	// Masters maps a shard to the name the sentinels monitor its primary
	// under. Every shard listed must be in Config.Shards (with the address
	// the sentinels name now, e.g. from ResolveSentinelShards); names are
	// distinct.
	Masters map[slot.ID]string
	// Link tunes the sentinel links: DialTimeout, PingInterval,
	// PollInterval, MinBackoff, MaxBackoff (zero: the sentinel package's
	// defaults). Its Sentinels, Masters, OnEvent and Logger are set here.
	Link sentinel.Config
	// FailoverHold bounds how long a +try-failover keeps a shard off its
	// old primary without a +switch-master or an abort; zero means
	// DefaultFailoverHold.
	FailoverHold time.Duration
}

// DefaultFailoverHold is SentinelConfig.FailoverHold's zero value.
const DefaultFailoverHold = 30 * time.Second

func (c *SentinelConfig) validate(shards map[slot.ID]string) error {
	if c == nil {
		return nil
	}
	if len(c.Sentinels) == 0 || len(c.Masters) == 0 {
		return fmt.Errorf("%w: Sentinel needs Sentinels and Masters", ErrInvalidConfig)
	}
	if c.FailoverHold < 0 {
		return fmt.Errorf("%w: Sentinel.FailoverHold must be >= 0, got %s", ErrInvalidConfig, c.FailoverHold)
	}
	seen := map[string]slot.ID{}
	for id, name := range c.Masters {
		if _, ok := shards[id]; !ok {
			return fmt.Errorf("%w: Sentinel.Masters names shard %d, which is not in Shards", ErrInvalidConfig, id)
		}
		if o, dup := seen[name]; dup {
			return fmt.Errorf("%w: shards %d and %d both follow sentinel name %q", ErrInvalidConfig, o, id, name)
		}
		seen[name] = id
	}
	for _, s := range c.Sentinels {
		if err := checkEndpoint(s); err != nil {
			return fmt.Errorf("%w: sentinel: %v", ErrInvalidConfig, err)
		}
	}
	return nil
}

// ResolveSentinelShards asks the sentinels (in turn) for the primary of
// every name in masters and returns shard -> "host:port", for
// Config.Shards. Each question is bounded by timeout on clk; it fails with
// sentinel.ErrNoAnswer when no sentinel names a primary for some name.
func ResolveSentinelShards(ctx context.Context, clk clock.Clock, sentinels []string, masters map[slot.ID]string, timeout time.Duration) (map[slot.ID]string, error) {
	out := map[slot.ID]string{}
	for _, id := range slices.Sorted(maps.Keys(masters)) {
		addr, _, err := sentinel.Resolve(ctx, clk, sentinels, masters[id], timeout)
		if err != nil {
			return nil, fmt.Errorf("shard %d: %w", id, err)
		}
		out[id] = addr
	}
	return out, nil
}

// sentinelFollower carries out what the sentinels say (see above).
type sentinelFollower struct {
	r      *Replica
	w      *sentinel.Watcher
	byName map[string]*shard
	hold   time.Duration
	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex
	holds map[slot.ID]*failoverHold
	// ignored counts announcements not followed (stale or unconfirmed).
	ignored uint64
}

// failoverHold keeps a shard off endpoint while sentinels fail it over.
type failoverHold struct {
	endpoint string
	by       map[string]string // sentinel -> what it announced
	until    time.Time
}

func newSentinelFollower(r *Replica) (*sentinelFollower, error) {
	sc := r.cfg.Sentinel
	f := &sentinelFollower{r: r, byName: map[string]*shard{}, holds: map[slot.ID]*failoverHold{}, hold: sc.FailoverHold}
	if f.hold == 0 {
		f.hold = DefaultFailoverHold
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	lc := sc.Link
	lc.Sentinels, lc.Masters, lc.OnEvent = slices.Clone(sc.Sentinels), nil, f.onEvent
	if lc.Logger == nil {
		lc.Logger = r.log
	}
	for id, name := range sc.Masters {
		sh, _ := r.lookup(id)
		f.byName[name] = sh
		lc.Masters = append(lc.Masters, name)
	}
	slices.Sort(lc.Masters)
	w, err := sentinel.NewWatcher(lc, r.clk)
	if err != nil {
		f.cancel()
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	f.w = w
	return f, nil
}

func (f *sentinelFollower) start() { f.w.Start() }

func (f *sentinelFollower) close() {
	f.cancel() // ends a ROLE check in flight, so the dispatcher returns
	f.w.Close()
}

// SentinelStatus is what the sentinel follower knows: every link's
// state, how many announcements it did not follow, and the shards held
// off their primary by a failover in progress.
type SentinelStatus struct {
	Links   []sentinel.Link
	Ignored uint64
	Held    []slot.ID
}

// SentinelStatus reports the sentinel follower's state (zero without
// Config.Sentinel).
func (r *Replica) SentinelStatus() SentinelStatus {
	if r.sent == nil {
		return SentinelStatus{}
	}
	f := r.sent
	f.mu.Lock()
	st := SentinelStatus{Ignored: f.ignored, Held: slices.Sorted(maps.Keys(f.holds))}
	f.mu.Unlock()
	st.Links = f.w.Links()
	return st
}

// onEvent is the watcher's callback: one event at a time.
func (f *sentinelFollower) onEvent(e sentinel.Event) {
	sh := f.byName[e.Master]
	if sh == nil {
		return
	}
	log := f.r.log.With(slog.String("id", sh.id.String()), slog.String("sentinel", e.Sentinel), slog.String("master", e.Master))
	switch e.Kind {
	case sentinel.TryFailover:
		f.startHold(sh, e, log)
	case sentinel.FailoverAbort:
		f.abortHold(sh, e, log)
	case sentinel.SwitchMaster, sentinel.Answer:
		f.follow(sh, e, log)
	}
}

// startHold keeps sh off its primary while e's sentinel fails it over.
func (f *sentinelFollower) startHold(sh *shard, e sentinel.Event, log *slog.Logger) {
	if e.Old != sh.addr() {
		log.Info("sentinel failover of a node this shard does not follow; nothing to hold", slog.String("event", e.String()), slog.String("follows", sh.addr()))
		return
	}
	f.mu.Lock()
	h := f.holds[sh.id]
	if h == nil || h.endpoint != e.Old {
		h = &failoverHold{endpoint: e.Old, by: map[string]string{}}
		f.holds[sh.id] = h
	}
	h.by[e.Sentinel] = e.String()
	h.until = f.r.clk.Now().Add(f.hold)
	f.mu.Unlock()
	why := fmt.Sprintf("%s: not following %s until the sentinels name its successor (at most %s)", e, e.Old, f.hold)
	log.Info("sentinel failover started; shard holds off its primary", slog.String("reason", why))
	f.r.mu.Lock()
	live := sh.live
	f.r.mu.Unlock()
	if live != nil && live.endpoint == e.Old {
		live.abort(errors.New(why))
	}
}

func (f *sentinelFollower) abortHold(sh *shard, e sentinel.Event, log *slog.Logger) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.holds[sh.id]
	if h == nil || h.endpoint != e.Old {
		return
	}
	delete(h.by, e.Sentinel)
	if len(h.by) == 0 {
		delete(f.holds, sh.id)
		log.Info("sentinel failover aborted; shard follows its primary again", slog.String("event", e.String()))
	}
}

// releaseHold ends sh's hold, if any.
func (f *sentinelFollower) releaseHold(sh *shard) {
	f.mu.Lock()
	delete(f.holds, sh.id)
	f.mu.Unlock()
}

// heldBy says why a session of sh must not dial endpoint now ("" when it
// may).
func (f *sentinelFollower) heldBy(sh *shard, endpoint string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.holds[sh.id]
	if h == nil || h.endpoint != endpoint {
		return ""
	}
	if !f.r.clk.Now().Before(h.until) {
		delete(f.holds, sh.id)
		f.r.log.Warn("sentinel failover hold expired without a new primary; following the old one again",
			slog.String("id", sh.id.String()), slog.String("endpoint", endpoint))
		return ""
	}
	for _, s := range slices.Sorted(maps.Keys(h.by)) {
		return fmt.Sprintf("failover in progress (%s); not asking %s", h.by[s], endpoint)
	}
	return ""
}

// failoverHold is the session's check before it dials: a shard held off
// its primary answers busy (asked again after BusyPoll, no budget spent).
func (r *Replica) failoverHold(sh *shard, endpoint string) error {
	if r.sent == nil {
		return nil
	}
	if why := r.sent.heldBy(sh, endpoint); why != "" {
		return fmt.Errorf("%w: %s", errBusy, why)
	}
	return nil
}

// follow re-points sh at the node e names once its ROLE says master.
func (f *sentinelFollower) follow(sh *shard, e sentinel.Event, log *slog.Logger) {
	cur := sh.addr()
	if e.New == cur {
		if e.Kind == sentinel.SwitchMaster {
			f.releaseHold(sh)
			log.Info("sentinel named the primary this shard already follows", slog.String("event", e.String()))
		}
		return
	}
	p := f.r.probeRole(f.ctx, e.New)
	if f.ctx.Err() != nil {
		return
	}
	if p.kind != rolePrimary {
		f.ignore(log, e, "ROLE of "+e.New+" says "+roleText(p))
		return
	}
	check := fmt.Sprintf("ROLE of %s: master (offset %d)", e.New, p.offset)
	if e.Kind == sentinel.Answer {
		// A poll answer is not an announcement: follow it only when the
		// node followed has stopped being a primary (a missed
		// +switch-master), never away from a live primary.
		if cp := f.r.probeRole(f.ctx, cur); cp.kind == rolePrimary || f.ctx.Err() != nil {
			f.ignore(log, e, check+", but ROLE of "+cur+" (followed) still says master; waiting for +switch-master")
			return
		} else {
			check += "; ROLE of " + cur + " (followed) says " + roleText(cp)
		}
	}
	reason := fmt.Sprintf("%s; %s; continuing from the shard's cursor", e, check)
	if err := f.r.repoint(sh, e.New, reason); err != nil {
		f.ignore(log, e, "re-point refused: "+err.Error())
		return
	}
	f.releaseHold(sh)
}

func (f *sentinelFollower) ignore(log *slog.Logger, e sentinel.Event, why string) {
	f.mu.Lock()
	f.ignored++
	f.mu.Unlock()
	log.Warn("sentinel announcement not followed", slog.String("event", e.String()), slog.String("why", why))
}

// roleText says what a ROLE probe found, for logs and reasons.
func roleText(p roleProbe) string {
	switch p.kind {
	case rolePrimary:
		return fmt.Sprintf("master (offset %d)", p.offset)
	case roleReplica:
		return "slave of " + p.master
	case roleUnreachable:
		return "nothing (unreachable: " + errText(p.err) + ")"
	}
	return "no role (" + errText(p.err) + ")"
}

// writeSentinelInfo is INFO replsm's sentinel lines: how many links are
// up, each link, the announcements not followed, the shards on hold.
func (r *Replica) writeSentinelInfo(b *strings.Builder) {
	if r.sent == nil {
		return
	}
	st := r.SentinelStatus()
	up := 0
	for _, l := range st.Links {
		if l.Up {
			up++
		}
	}
	fmt.Fprintf(b, "sentinel_links_up:%d/%d\r\nsentinel_ignored:%d\r\nsentinel_held:%d\r\n", up, len(st.Links), st.Ignored, len(st.Held))
	for i, l := range st.Links {
		fmt.Fprintf(b, "sentinel%d:addr=%s,up=%d,connects=%d,dropped=%d", i, l.Sentinel, boolDigit(l.Up), l.Connects, l.Dropped)
		if l.LastError != "" {
			fmt.Fprintf(b, ",last_error=%q", oneLine(l.LastError))
		}
		b.WriteString("\r\n")
	}
}
