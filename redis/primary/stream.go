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

// planPSYNC decides between +CONTINUE and +FULLRESYNC as Redis 7.0's
// masterTryPartialResynchronization does (without a second replication
// id: ForgetHistory discards the old history entirely). askedOff is the
// PSYNC argument, one more than the follower's processed bytes.
func planPSYNC(myID string, bl *backlog, askedID string, askedOff int64) psyncPlan {
	switch {
	case askedID == "?":
		return psyncPlan{reason: "full resync requested by replica (PSYNC ? " + strconv.FormatInt(askedOff, 10) + ")"}
	case askedID != myID:
		return psyncPlan{reason: fmt.Sprintf("replication id mismatch: replica asked for %q, mine is %q", askedID, myID)}
	case askedOff < 1 || !bl.covers(askedOff-1):
		return psyncPlan{reason: fmt.Sprintf("offset %d not in backlog (it holds %d..%d)", askedOff, bl.start()+1, bl.end+1)}
	}
	owed := bl.end - (askedOff - 1)
	return psyncPlan{
		resume: true,
		pos:    askedOff - 1,
		owed:   owed,
		reason: fmt.Sprintf("partial resync from offset %d: %d bytes of backlog to send", askedOff, owed),
	}
}
