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
	if bytes.EqualFold(host, []byte("no")) && bytes.EqualFold(port, []byte("one")) {
		return c.WriteError("ERR REPLICAOF NO ONE: this replica cannot be promoted to a primary yet")
	}
	addr, err := replicaOfAddr(string(host), string(port))
	if err != nil {
		return c.WriteErrorf("ERR %v", err)
	}
	if addr == sh.addr() {
		return c.WriteOK() // already following it: nothing closed, nothing re-synced
	}
	for _, o := range r.shards() {
		if o != sh && o.addr() == addr {
			// Two shards of one primary would hold the same data twice.
			return c.WriteErrorf("ERR shard %d already follows %s", o.id, addr)
		}
	}
	old := sh.addr()
	sh.ep.Store(parseEndpoint(addr))
	if _, err := sh.slot.SetEndpoint(addr, "REPLICAOF "+addr); err != nil {
		sh.ep.Store(parseEndpoint(old))
		return c.WriteErrorf("ERR %v", err)
	}
	r.log.Info("shard re-pointed", slog.String("id", sh.id.String()), slog.String("from", old), slog.String("to", addr))
	return c.WriteOK()
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
