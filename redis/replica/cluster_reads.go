package replica

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/replsm/replsm/redis/cluster"
	"github.com/replsm/replsm/redis/keyspace"
	"github.com/replsm/replsm/redis/resp"
	"github.com/replsm/replsm/redis/server"
	"github.com/replsm/replsm/slot"
)

// Reads on a replica that follows a Redis Cluster (docs/cluster.md): a
// key is read from the shard that owns its hash slot now, so a stale copy
// in a shard that lost the slot is never seen; the keys of one request
// must share a slot (Redis's CROSSSLOT error otherwise); KEYS shows each
// key in its owner only; CLUSTER SLOTS / SHARDS / KEYSLOT / INFO describe
// what is followed. A connection scoped with REPLSM.SHARD reads its shard
// as before.

const (
	crossSlotReply  = "CROSSSLOT Keys in request don't hash to the same slot"
	slotDownReply   = "CLUSTERDOWN Hash slot not served"
	clusterHelpHint = "ERR unknown subcommand '%s'. Try CLUSTER SLOTS, SHARDS, KEYSLOT, INFO, MYID."
)

// clusterRead serves the request when the replica follows a cluster and
// the connection is not scoped; done is false when the ordinary read path
// should answer it.
func (r *Replica) clusterRead(c *server.Conn, st *connState, name string, args [][]byte) (done bool, err error) {
	rt := r.routes.Load()
	if rt == nil || st.scope != nil {
		return false, nil
	}
	switch name {
	case "cluster":
		return true, r.clusterCmd(c, rt, args)
	case "readonly", "readwrite", "asking":
		// Cluster clients send these to replicas; reads are always served.
		return true, c.WriteOK()
	case "keys":
		return true, r.clusterKeys(c, rt, args)
	case "dbsize", "scan", "multi", "exec", "discard", "watch", "ping", "select", "role", "replsm.role", "info",
		"replsm.shard", "replsm.reset", "replicaof", "slaveof", "replsm.replicaof", "replsm.info":
		return false, nil
	}
	if keyspace.IsWrite(name) && name != "pfcount" {
		return false, nil // READONLY, from the ordinary path
	}
	keys := requestKeys(name, args)
	if len(keys) == 0 || !isKnown(name) {
		return false, nil
	}
	sl := cluster.HashSlot(keys[0])
	for _, k := range keys[1:] {
		if cluster.HashSlot(k) != sl {
			return true, c.WriteError(crossSlotReply)
		}
	}
	id, ok := rt.Owner(sl)
	if !ok {
		return true, c.WriteError(slotDownReply)
	}
	sh, found := r.lookup(slot.ID(id))
	if !found {
		return true, c.WriteError(slotDownReply)
	}
	return true, r.exec(c, sh, args)
}

// requestKeys are the keys a read names: every argument of the variadic
// key commands, the numkeys-counted ones, LCS's two, XREAD's streams, and
// otherwise the one keyArg finds.
func requestKeys(name string, args [][]byte) [][]byte {
	switch name {
	case "mget", "exists", "sinter", "sunion", "sdiff", "pfcount", "touch":
		return args[1:]
	case "lcs":
		return args[1:min(3, len(args))]
	case "sintercard", "zunion", "zinter", "zdiff", "zintercard":
		if len(args) < 3 {
			return nil
		}
		n, err := strconv.Atoi(string(args[1]))
		if err != nil || n < 1 || n > len(args)-2 {
			return nil // the keyspace answers the syntax error
		}
		return args[2 : 2+n]
	case "xread":
		for j, a := range args {
			if strings.EqualFold(string(a), "streams") {
				rest := args[j+1:]
				return rest[:len(rest)/2]
			}
		}
		return nil
	}
	if k := keyArg(name, args); k != nil {
		return [][]byte{k}
	}
	return nil
}

// clusterKeys is KEYS over every shard, each key from its slot's owner.
func (r *Replica) clusterKeys(c *server.Conn, rt *cluster.Routes, args [][]byte) error {
	var keys []resp.Value
	for _, sh := range r.shards() {
		db := c.DB
		res, err := sh.ks.Exec(&db, args)
		if err != nil || res.Reply.Kind == resp.KindError {
			return c.WriteValue(res.Reply)
		}
		for _, k := range res.Reply.Array {
			if o, ok := rt.Owner(cluster.HashSlot(k.Str)); ok && slot.ID(o) == sh.id {
				keys = append(keys, k)
			}
		}
	}
	return c.WriteValue(resp.Array(keys...))
}

// clusterCmd answers CLUSTER SLOTS, SHARDS, KEYSLOT, INFO and MYID.
func (r *Replica) clusterCmd(c *server.Conn, rt *cluster.Routes, args [][]byte) error {
	if len(args) < 2 {
		return c.WriteError(server.WrongArgs(args[0]))
	}
	sub := strings.ToLower(string(args[1]))
	switch sub {
	case "keyslot":
		if len(args) != 3 {
			return c.WriteError(server.WrongArgs(args[0]))
		}
		return c.WriteInteger(int64(cluster.HashSlot(args[2])))
	case "slots":
		return c.WriteValue(r.clusterSlots(rt))
	case "shards":
		return c.WriteValue(r.clusterShards(rt))
	case "myid":
		return c.WriteBulkString(r.runID)
	case "info":
		return c.WriteBulkString(r.clusterInfo(rt))
	}
	return c.WriteErrorf(clusterHelpHint, clipText(string(args[1])))
}

// followed pairs each routed shard with the endpoint this replica follows
// for it now (a re-point shows at once).
func (r *Replica) followed(rt *cluster.Routes) []routedShard {
	var out []routedShard
	for _, s := range rt.Shards() {
		sh, ok := r.lookup(slot.ID(s.ID))
		if !ok {
			continue
		}
		ep := sh.ep.Load()
		out = append(out, routedShard{RouteShard: s, sh: sh, ep: ep})
	}
	return out
}

type routedShard struct {
	cluster.RouteShard
	sh *shard
	ep *endpoint
}

func (r *Replica) clusterSlots(rt *cluster.Routes) resp.Value {
	var out []resp.Value
	for _, s := range r.followed(rt) {
		node := resp.Array(resp.BulkString(s.ep.host), resp.Integer(int64(s.ep.port)), resp.BulkString(s.MasterID))
		for _, rg := range s.Ranges {
			out = append(out, resp.Array(resp.Integer(int64(rg.Start)), resp.Integer(int64(rg.End)), node))
		}
	}
	return resp.Array(out...)
}

func (r *Replica) clusterShards(rt *cluster.Routes) resp.Value {
	var out []resp.Value
	for _, s := range r.followed(rt) {
		var slots []resp.Value
		for _, rg := range s.Ranges {
			slots = append(slots, resp.Integer(int64(rg.Start)), resp.Integer(int64(rg.End)))
		}
		health := "online"
		if s.sh.slot.State() != slot.Connected {
			health = "failed"
		}
		node := resp.Array(
			resp.BulkString("id"), resp.BulkString(s.MasterID),
			resp.BulkString("port"), resp.Integer(int64(s.ep.port)),
			resp.BulkString("ip"), resp.BulkString(s.ep.host),
			resp.BulkString("endpoint"), resp.BulkString(s.ep.host),
			resp.BulkString("role"), resp.BulkString("master"),
			resp.BulkString("replication-offset"), resp.Integer(s.sh.cursor().Offset),
			resp.BulkString("health"), resp.BulkString(health),
		)
		out = append(out, resp.Array(
			resp.BulkString("slots"), resp.Array(slots...),
			resp.BulkString("nodes"), resp.Array(node),
			resp.BulkString("replsm-shard"), resp.Integer(int64(s.ID)),
		))
	}
	return resp.Array(out...)
}

func (r *Replica) clusterInfo(rt *cluster.Routes) string {
	assigned, ok := 0, 0
	for sl := range cluster.NumSlots {
		id, has := rt.Owner(sl)
		if !has {
			continue
		}
		assigned++
		if sh, found := r.lookup(slot.ID(id)); found && sh.slot.State() == slot.Connected {
			ok++
		}
	}
	state := "ok"
	if assigned < cluster.NumSlots {
		state = "fail"
	}
	var b bytes.Buffer
	for _, kv := range [][2]string{
		{"cluster_enabled", "1"}, {"cluster_state", state},
		{"cluster_slots_assigned", strconv.Itoa(assigned)}, {"cluster_slots_ok", strconv.Itoa(ok)},
		{"cluster_slots_pfail", strconv.Itoa(assigned - ok)}, {"cluster_slots_fail", "0"},
		{"cluster_known_nodes", strconv.Itoa(len(rt.Shards()))}, {"cluster_size", strconv.Itoa(len(rt.Shards()))},
		{"replsm_followed_masters", strconv.Itoa(len(r.followed(rt)))},
	} {
		b.WriteString(kv[0] + ":" + kv[1] + "\r\n")
	}
	return b.String()
}
