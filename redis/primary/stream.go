package primary

import (
	"fmt"
	"strconv"

	"github.com/replsm/replsm/redis/resp"
)

// op is one command to append to the replication stream and the database
// it applies to.
type op struct {
	db   int
	args [][]byte
}

// pingCommand is the keepalive Redis 7.0 streams every
// repl-ping-replica-period: a lower-case "ping", which never changes the
// stream's selected database.
var pingCommand = resp.AppendCommandStrings(nil, "ping")

// feedLocked appends ops to the replication stream exactly as Redis 7.0's
// propagatePendingCommands does: a SELECT before any command whose database
// differs from the stream's, and MULTI ... EXEC around the ops when one
// call propagated more than one command (a command plus the DELs of the
// expired keys it found, or a transaction). Callers hold p.mu, under which
// they also ran the keyspace commands that produced ops, so the stream's
// order is the order in which the changes took effect.
func (p *Primary) feedLocked(ops []op) {
	if len(ops) == 0 {
		return
	}
	p.feedOpsLocked(ops)
	p.dataEnd, p.dataDB = p.bl.end, p.seldb
}

// feedSignalLocked streams a command that changes no data (PUBLISH): it
// does not move dataEnd, so Demote may drop it with the pings after it.
func (p *Primary) feedSignalLocked(o op) { p.feedOpsLocked([]op{o}) }

func (p *Primary) feedOpsLocked(ops []op) {
	buf := p.feedBuf[:0]
	wrap := len(ops) > 1
	if wrap {
		buf = p.appendSelectLocked(buf, ops[0].db)
		buf = resp.AppendCommandStrings(buf, "MULTI")
	}
	for _, o := range ops {
		buf = p.appendSelectLocked(buf, o.db)
		buf = resp.AppendCommand(buf, o.args...)
	}
	if wrap {
		buf = resp.AppendCommandStrings(buf, "EXEC")
	}
	p.appendLocked(buf)
	if cap(buf) <= 64<<10 {
		p.feedBuf = buf // keep a modest scratch buffer, not one huge value's
	}
}

func (p *Primary) appendSelectLocked(buf []byte, db int) []byte {
	if db == p.seldb {
		return buf
	}
	p.seldb = db
	return resp.AppendCommandStrings(buf, "SELECT", strconv.Itoa(db))
}

// appendLocked adds raw stream bytes to the backlog, which advances the
// offset, and wakes every session waiting to stream them.
func (p *Primary) appendLocked(b []byte) {
	p.bl.write(b)
	close(p.wake)
	p.wake = make(chan struct{})
}

// pingFollowersLocked streams a "ping" when any follower is connected, as
// Redis's replicationCron does.
func (p *Primary) pingFollowersLocked() {
	if len(p.sessions) > 0 {
		p.appendLocked(pingCommand)
	}
}

// psyncPlan is what a PSYNC request gets.
type psyncPlan struct {
	resume bool   // +CONTINUE from pos; otherwise +FULLRESYNC
	pos    int64  // the follower's stream position when resuming
	owed   int64  // backlog bytes the resuming follower missed
	reason string // why, in words, for the follower's transition record
}

// history names the stream a primary can continue: its own id, and the
// id it continued before its promotion (Redis's replid2) up to offset2
// (second_repl_offset, the first offset the old history did not have; -1
// without a second id).
type history struct {
	id, id2 string
	offset2 int64
}

// planPSYNC decides for a primary with one replication id.
func planPSYNC(myID string, bl *Backlog, askedID string, askedOff int64) psyncPlan {
	return planPSYNC2(history{id: myID, offset2: -1}, bl, askedID, askedOff)
}

// planPSYNC2 decides between +CONTINUE and +FULLRESYNC as Redis 7.0's
// masterTryPartialResynchronization does. askedOff is the PSYNC argument,
// one more than the follower's processed bytes. A follower of the previous
// history continues only up to where that history ended here: one that is
// ahead of it holds bytes this primary never had, so it must full-sync.
func planPSYNC2(h history, bl *Backlog, askedID string, askedOff int64) psyncPlan {
	switch {
	case askedID == "?":
		return psyncPlan{reason: "full resync requested by replica (PSYNC ? " + strconv.FormatInt(askedOff, 10) + ")"}
	case askedID != h.id && (h.id2 == "" || askedID != h.id2):
		return psyncPlan{reason: fmt.Sprintf("replication id mismatch: replica asked for %q, mine is %q", askedID, h.id)}
	case askedID != h.id && askedOff > h.offset2:
		return psyncPlan{reason: fmt.Sprintf("replica asked for offset %d of the previous history %q, which ended here at %d: it is ahead of this primary", askedOff, askedID, h.offset2)}
	case askedOff < 1 || !bl.covers(askedOff-1):
		return psyncPlan{reason: fmt.Sprintf("offset %d not in backlog (it holds %d..%d)", askedOff, bl.start()+1, bl.end+1)}
	}
	owed := bl.end - (askedOff - 1)
	via := ""
	if askedID != h.id {
		via = " of the previous history"
	}
	return psyncPlan{
		resume: true,
		pos:    askedOff - 1,
		owed:   owed,
		reason: fmt.Sprintf("partial resync from offset %d%s: %d bytes of backlog to send", askedOff, via, owed),
	}
}
