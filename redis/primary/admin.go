package primary

import (
	"strings"

	"github.com/replsm/replsm/redis/server"
)

// The commands Redis Sentinel sends a primary beyond data: pub/sub (its
// hello channel; a PUBLISH here is also streamed, so hellos reach the
// replicas' subscribers as with Redis), CLIENT, CONFIG REWRITE and
// REPLICAOF/SLAVEOF, also inside its reconfiguration transaction (MULTI,
// SLAVEOF, CONFIG REWRITE, CLIENT KILL TYPE normal/pubsub, EXEC), which
// then runs command by command at EXEC.

// adminCommands may be queued in MULTI next to keyspace commands.
var adminCommands = map[string]bool{
	"publish": true, "client": true, "config": true, "replicaof": true, "slaveof": true,
	"ping": true, "info": true, "role": true,
}

// admin serves the request if it is one of those, and reports whether it
// was.
func (p *Primary) admin(c *server.Conn, name string, args [][]byte) (bool, error) {
	if ok, err := p.hub.Command(c, args); ok {
		return true, err
	}
	if ok, err := server.HandleAdmin(c, args, p.hub.Subscribed); ok {
		return true, err
	}
	switch name {
	case "publish":
		if len(args) != 3 {
			return true, c.WriteError(server.WrongArgs(args[0]))
		}
		p.mu.Lock()
		p.feedSignalLocked(op{db: c.DB, args: args})
		p.mu.Unlock()
		return true, c.WriteInteger(int64(p.hub.Publish(args[1], args[2])))
	case "replicaof", "slaveof":
		return true, p.handleREPLICAOF(c, args)
	}
	return false, nil
}

// handleREPLICAOF answers REPLICAOF NO ONE (already a primary: +OK) and
// hands REPLICAOF host port to Config.ReplicaOf.
func (p *Primary) handleREPLICAOF(c *server.Conn, args [][]byte) error {
	if len(args) != 3 {
		return c.WriteError(server.WrongArgs(args[0]))
	}
	if strings.EqualFold(string(args[1]), "no") && strings.EqualFold(string(args[2]), "one") {
		return c.WriteOK() // already a primary, as Redis answers
	}
	if p.cfg.ReplicaOf == nil {
		return c.WriteError("ERR REPLICAOF host port: this primary cannot follow another (started without a replica role)")
	}
	return p.cfg.ReplicaOf(c, args[1], args[2])
}
