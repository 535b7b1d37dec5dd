package replica

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/redis/keyspace"
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

// shard is one primary's data on this replica: its slot, its keyspace and
// its cursor. The keyspace pointer never changes; a full sync replaces its
// contents in one step (keyspace.ReplaceWith), so readers always see either the
// old data or the complete new data.
type shard struct {
	id       slot.ID
	endpoint string
	host     string
	port     int
	slot     *slot.Slot
	ks       *keyspace.Keyspace

	// live is the newest session of the shard; guarded by Replica.mu.
	live *session
	// probeCancel cancels the shard's reachability probe in flight (nil
	// when none); guarded by Replica.mu.
	probeCancel func()

	mu      sync.Mutex
	cur     Cursor
	lastErr error

	applied      atomic.Uint64
	fullSyncs    atomic.Uint64
	partialSyncs atomic.Uint64
	sessions     atomic.Uint64
	lastIO       atomic.Int64 // UnixNano on the replica's clock

	persist persist // snapshots in Config.StateDir (durable.go)
}

func newShard(id slot.ID, endpoint string, s *slot.Slot, clk clock.Clock) *shard {
	host, p, _ := net.SplitHostPort(endpoint) // checked by Config.Validate
	port, _ := strconv.Atoi(p)
	ks := keyspace.New(clk)
	ks.SetReplica(true)
	return &shard{id: id, endpoint: endpoint, host: host, port: port, slot: s, ks: ks}
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
	cur, lastErr := sh.cur, sh.lastErr
	sh.mu.Unlock()
	out := ShardStats{
		ID: sh.id, Endpoint: sh.endpoint, State: st.State, Session: st.Session,
		Cursor: cur, Applied: sh.applied.Load(), FullSyncs: sh.fullSyncs.Load(),
		PartialSyncs: sh.partialSyncs.Load(), Sessions: sh.sessions.Load(),
		Keys: sh.ks.Len(), LastFailure: lastErr,
	}
	if t := sh.lastIO.Load(); t != 0 {
		out.LastIO = timeOf(t)
	}
	sh.persist.stats(&out)
	return out
}
