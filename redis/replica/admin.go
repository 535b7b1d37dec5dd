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
		st.tx = &server.Tx{}
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

func (r *Replica) queue(c *server.Conn, st *connState, name string, args [][]byte) error {
	switch name {
	case "exec":
		tx := st.tx
		st.tx = nil
		if tx.Failed {
			return c.WriteError(server.ExecAbortReply)
		}
		return server.RunQueued(c, tx.Cmds, r.handle)
	case "discard":
		st.tx = nil
		return c.WriteOK()
	case "multi":
		return st.tx.Refuse(c, "ERR MULTI calls can not be nested")
	case "watch", "subscribe", "unsubscribe", "psubscribe", "punsubscribe":
		return st.tx.Refuse(c, "ERR Command not allowed inside a transaction")
	}
	if keyspace.IsWrite(name) && name != "pfcount" {
		return st.tx.Refuse(c, readOnlyReply)
	}
	return st.tx.Queue(c, args)
}
