package replica

import (
	"strings"

	"github.com/replsm/replsm/redis/keyspace"
	"github.com/replsm/replsm/redis/server"
)

// The commands Redis Sentinel sends a replica beyond reads: pub/sub (its
// hello channel; hellos published on the primary reach this replica's
// subscribers through the replication stream), CLIENT, CONFIG REWRITE and
// its reconfiguration transaction MULTI, SLAVEOF, CONFIG REWRITE, CLIENT
// KILL TYPE normal, CLIENT KILL TYPE pubsub, EXEC. A transaction here runs
// its commands one after the other at EXEC (a replica has no writes to
// make atomic).

// maxQueued bounds the commands one MULTI may queue.
const maxQueued = 1024

// admin serves the request if it is one of those, and reports whether it
// was.
func (r *Replica) admin(c *server.Conn, st *connState, name string, args [][]byte) (bool, error) {
	if st.tx != nil {
		return true, r.queue(c, st, name, args)
	}
	if ok, err := r.hub.Command(c, args); ok {
		return true, err
	}
	if ok, err := server.HandleAdmin(c, args, r.hub.Subscribed); ok {
		return true, err
	}
	switch name {
	case "multi":
		if len(args) != 1 {
			return true, c.WriteError(server.WrongArgs(args[0]))
		}
		st.tx = &queued{}
		return true, c.WriteOK()
	case "exec", "discard":
		return true, c.WriteErrorf("ERR %s without MULTI", strings.ToUpper(name))
	case "publish":
		if len(args) != 3 {
			return true, c.WriteError(server.WrongArgs(args[0]))
		}
		// Local subscribers only: a replica propagates nothing.
		return true, c.WriteInteger(int64(r.hub.Publish(args[1], args[2])))
	}
	return false, nil
}

// queued is a MULTI block on the read port.
type queued struct {
	cmds   [][][]byte
	failed bool
}

func (r *Replica) queue(c *server.Conn, st *connState, name string, args [][]byte) error {
	switch name {
	case "exec":
		tx := st.tx
		st.tx = nil
		if tx.failed {
			return c.WriteError("EXECABORT Transaction discarded because of previous errors.")
		}
		return server.RunQueued(c, tx.cmds, r.handle)
	case "discard":
		st.tx = nil
		return c.WriteOK()
	case "multi":
		st.tx.failed = true
		return c.WriteError("ERR MULTI calls can not be nested")
	case "watch", "subscribe", "unsubscribe", "psubscribe", "punsubscribe":
		st.tx.failed = true
		return c.WriteErrorf("ERR Command not allowed inside a transaction")
	}
	if keyspace.IsWrite(name) && name != "pfcount" {
		st.tx.failed = true
		return c.WriteError(readOnlyReply)
	}
	if len(st.tx.cmds) >= maxQueued {
		st.tx.failed = true
		return c.WriteErrorf("ERR too many commands in one transaction (at most %d)", maxQueued)
	}
	st.tx.cmds = append(st.tx.cmds, args)
	return c.WriteSimpleString("QUEUED")
}
