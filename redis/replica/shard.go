package replica

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/redis/keyspace"
	"github.com/replsm/replsm/redis/primary"
	"github.com/replsm/replsm/slot"
)

// Cursor is where a shard's data stands in its primary's history: the
// replication id and offset of the last byte applied, and the database the
// stream had SELECTed there (a primary does not repeat SELECT after a
// +CONTINUE unless the database changes, so the replica must remember it,
// as Redis's cached master client does).
type Cursor struct {
	ReplID string // "" until the first full sync has loaded
	Offset int64
	DB     int
}

// Valid reports whether the cursor names a position a PSYNC can resume
// from.
func (c Cursor) Valid() bool { return c.ReplID != "" }

// ShardStats are a shard's counters and position, for INFO, demos and
// benchmarks.
type ShardStats struct {
	ID       slot.ID
	Endpoint string
	State    slot.State
	Session  slot.Session
	Cursor   Cursor
	// Applied counts write commands applied from the stream (SELECT, ping,
	// REPLCONF and MULTI/EXEC markers not included).
	Applied uint64
	// Unapplied counts commands of the stream this replica skipped because
	// it cannot apply them (see LastUnapplied); the data may then differ
	// from the primary's for the keys they touch.
	Unapplied uint64
	// LastUnapplied says which command was skipped last and why.
	LastUnapplied string
	// FullSyncs counts snapshots loaded and swapped in (+FULLRESYNC done).
	FullSyncs uint64
	// PartialSyncs counts +CONTINUE replies accepted.
	PartialSyncs uint64
	// Sessions counts connections made to the primary.
	Sessions uint64
	// Keys is the number of keys in the shard's keyspace, all databases.
	Keys int
	// LastIO is when the last byte came from the primary (zero: never).
	LastIO time.Time
	// LastFailure is why the last session failed (nil if none did); it
	// wraps ErrReadTimeout, ErrProtocol, ErrApply, rdb.ErrCorrupt, a net
	// error, ... as the case may be.
	LastFailure error

	// With Config.StateDir:

	// Durable is the cursor of the shard's snapshot in the state dir, where
	// a restart resumes (zero: none usable yet).
	Durable Cursor
	// Snapshots counts snapshots written since New.
	Snapshots uint64
	// SnapshotError is why the last snapshot failed; nil after a success.
	SnapshotError error
	// Restored is true when the shard started from its saved snapshot.
	Restored bool
}

// endpoint is a primary's address, split once for ROLE and INFO.
type endpoint struct {
	addr string
	host string
	port int
}

func parseEndpoint(addr string) *endpoint {
	host, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	return &endpoint{addr: addr, host: host, port: port}
}

// addr is the address of the primary the shard follows now.
func (sh *shard) addr() string { return sh.ep.Load().addr }

// shard is one primary's data on this replica: its slot, its keyspace and
// its cursor. The keyspace pointer never changes; a full sync replaces its
// contents in one step (keyspace.ReplaceWith), so readers always see either the
// old data or the complete new data.
type shard struct {
	id   slot.ID
	ep   atomic.Pointer[endpoint] // the primary followed; REPLICAOF changes it
	slot *slot.Slot
	ks   *keyspace.Keyspace

	// live is the newest session of the shard; guarded by Replica.mu.
	live *session
	// probeCancel cancels the shard's reachability probe in flight (nil
	// when none); guarded by Replica.mu.
	probeCancel func()

	mu      sync.Mutex
	cur     Cursor
	lastErr error

	applied   atomic.Uint64
	unapplied atomic.Uint64
	// lastUnapplied and loggedUnapplied (command names already logged,
	// bounded) are guarded by mu.
	lastUnapplied   string
	loggedUnapplied map[string]struct{}
	fullSyncs       atomic.Uint64
	partialSyncs    atomic.Uint64
	sessions        atomic.Uint64
	lastIO          atomic.Int64 // UnixNano on the replica's clock

	persist persist // snapshots in Config.StateDir (durable.go)

	// The stream applied, for promotion (history.go), and the primary the
	// shard is while promoted (roles.go).
	histMu sync.Mutex
	hist   *primary.Backlog // nil while promoted
	pend   []byte           // bytes of an open MULTI
	prim   atomic.Pointer[primary.Primary]

	obs shardObs // what INFO and the metrics say beyond the counters above
}

// shardObs is what a shard records for INFO and the metrics: transfer
// progress, the last full sync, when the link went down, and lag samples.
// Times are UnixNano on the replica's clock; zero means never.
type shardObs struct {
	rx            atomic.Int64 // bytes read from primaries, every session
	xferActive    atomic.Bool
	xferTotal     atomic.Int64 // payload size; -1 when EOF-marked (unknown)
	xferBase      atomic.Int64 // rx where the payload began
	xferStart     atomic.Int64
	lastFullDur   atomic.Int64 // nanoseconds
	lastFullBytes atomic.Int64
	lastFullAt    atomic.Int64
	downSince     atomic.Int64 // when the shard last left Connected
	upSince       atomic.Int64 // when it last entered Connected
	lag           lagTrack
}

// transferProgress is a transfer in flight: total (-1: unknown) and read
// bytes of its payload.
func (o *shardObs) transferProgress() (active bool, total, read int64) {
	if !o.xferActive.Load() {
		return false, 0, 0
	}
	total = o.xferTotal.Load()
	read = max(o.rx.Load()-o.xferBase.Load(), 0)
	if total >= 0 {
		read = min(read, total)
	}
	return true, total, read
}

func newShard(id slot.ID, endpoint string, s *slot.Slot, clk clock.Clock, backlog int) *shard {
	ks := keyspace.New(clk)
	ks.SetReplica(true)
	sh := &shard{id: id, slot: s, ks: ks, hist: primary.NewBacklog(backlog, 0)}
	sh.ep.Store(parseEndpoint(endpoint)) // checked by Config.Validate
	return sh
}

func (sh *shard) cursor() Cursor {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.cur
}

// advance moves the cursor past data the applier applied.
func (sh *shard) advance(db int, off int64, applied uint64) {
	sh.mu.Lock()
	sh.cur.DB, sh.cur.Offset = db, off
	sh.mu.Unlock()
	if applied > 0 {
		sh.applied.Add(applied)
	}
}

// maxLoggedUnapplied bounds the command names remembered for logging once.
const maxLoggedUnapplied = 256

// noteUnapplied counts a skipped command and reports whether its name is
// new to this shard, so that it is logged once, not once per occurrence.
func (sh *shard) noteUnapplied(args [][]byte, reason string) bool {
	sh.unapplied.Add(1)
	name := strings.ToLower(clipText(string(args[0])))
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.lastUnapplied = reason
	if _, seen := sh.loggedUnapplied[name]; seen {
		return false
	}
	if sh.loggedUnapplied == nil {
		sh.loggedUnapplied = map[string]struct{}{}
	}
	if len(sh.loggedUnapplied) < maxLoggedUnapplied {
		sh.loggedUnapplied[name] = struct{}{}
	}
	return true
}

// adoptReplID takes the id a +CONTINUE announced; the offset carries on.
func (sh *shard) adoptReplID(id string) {
	sh.mu.Lock()
	sh.cur.ReplID = id
	sh.mu.Unlock()
}

// install makes a fully loaded snapshot the shard's data, at cur.
func (sh *shard) install(loaded *keyspace.Keyspace, cur Cursor) {
	sh.ks.ReplaceWith(loaded)
	sh.mu.Lock()
	sh.cur = cur
	sh.mu.Unlock()
	sh.fullSyncs.Add(1)
}

func (sh *shard) noteFailure(err error) {
	sh.mu.Lock()
	sh.lastErr = err
	sh.mu.Unlock()
}

func (sh *shard) stats() ShardStats {
	st := sh.slot.Status()
	sh.mu.Lock()
	cur, lastErr, lastUnapplied := sh.cur, sh.lastErr, sh.lastUnapplied
	sh.mu.Unlock()
	out := ShardStats{
		ID: sh.id, Endpoint: sh.addr(), State: st.State, Session: st.Session,
		Cursor: cur, Applied: sh.applied.Load(), FullSyncs: sh.fullSyncs.Load(),
		Unapplied: sh.unapplied.Load(), LastUnapplied: lastUnapplied,
		PartialSyncs: sh.partialSyncs.Load(), Sessions: sh.sessions.Load(),
		Keys: sh.ks.Len(), LastFailure: lastErr,
	}
	if t := sh.lastIO.Load(); t != 0 {
		out.LastIO = timeOf(t)
	}
	sh.persist.stats(&out)
	return out
}
