package replica

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/replsm/replsm/redis/server"
)

// REPLICAOF at runtime: a shard follows another primary without a restart.
// The slot keeps its cursor and asks the new primary to continue from it
// (PSYNC with the replication id and offset it has), so following a
// promoted replica of the old primary costs no full sync, and an unrelated
// primary answers with a full one. The primary already followed is a no-op.

// cmdReplicaOf is REPLICAOF / SLAVEOF host port on a connection with one
// shard in scope (a single-shard replica, or REPLSM.SHARD).
func (r *Replica) cmdReplicaOf(c *server.Conn, st *connState, args [][]byte) error {
	if len(args) != 3 {
		return c.WriteError(server.WrongArgs(args[0]))
	}
	shards := r.shardsFor(st)
	if len(shards) != 1 {
		return c.WriteErrorf("ERR %s is ambiguous: this replica follows %d primaries; use REPLSM.REPLICAOF <shard> host port, or scope the connection with REPLSM.SHARD <id>", bytes.ToUpper(args[0]), len(shards))
	}
	return r.replicaOf(c, shards[0], args[1], args[2])
}

// cmdReplsmReplicaOf is REPLSM.REPLICAOF <shard> host port.
func (r *Replica) cmdReplsmReplicaOf(c *server.Conn, args [][]byte) error {
	if len(args) != 4 {
		return c.WriteError(server.WrongArgs(args[0]))
	}
	sh, err := r.shardArg(args[1])
	if err != nil {
		return c.WriteErrorf("ERR %v", err)
	}
	return r.replicaOf(c, sh, args[2], args[3])
}

func (r *Replica) replicaOf(c *server.Conn, sh *shard, host, port []byte) error {
	if isNoOne(host, port) {
		if err := r.promote(sh, "REPLICAOF NO ONE"); err != nil {
			return c.WriteErrorf("ERR %v", err)
		}
		return c.WriteOK()
	}
	addr, err := replicaOfAddr(string(host), string(port))
	if err != nil {
		return c.WriteErrorf("ERR %v", err)
	}
	reason := "REPLICAOF " + addr + " from " + clientLabel(c)
	if sh.prim.Load() != nil {
		if err := r.demote(sh, addr, reason); err != nil {
			return c.WriteErrorf("ERR %v", err)
		}
		return c.WriteOK()
	}
	if err := r.repoint(sh, addr, reason); err != nil {
		return c.WriteErrorf("ERR %v", err)
	}
	return c.WriteOK()
}

// repoint makes a replica shard sh follow addr, giving reason to the
// slot's repoint transition. The primary already followed is a no-op
// (nil); a primary another shard follows is refused, and so is a shard
// that is a primary itself (demote is the way back).
func (r *Replica) repoint(sh *shard, addr, reason string) error {
	r.repointMu.Lock()
	defer r.repointMu.Unlock()
	if sh.prim.Load() != nil {
		return fmt.Errorf("shard %d is a primary now (promoted); REPLICAOF demotes it", sh.id)
	}
	if addr == sh.addr() {
		return nil // already following it: nothing closed, nothing re-synced
	}
	for _, o := range r.shards() {
		if o != sh && o.addr() == addr {
			// Two shards of one primary would hold the same data twice.
			return fmt.Errorf("shard %d already follows %s", o.id, addr)
		}
	}
	old := sh.addr()
	sh.ep.Store(parseEndpoint(addr))
	if _, err := sh.slot.SetEndpoint(addr, reason); err != nil {
		sh.ep.Store(parseEndpoint(old))
		return err
	}
	r.log.Info("shard re-pointed", slog.String("id", sh.id.String()), slog.String("from", old), slog.String("to", addr), slog.String("reason", reason))
	return nil
}

// replicaOfAddr checks REPLICAOF's host and port the way Redis does (a port
// in 1..65535) and joins them.
func replicaOfAddr(host, port string) (string, error) {
	if host == "" || len(host) > 255 {
		return "", fmt.Errorf("invalid host %q", clipText(host))
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("Invalid master port %q", clipText(port))
	}
	addr := net.JoinHostPort(host, strconv.Itoa(p))
	if err := checkEndpoint(addr); err != nil {
		return "", err
	}
	return addr, nil
}

// clientLabel names who sent a command, for the transition log: a
// sentinel reconfiguring this replica names its connection
// "sentinel-<id>-cmd".
func clientLabel(c *server.Conn) string {
	if n := c.Name(); n != "" {
		return clipText(n) + " at " + c.Remote()
	}
	return c.Remote()
}
