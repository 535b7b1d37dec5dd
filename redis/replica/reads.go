package replica

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/replsm/replsm/redis/keyspace"
	"github.com/replsm/replsm/redis/resp"
	"github.com/replsm/replsm/redis/server"
	"github.com/replsm/replsm/slot"
)

// The read port. Every shard's keyspace is read through keyspace.Exec,
// which in replica mode treats an expired key as missing and never deletes
// anything. Keys are disjoint across shards, so a connection sees the union:
// a one-key command goes to the shard that holds the key, and the commands
// that span keys (MGET, EXISTS, DBSIZE, KEYS, SCAN) combine every shard's
// answer. REPLSM.SHARD scopes a connection to one shard, so the same reads
// (a digest, say) can be compared with that shard's primary.

// readOnlyReply is Redis's answer to a write on a read-only replica.
const readOnlyReply = "READONLY You can't write against a read only replica."

// maxScanCursors bounds the SCAN cursors a connection keeps across shards.
const maxScanCursors = 64

// connState is a read connection's own state (server.Conn.Data).
type connState struct {
	scope *shard     // nil: all shards
	tx    *server.Tx // between MULTI and EXEC (admin.go)
	prim  primConn   // the primary's own state while the shard is promoted (roles.go)

	// SCAN over several shards needs a cursor that says which shard and
	// where in it; the client gets a small number that names one.
	scans    map[uint64]scanPos
	scanFIFO []uint64
	nextScan uint64
}

type scanPos struct {
	shard int    // index into the shards in scope
	inner []byte // that shard's own cursor
}

func state(c *server.Conn) *connState {
	st, ok := c.Data.(*connState)
	if !ok {
		st = &connState{}
		c.Data = st
	}
	return st
}

// shardsFor returns the shards a connection reads.
func (r *Replica) shardsFor(st *connState) []*shard {
	if st.scope != nil {
		return []*shard{st.scope}
	}
	return r.shards()
}

// handle serves one request on the read port.
func (r *Replica) handle(c *server.Conn, args [][]byte) error {
	st := state(c)
	name := strings.ToLower(string(args[0]))
	if p := r.promoted(st); p != nil && st.tx == nil && !strings.HasPrefix(name, "replsm.") {
		return r.asPrimary(c, st, p, args)
	}
	if done, err := r.admin(c, st, name, args); done {
		return err
	}
	if done, err := r.clusterRead(c, st, name, args); done {
		return err // following a Redis Cluster: routed by hash slot (cluster_reads.go)
	}
	switch name {
	case "ping":
		switch len(args) {
		case 1:
			return c.WriteSimpleString("PONG")
		case 2:
			return c.WriteBulk(args[1])
		}
		return c.WriteError(server.WrongArgs(args[0]))
	case "select":
		if len(args) != 2 {
			return c.WriteError(server.WrongArgs(args[0]))
		}
		n, err := strconv.Atoi(string(args[1]))
		if err != nil {
			return c.WriteError("ERR value is not an integer or out of range")
		}
		if n < 0 || n >= keyspace.NumDBs {
			return c.WriteError("ERR DB index is out of range")
		}
		c.DB = n
		return c.WriteOK()
	case "role":
		// Client libraries parse ROLE's reply, so it keeps Redis's shape:
		// one shard's view, or an error when several are in scope.
		if n := len(r.shardsFor(st)); n > 1 {
			return c.WriteErrorf("ERR ROLE is ambiguous: this replica follows %d primaries; scope the connection with REPLSM.SHARD <id>, or use REPLSM.ROLE for all shards", n)
		}
		return c.WriteValue(r.role(st))
	case "replsm.role":
		// Every shard in scope: "slave", then [id, host, port, state, offset] per shard.
		return c.WriteValue(r.roleAll(st))
	case "info":
		return c.WriteBulkString(r.infoText(st, args[1:]))
	case "replsm.shard":
		return r.cmdShard(c, st, args)
	case "replsm.reset":
		return r.cmdReset(c, args)
	case "replicaof", "slaveof":
		return r.cmdReplicaOf(c, st, args)
	case "replsm.replicaof":
		return r.cmdReplsmReplicaOf(c, args)
	case "replsm.info":
		return c.WriteBulkString(r.Info().String())
	case "dbsize", "keys":
		return r.sum(c, st, args, name == "keys")
	case "exists":
		return r.exists(c, st, args)
	case "mget":
		return r.mget(c, st, args)
	case "scan":
		return r.scan(c, st, args)
	case "watch":
		return c.WriteErrorf("ERR %s is not supported on this replica", strings.ToUpper(name))
	}
	// PFCOUNT is a write only in that it caches the cardinality; Redis
	// serves it on a read-only replica too.
	if keyspace.IsWrite(name) && name != "pfcount" {
		return c.WriteError(readOnlyReply)
	}
	key := keyArg(name, args)
	if key == nil || !isKnown(name) {
		// Keyless commands the keyspace knows (ECHO) answer from any shard;
		// unknown ones get Redis's unknown-command error from it too.
		return r.exec(c, r.shardsFor(st)[0], args)
	}
	sh, err := r.owner(st, c.DB, key)
	if err != nil {
		return c.WriteError(err.Error())
	}
	return r.exec(c, sh, args)
}

// keyArg is the key a read addresses: the first argument, the second for
// XINFO's subcommands, the first after STREAMS for XREAD; nil for none.
// (A multi-key read goes to the first key's shard.)
func keyArg(name string, args [][]byte) []byte {
	i := 1
	switch name {
	case "xinfo":
		i = 2
	case "xread":
		i = len(args)
		for j, a := range args {
			if strings.EqualFold(string(a), "streams") {
				i = j + 1
				break
			}
		}
	}
	if len(args) <= i {
		return nil
	}
	return args[i]
}

// isKnown reports whether the keyspace implements name.
func isKnown(name string) bool {
	_, found := knownCommands[name]
	return found
}

var knownCommands = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, n := range keyspace.Commands() {
		m[n] = struct{}{}
	}
	return m
}()

// exec runs a read on one shard's keyspace and sends its reply.
func (r *Replica) exec(c *server.Conn, sh *shard, args [][]byte) error {
	db := c.DB
	res, err := sh.ks.Exec(&db, args)
	if err != nil && res.Reply.Kind == 0 {
		return c.WriteErrorf("ERR %v", err)
	}
	return c.WriteValue(res.Reply)
}

// owner is the shard that holds key in db, or the first shard in scope when
// none does (the read then answers "missing" as Redis would). Shards hold
// disjoint keys: a key found in more than one is an error naming them,
// never a silent pick.
func (r *Replica) owner(st *connState, db int, key []byte) (*shard, error) {
	shards := r.shardsFor(st)
	if len(shards) == 1 {
		return shards[0], nil
	}
	var found []*shard
	for _, sh := range shards {
		d := db
		res, _ := sh.ks.Exec(&d, [][]byte{[]byte("EXISTS"), key})
		if res.Reply.Kind == resp.KindInteger && res.Reply.Int > 0 {
			found = append(found, sh)
		}
	}
	switch len(found) {
	case 0:
		return shards[0], nil
	case 1:
		return found[0], nil
	}
	ids := make([]string, len(found))
	for i, sh := range found {
		ids[i] = strconv.Itoa(int(sh.id))
	}
	return nil, fmt.Errorf("ERR key %q in db %d is held by shards %s, which must hold disjoint keys; read it with REPLSM.SHARD <id>",
		clipText(string(key)), db, strings.Join(ids, ", "))
}

// exists counts the keys given that exist, each in its owner shard.
func (r *Replica) exists(c *server.Conn, st *connState, args [][]byte) error {
	if len(args) < 2 {
		return c.WriteError(server.WrongArgs(args[0]))
	}
	var n int64
	for _, key := range args[1:] {
		sh, err := r.owner(st, c.DB, key)
		if err != nil {
			return c.WriteError(err.Error())
		}
		db := c.DB
		res, _ := sh.ks.Exec(&db, [][]byte{[]byte("EXISTS"), key})
		n += res.Reply.Int
	}
	return c.WriteInteger(n)
}

// roleAll is REPLSM.ROLE: ROLE's multi-shard form for every shard in scope.
func (r *Replica) roleAll(st *connState) resp.Value {
	if len(r.shardsFor(st)) > 1 {
		return r.role(st)
	}
	// role gives the single-shard shape for one shard; REPLSM.ROLE keeps
	// the per-shard shape whatever the scope.
	sh := r.shardsFor(st)[0]
	one := r.role(&connState{scope: sh})
	return resp.Array(resp.BulkString("slave"), resp.Array(append([]resp.Value{resp.BulkString(strconv.Itoa(int(sh.id)))}, one.Array[1:]...)...))
}

// sum answers DBSIZE and EXISTS (integers, added up) and KEYS (arrays,
// concatenated) over the shards in scope.
func (r *Replica) sum(c *server.Conn, st *connState, args [][]byte, concat bool) error {
	var total int64
	var keys []resp.Value
	for _, sh := range r.shardsFor(st) {
		db := c.DB
		res, err := sh.ks.Exec(&db, args)
		switch {
		case err != nil || res.Reply.Kind == resp.KindError:
			return c.WriteValue(res.Reply)
		case concat:
			keys = append(keys, res.Reply.Array...)
		default:
			total += res.Reply.Int
		}
	}
	if concat {
		return c.WriteValue(resp.Array(keys...))
	}
	return c.WriteInteger(total)
}

// mget reads each key from its owner; as in Redis, a key that is missing
// or not a string is nil.
func (r *Replica) mget(c *server.Conn, st *connState, args [][]byte) error {
	if len(args) < 2 {
		return c.WriteError(server.WrongArgs(args[0]))
	}
	out := make([]resp.Value, 0, len(args)-1)
	for _, key := range args[1:] {
		db := c.DB
		sh, err := r.owner(st, c.DB, key)
		if err != nil {
			return c.WriteError(err.Error())
		}
		res, _ := sh.ks.Exec(&db, [][]byte{[]byte("GET"), key})
		if res.Reply.Kind != resp.KindBulkString {
			res.Reply = resp.NullBulk()
		}
		out = append(out, res.Reply)
	}
	return c.WriteValue(resp.Array(out...))
}

// scan runs SCAN over the shards in scope one after the other. With one
// shard the keyspace's own cursor goes to the client unchanged; with more,
// the client gets a connection-local number for (shard, inner cursor).
func (r *Replica) scan(c *server.Conn, st *connState, args [][]byte) error {
	shards := r.shardsFor(st)
	if len(shards) == 1 || len(args) < 2 {
		return r.exec(c, shards[0], args)
	}
	var pos scanPos
	if string(args[1]) == "0" {
		pos = scanPos{inner: []byte("0")}
	} else {
		id, err := strconv.ParseUint(string(args[1]), 10, 64)
		p, ok := st.scans[id]
		if err != nil || !ok || p.shard >= len(shards) {
			return c.WriteError("ERR invalid cursor")
		}
		pos = p
	}
	inner := append([][]byte{args[0], pos.inner}, args[2:]...)
	db := c.DB
	res, _ := shards[pos.shard].ks.Exec(&db, inner)
	reply := res.Reply
	if reply.Kind != resp.KindArray || len(reply.Array) != 2 {
		return c.WriteValue(reply) // an error reply (syntax, bad cursor)
	}
	next := reply.Array[0].Str
	if bytes.Equal(next, []byte("0")) {
		pos = scanPos{shard: pos.shard + 1, inner: []byte("0")}
	} else {
		pos.inner = bytes.Clone(next)
	}
	cursor := "0"
	if pos.shard < len(shards) {
		cursor = strconv.FormatUint(st.saveScan(pos), 10)
	}
	return c.WriteValue(resp.Array(resp.BulkString(cursor), reply.Array[1]))
}

func (st *connState) saveScan(p scanPos) uint64 {
	if st.scans == nil {
		st.scans = map[uint64]scanPos{}
	}
	st.nextScan++
	id := st.nextScan
	st.scans[id] = p
	st.scanFIFO = append(st.scanFIFO, id)
	if len(st.scanFIFO) > maxScanCursors {
		delete(st.scans, st.scanFIFO[0])
		st.scanFIFO = st.scanFIFO[1:]
	}
	return id
}

// cmdShard is REPLSM.SHARD <id>|ALL: scope this connection's reads.
func (r *Replica) cmdShard(c *server.Conn, st *connState, args [][]byte) error {
	if len(args) != 2 {
		return c.WriteError(server.WrongArgs(args[0]))
	}
	if strings.EqualFold(string(args[1]), "all") {
		st.scope, st.scans, st.scanFIFO = nil, nil, nil
		return c.WriteOK()
	}
	sh, err := r.shardArg(args[1])
	if err != nil {
		return c.WriteErrorf("ERR %v", err)
	}
	st.scope, st.scans, st.scanFIFO = sh, nil, nil
	return c.WriteOK()
}

// cmdReset is REPLSM.RESET <id>: the operator's reset of a shard in Error.
func (r *Replica) cmdReset(c *server.Conn, args [][]byte) error {
	if len(args) != 2 {
		return c.WriteError(server.WrongArgs(args[0]))
	}
	sh, err := r.shardArg(args[1])
	if err != nil {
		return c.WriteErrorf("ERR %v", err)
	}
	if _, err := sh.slot.Reset("operator REPLSM.RESET"); err != nil {
		return c.WriteErrorf("ERR cannot reset shard %d in state %s: %v", sh.id, sh.slot.State(), err)
	}
	return c.WriteOK()
}

func (r *Replica) shardArg(b []byte) (*shard, error) {
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownShard, clipText(string(b)))
	}
	return r.shard(slot.ID(n))
}
