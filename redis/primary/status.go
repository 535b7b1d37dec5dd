package primary

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/replsm/replsm/follower"

	"github.com/replsm/replsm/redis/resp"
	"github.com/replsm/replsm/redis/server"
	"github.com/replsm/replsm/slot"
)

// FollowerInfo describes one connected follower. A benchmark computes a
// follower's lag in bytes as Primary.Offset() - AckedOffset.
type FollowerInfo struct {
	// ID is the follower's id: the "ip:port" it announced with REPLCONF
	// listening-port (its remote address when it announced none). It is
	// what DisconnectFollower takes.
	ID string
	// IP and Port are the announced address (Redis's slaveN ip= and port=).
	IP   string
	Port int
	// Remote is the replication connection's peer address.
	Remote string
	// State is the follower machine's state: NotSync, DBSync or BinlogSync.
	State follower.State
	// Session is the follower's current session; acks must carry it.
	Session slot.Session
	// RedisState is what INFO shows: wait_bgsave, send_bulk or online.
	RedisState string
	// FullSync reports whether this session began with a full sync.
	FullSync bool
	// SentOffset is the stream position written to the connection so far.
	SentOffset int64
	// AckedOffset is the last offset the follower acknowledged (0 before
	// its first ACK).
	AckedOffset int64
	// LastAck is when that ACK arrived (zero before the first).
	LastAck time.Time
}

// Followers returns every connected follower, sorted by ID.
func (p *Primary) Followers() []FollowerInfo {
	p.mu.Lock()
	sessions := p.sessionsLocked()
	p.mu.Unlock()
	out := make([]FollowerInfo, 0, len(sessions))
	for _, s := range sessions {
		st := s.f.Status()
		if st.State == follower.Removed {
			continue
		}
		out = append(out, FollowerInfo{
			ID:          s.id,
			IP:          s.ip,
			Port:        s.port,
			Remote:      s.remote,
			State:       st.State,
			Session:     st.Session,
			RedisState:  phase(s.phase.Load()).redisState(),
			FullSync:    s.full.Load(),
			SentOffset:  s.sent.Load(),
			AckedOffset: st.Offset,
			LastAck:     st.LastAck,
		})
	}
	slices.SortFunc(out, func(a, b FollowerInfo) int {
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Stats are the primary's replication counters since New.
type Stats struct {
	// FullSyncs counts PSYNCs answered with +FULLRESYNC.
	FullSyncs uint64
	// PartialSyncs counts PSYNCs answered with +CONTINUE, and
	// ResumedBytes the backlog bytes those followers had missed.
	PartialSyncs uint64
	ResumedBytes uint64
	// SnapshotsStarted counts snapshots built for full syncs;
	// SnapshotsJoined counts full syncs that shared one already being
	// built.
	SnapshotsStarted uint64
	SnapshotsJoined  uint64
	// StaleAcks counts ACKs dropped because they came from a session that
	// was no longer the follower's live one.
	StaleAcks uint64
	// FellBehind counts followers dropped because the stream they still
	// needed had left the backlog.
	FellBehind uint64
	// ExpiredKeys counts keys deleted by active expiry (each streamed as
	// DEL).
	ExpiredKeys uint64
}

// Stats returns the counters.
func (p *Primary) Stats() Stats {
	started, joined := p.snaps.Counts()
	return Stats{
		FullSyncs:        p.stats.fullSyncs.Load(),
		PartialSyncs:     p.stats.partialSyncs.Load(),
		ResumedBytes:     p.stats.resumedBytes.Load(),
		SnapshotsStarted: started,
		SnapshotsJoined:  joined,
		StaleAcks:        p.stats.staleAcks.Load(),
		FellBehind:       p.stats.fellBehind.Load(),
		ExpiredKeys:      p.stats.expired.Load(),
	}
}

// Digest is a hash of the live data (keyspace.Keyspace.Digest): equal data
// and TTLs give equal digests.
func (p *Primary) Digest() string { return p.ks.Digest() }

// handleINFO answers INFO with the Replication section for "replication";
// with Config.InfoServer's Server section before it for no argument,
// "default", "all" and "everything" (those two add Stats); with the Server
// section alone for "server"; and with nothing for sections this primary
// does not keep.
func (p *Primary) handleINFO(c *server.Conn, args [][]byte) error {
	if len(args) > 1 {
		switch lowerName(args[1]) {
		case "replication":
		case "default":
			return c.WriteBulkString(p.infoServer() + p.infoReplication())
		case "server":
			return c.WriteBulkString(strings.TrimSuffix(p.infoServer(), "\r\n"))
		case "stats":
			return c.WriteBulkString(p.infoStats())
		case "all", "everything":
			return c.WriteBulkString(p.infoServer() + p.infoReplication() + "\r\n" + p.infoStats())
		default:
			return c.WriteBulkString("")
		}
		return c.WriteBulkString(p.infoReplication())
	}
	return c.WriteBulkString(p.infoServer() + p.infoReplication())
}

// infoServer is Config.InfoServer's section followed by the blank line
// between sections, or "" without one.
func (p *Primary) infoServer() string {
	if p.cfg.InfoServer == nil {
		return ""
	}
	s := p.cfg.InfoServer()
	if s == "" {
		return ""
	}
	return strings.TrimSuffix(s, "\r\n") + "\r\n\r\n"
}

// infoStats is INFO's Stats section, the sync counters only, in Redis's
// names: full syncs served, partial ones accepted, and PSYNCs that named a
// history but were refused a partial resync.
func (p *Primary) infoStats() string {
	return fmt.Sprintf("# Stats\r\nsync_full:%d\r\nsync_partial_ok:%d\r\nsync_partial_err:%d\r\n",
		p.stats.fullSyncs.Load(), p.stats.partialSyncs.Load(), p.stats.partialErr.Load())
}

// noReplID2 is what Redis shows as master_replid2 when it has no second id.
const noReplID2 = "0000000000000000000000000000000000000000"

// infoReplication renders INFO's Replication section with Redis 7.0's
// field names and order.
func (p *Primary) infoReplication() string {
	followers := p.Followers()
	p.mu.Lock()
	id, offset, id2, off2 := p.replID, p.bl.end, p.replID2, p.offset2
	first, hist, size := p.bl.start()+1, p.bl.hist, p.bl.size()
	p.mu.Unlock()
	now := p.clk.Now()

	var b strings.Builder
	b.WriteString("# Replication\r\nrole:master\r\n")
	fmt.Fprintf(&b, "connected_slaves:%d\r\n", len(followers))
	for i, f := range followers {
		lag := int64(0)
		if !f.LastAck.IsZero() {
			lag = int64(now.Sub(f.LastAck) / time.Second)
		}
		fmt.Fprintf(&b, "slave%d:ip=%s,port=%d,state=%s,offset=%d,lag=%d\r\n",
			i, f.IP, f.Port, f.RedisState, f.AckedOffset, lag)
	}
	b.WriteString("master_failover_state:no-failover\r\n")
	if id2 == "" {
		id2 = noReplID2
	}
	fmt.Fprintf(&b, "master_replid:%s\r\nmaster_replid2:%s\r\n", id, id2)
	fmt.Fprintf(&b, "master_repl_offset:%d\r\nsecond_repl_offset:%d\r\n", offset, off2)
	fmt.Fprintf(&b, "repl_backlog_active:1\r\nrepl_backlog_size:%d\r\n", size)
	fmt.Fprintf(&b, "repl_backlog_first_byte_offset:%d\r\nrepl_backlog_histlen:%d\r\n", first, hist)
	return b.String()
}

// roleReply is ROLE's answer: "master", the offset, and [ip, port, acked
// offset] for every online follower, as Redis 7.0 replies.
func (p *Primary) roleReply() resp.Value {
	var rows []resp.Value
	for _, f := range p.Followers() {
		if f.RedisState != "online" {
			continue
		}
		rows = append(rows, resp.Array(
			resp.BulkString(f.IP),
			resp.BulkString(strconv.Itoa(f.Port)),
			resp.BulkString(strconv.FormatInt(f.AckedOffset, 10)),
		))
	}
	return resp.Array(resp.BulkString("master"), resp.Integer(p.Offset()), resp.Array(rows...))
}
