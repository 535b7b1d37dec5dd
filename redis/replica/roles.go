package replica

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"strings"
	"sync"

	"github.com/replsm/replsm/redis/primary"
	"github.com/replsm/replsm/redis/server"
	"github.com/replsm/replsm/slot"
)

// One server, two roles (docs/failover.md). REPLICAOF NO ONE promotes a
// shard in place: its session ends, its slot is detached (a transition
// with the reason), and a primary.Primary made of the shard's keyspace,
// the backlog of the stream it applied and that stream's replication id
// (which becomes master_replid2) serves the shard's connections: writes,
// PSYNC from replicas of the old primary (+CONTINUE), INFO and ROLE as a
// primary. REPLICAOF host port on a promoted shard demotes it: the primary
// disconnects its followers and hands back its history, the cursor becomes
// (its replid, its offset), and the slot resumes towards the new primary,
// so the first PSYNC asks to continue this primary's own history.

// primaryConfig is the configuration promoted shards run with.
func (r *Replica) primaryConfig() primary.Config {
	cfg := primary.DefaultConfig()
	if r.cfg.Primary != nil {
		r.cfg.Primary(&cfg)
	}
	return cfg
}

// promoted is the primary the connection's single shard in scope is, or
// nil.
func (r *Replica) promoted(st *connState) *primary.Primary {
	if shards := r.shardsFor(st); len(shards) == 1 {
		return shards[0].prim.Load()
	}
	return nil
}

// asPrimary serves a request on a promoted shard. The connection keeps
// the primary's per-connection state apart from the read port's.
func (r *Replica) asPrimary(c *server.Conn, st *connState, p *primary.Primary, args [][]byte) error {
	if st.prim.of != p {
		st.prim = primConn{of: p} // a new primary: none of an earlier one's state
	}
	c.Data = st.prim.data
	defer func() {
		st.prim.data = c.Data
		c.Data = st
	}()
	return p.Handle(c, args)
}

// primConn is a connection's state as the primary of a promoted shard
// keeps it (server.Conn.Data while the primary serves it).
type primConn struct {
	of   *primary.Primary
	data any
}

// Primary is the primary shard id is while promoted (REPLICAOF NO ONE or
// Config.StartAsPrimary), or nil while it is a replica.
func (r *Replica) Primary(id slot.ID) *primary.Primary {
	sh, err := r.shard(id)
	if err != nil {
		return nil
	}
	return sh.prim.Load()
}

// errNotPromoted is returned by demote for a shard that is a replica.
var errNotPromoted = errors.New("shard is not a primary")

// promote makes sh a writable primary in place.
func (r *Replica) promote(sh *shard, reason string) error {
	r.roleMu.Lock()
	defer r.roleMu.Unlock()
	if sh.prim.Load() != nil {
		return nil // already a primary: +OK, as Redis answers
	}
	if _, err := sh.slot.Detach("promoted to primary: " + reason); err != nil {
		return fmt.Errorf("shard %d cannot be promoted from state %s: %w", sh.id, sh.slot.State(), err)
	}
	r.waitSession(sh) // the stream stops before its history is taken
	cur := sh.cursor()
	id := cur.ReplID
	if !cur.Valid() {
		// Never synced: no one can continue the history it does not have.
		id = primary.NewReplID(r.rnd)
	}
	cfg := r.primaryConfig()
	cfg.Hub, cfg.Rand, cfg.ReplID = r.hub, r.rnd, ""
	cfg.ReplicaOf = func(c *server.Conn, host, port []byte) error { return r.replicaOf(c, sh, host, port) }
	cfg.InfoServer = func() string { // run_id, which Sentinel watches for restarts
		var b strings.Builder
		r.writeServer(&b, r.clk.Now())
		return b.String()
	}
	hist := sh.takeHist(cur.Offset)
	if hist == nil { // cannot happen while the shard is a replica; be safe
		hist = primary.NewBacklog(cfg.BacklogSize, cur.Offset)
	}
	p, err := primary.Promote(cfg, r.clk, r.log.With(slog.String("shard", sh.id.String()), slog.String("role", "primary")),
		primary.History{Keyspace: sh.ks, Backlog: hist, ReplID: id, SelectedDB: cur.DB})
	if err != nil {
		// Put the shard back as it was: a replica of the same primary.
		sh.ks.SetReplica(true)
		sh.giveHist(hist)
		_, _ = sh.slot.Resume("promotion failed: " + err.Error())
		return err
	}
	sh.prim.Store(p)
	r.log.Info("shard promoted to primary", slog.String("id", sh.id.String()), slog.String("reason", reason),
		slog.String("replid", p.ReplID()), slog.String("master_replid2", id), slog.Int64("second_repl_offset", cur.Offset+1))
	return nil
}

// demote makes a promoted sh follow addr again, continuing its own history.
func (r *Replica) demote(sh *shard, addr, reason string) error {
	r.roleMu.Lock()
	defer r.roleMu.Unlock()
	p := sh.prim.Load()
	if p == nil {
		return errNotPromoted
	}
	h, err := p.Demote(reason)
	if err != nil {
		return err
	}
	sh.prim.Store(nil)
	sh.takeBack(h)
	old := sh.addr()
	sh.ep.Store(parseEndpoint(addr))
	if _, err := sh.slot.Resume("demoted to replica of " + addr + ": " + reason); err != nil {
		return fmt.Errorf("shard %d: resume as a replica: %w", sh.id, err)
	}
	if addr != old {
		if _, err := sh.slot.SetEndpoint(addr, "demoted: REPLICAOF "+addr); err != nil {
			return err
		}
	}
	if r.inst.Master() == "" {
		// Started as a primary: the instance has followed nothing yet.
		if _, err := r.inst.SlaveOf(r.masterLabel()); err != nil {
			return fmt.Errorf("shard %d: follow %s: %w", sh.id, addr, err)
		}
	}
	r.log.Info("shard demoted to replica", slog.String("id", sh.id.String()), slog.String("primary", addr),
		slog.String("reason", reason), slog.String("psync_replid", h.ReplID), slog.Int64("psync_offset", h.Backlog.End()+1))
	return nil
}

// waitSession waits for sh's session to exit (its slot already left it).
func (r *Replica) waitSession(sh *shard) {
	r.mu.Lock()
	live := sh.live
	r.mu.Unlock()
	if live != nil {
		live.stop("shard promoted")
		<-live.done
	}
}

// closePromoted ends every promoted shard's primary at Close; its history
// becomes the shard's cursor, so a final snapshot says where the data
// stands (the primary's own id and offset), never the old primary's.
func (r *Replica) closePromoted() {
	for _, sh := range r.shards() {
		p := sh.prim.Load()
		if p == nil {
			continue
		}
		h, err := p.Demote("replica closing")
		if err != nil {
			continue
		}
		sh.takeBack(h)
	}
}

// takeBack makes a demoted primary's history the shard's: its backlog, and
// a cursor at its own id and offset, from which the next PSYNC continues.
func (sh *shard) takeBack(h primary.History) {
	sh.giveHist(h.Backlog)
	sh.mu.Lock()
	sh.cur = Cursor{ReplID: h.ReplID, Offset: h.Backlog.End(), DB: max(h.SelectedDB, 0)}
	sh.id2, sh.off2 = "", -1
	sh.mu.Unlock()
}

// isNoOne reports REPLICAOF NO ONE's arguments.
func isNoOne(host, port []byte) bool {
	return bytes.EqualFold(host, []byte("no")) && bytes.EqualFold(port, []byte("one"))
}

// lockedReader makes a random source safe for the shards' concurrent
// promotions.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// newRand is the replica's source of replication ids: seeded from seed
// (repeatable runs), or crypto/rand for a zero seed.
func newRand(seed uint64) io.Reader {
	if seed == 0 {
		return rand.Reader
	}
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	key[8] = 'r' // not the stream the jitter uses
	return &lockedReader{r: mrand.NewChaCha8(key)}
}
