package primary

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/redis/keyspace"
	"github.com/replsm/replsm/redis/server"
)

// Role changes (docs/failover.md). A replica shard that is promoted
// becomes a Primary made from what it has: its keyspace, the stream it
// applied (a Backlog) and the replication id of that stream, which becomes
// the new primary's second id (master_replid2) up to second_repl_offset, so
// that replicas of the old primary continue with +CONTINUE. Demote hands
// the same three things back, for the shard to follow another primary and
// ask it to continue this primary's history.

// demotedReply answers a write that reaches a Primary after Demote.
const demotedReply = "READONLY You can't write against a read only replica."

// History is a stream's state as it passes between the roles.
type History struct {
	// Keyspace is the data; it is shared, not copied.
	Keyspace *keyspace.Keyspace
	// Backlog holds the last bytes of the stream; its End is the offset
	// the data stands for.
	Backlog *Backlog
	// ReplID is the id of that stream: on Promote, the history the replica
	// followed; from Demote, the primary's own.
	ReplID string
	// SelectedDB is the database the stream had selected at End (-1: none
	// known, the next command selects one).
	SelectedDB int
}

// Promote makes a primary of a replica's history h, as Redis's REPLICAOF
// NO ONE does: h.ReplID becomes the second id, valid up to offset
// h.Backlog.End()+1, a new id is drawn from cfg.Rand, and the backlog
// keeps the stream received so far. The next write selects its database.
// The primary serves through Handle (the caller's server), or Listen.
func Promote(cfg Config, clk clock.Clock, logger *slog.Logger, h History) (*Primary, error) {
	if h.Keyspace == nil || h.Backlog == nil {
		return nil, fmt.Errorf("%w: Promote needs a keyspace and a backlog", ErrInvalidConfig)
	}
	if !validReplID(h.ReplID) {
		return nil, fmt.Errorf("%w: Promote needs the replication id of the history, got %q", ErrInvalidConfig, h.ReplID)
	}
	if cfg.ReplID == "" {
		cfg.ReplID = NewReplID(cfg.Rand) // one draw: the new history's id
	}
	p, err := newPrimary(cfg, clk, logger, h.Keyspace)
	if err != nil {
		return nil, err
	}
	h.Keyspace.SetReplica(false)
	p.mu.Lock()
	p.bl = h.Backlog
	p.replID2, p.offset2 = h.ReplID, h.Backlog.End()+1
	p.seldb = -1
	p.dataEnd, p.dataDB = p.bl.end, -1
	id, off := p.replID, p.bl.end
	p.mu.Unlock()
	p.log.Info("promoted to primary", "replid", id, "master_replid2", h.ReplID, "second_repl_offset", off+1, "backlog_bytes", h.Backlog.Len())
	return p, nil
}

// Handle serves one request for a server the caller runs (a promoted
// replica's read port). c.Data must be the primary's own per-connection
// state: nil at first, then whatever Handle left there.
func (p *Primary) Handle(c *server.Conn, args [][]byte) error { return p.handle(c, args) }

// Demote ends this primary for a role change: every follower is
// disconnected (as Redis does, so they re-sync and learn of the change),
// writes are refused from now on, the background work stops, and the
// history is returned for the replica role to continue. The keyspace is
// switched to replica mode. After Demote the Primary is closed.
func (p *Primary) Demote(reason string) (History, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return History{}, ErrClosed
	}
	p.mu.Unlock()
	if err := p.Close(); err != nil && !errors.Is(err, ErrClosed) {
		p.log.Warn("closing the demoted primary", "err", err)
	}
	// Close waited for every session and ticker: nothing of this primary
	// touches the keyspace or the backlog any more.
	p.mu.Lock()
	// The history handed back ends at the last change of data: a tail of
	// pings and PUBLISHes (Sentinel's hellos, every 2 s) changes nothing,
	// and keeping it would put this node past the promoted replica's
	// second_repl_offset, so the PSYNC that continues it would be a full
	// sync (docs/sentinel.md, "A replsm primary under Sentinel").
	tail := p.bl.end - p.dataEnd
	if tail > 0 {
		p.bl.truncate(p.dataEnd)
		p.seldb = p.dataDB
	}
	h := History{Keyspace: p.ks, Backlog: p.bl, ReplID: p.replID, SelectedDB: p.seldb}
	p.mu.Unlock()
	p.ks.SetReplica(true)
	p.log.Info("demoted: no longer a primary", "reason", reason, "replid", h.ReplID, "offset", h.Backlog.End(), "dropped_signal_tail_bytes", tail)
	return h, nil
}

// History2 is the second id and second_repl_offset ("" and -1 when none).
func (p *Primary) History2() (string, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.replID2, p.offset2
}
