package keyspace

import (
	"bytes"

	"github.com/replsm/replsm/redis/resp"
)

// execCtx is the state of one Exec (or one ExecAll batch) while the lock is
// held.
type execCtx struct {
	k       *Keyspace
	dbIndex *int
	db      *db
	// now is the command's time in unix ms, read once so that a command
	// (or a batch) sees one instant, like Redis's command time snapshot.
	now int64
	// locked is true under the write lock. Under the read lock expired keys
	// are only noted in expiredSeen and deleted afterwards.
	locked      bool
	expiredSeen []string

	// Per command: dirty counts changes (a command propagates only if it
	// changed something, like Redis's server.dirty), rewrite replaces the
	// propagated form, prop collects what to propagate.
	dirty   int
	rewrite [][]byte
	prop    [][][]byte
	// suppress keeps the command itself out of the stream when it
	// propagated its effects as other commands (XCLAIM).
	suppress bool
	// noProp skips building the command's propagated form: Apply's caller
	// (a replica) discards it, and cloning every argument of every write
	// was the largest allocation of a replica's stream apply.
	noProp bool
}

func (k *Keyspace) newCtx(dbIndex *int, locked bool) *execCtx {
	return &execCtx{
		k:       k,
		dbIndex: dbIndex,
		db:      k.dbs[*dbIndex],
		now:     k.clk.Now().UnixMilli(),
		locked:  locked,
	}
}

func (c *execCtx) run(cmd *command, args [][]byte) Result {
	c.dirty, c.rewrite, c.prop, c.suppress = 0, nil, nil, false
	reply := cmd.run(c, args)
	if c.dirty > 0 && cmd.flags&flagWrite != 0 && !c.suppress && !c.noProp {
		form := args
		if c.rewrite != nil {
			form = c.rewrite
		}
		c.prop = append(c.prop, cloneArgs(form))
	}
	return Result{Reply: reply, Propagate: c.prop}
}

func (c *execCtx) selectDB(i int) {
	*c.dbIndex = i
	c.db = c.k.dbs[i]
}

// isExpired reports whether key has a TTL that has passed. As in Redis a key
// expires strictly after its time: at exactly expireAt it is still alive.
func (c *execCtx) isExpired(key string) bool {
	when, ok := c.db.expires[key]
	return ok && c.now > when
}

// lookupRead returns the object at key for a read, or nil when the key is
// missing or expired. On a primary an expired key is deleted.
func (c *execCtx) lookupRead(key []byte) *object {
	o := c.db.keys[string(key)]
	if o == nil || !c.isExpired(string(key)) {
		return o
	}
	if !c.k.replica {
		c.expireKey(string(key))
	}
	return nil
}

// lookupWrite returns the object at key for a write command. On a replica
// an expired key is still returned: the primary decides when it is gone.
func (c *execCtx) lookupWrite(key []byte) *object {
	o := c.db.keys[string(key)]
	if o == nil || c.k.replica || !c.isExpired(string(key)) {
		return o
	}
	c.expireKey(string(key))
	return nil
}

func (c *execCtx) expireKey(key string) {
	if !c.locked {
		c.expiredSeen = append(c.expiredSeen, key)
		return
	}
	c.db.remove(key)
	c.prop = append(c.prop, delCommand(key))
}

// readTyped looks key up for a read and checks its type. It returns nil and
// ok=true for a missing key, ok=false for a key of another type.
func (c *execCtx) readTyped(key []byte, t Type) (o *object, ok bool) {
	o = c.lookupRead(key)
	if o != nil && o.kind() != t {
		return nil, false
	}
	return o, true
}

// writeTyped is readTyped for a write: the object returned is owned by the
// keyspace's current generation and may be modified.
func (c *execCtx) writeTyped(key []byte, t Type) (o *object, ok bool) {
	o = c.lookupWrite(key)
	if o == nil {
		return nil, true
	}
	if o.kind() != t {
		return nil, false
	}
	return c.own(string(key), o), true
}

// own returns o, or a clone of it stored in its place when o may be shared
// with a snapshot.
func (c *execCtx) own(key string, o *object) *object {
	if o.owned(c.k.gen) {
		return o
	}
	n := o.clone(c.k.gen)
	c.db.keys[key] = n
	return n
}

// create stores a new object under key (whose TTL, if any, stays).
func (c *execCtx) create(key []byte, o *object) {
	c.db.add(string(key), o)
}

// setValue stores o under key, dropping the TTL unless keepTTL.
func (c *execCtx) setValue(key []byte, o *object, keepTTL bool) {
	c.db.add(string(key), o)
	if !keepTTL {
		delete(c.db.expires, string(key))
	}
}

// deleteIfEmpty removes a collection that lost its last element; Redis
// never keeps empty collections.
func (c *execCtx) deleteIfEmpty(key []byte, o *object) {
	if o.len() == 0 {
		c.db.remove(string(key))
	}
}

func (c *execCtx) gen() uint64 { return c.k.gen }

func cloneArgs(args [][]byte) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		out[i] = bytes.Clone(a)
		if out[i] == nil {
			out[i] = []byte{}
		}
	}
	return out
}

func clone(b []byte) []byte {
	return append(make([]byte, 0, len(b)), b...)
}

// Replies and Redis 7.0's error texts.

// replyOK is shared: a reply is read, never changed (its capacity is its
// length, so not even an append could write into it).
var replyOK = func() Reply { r := resp.SimpleString("OK"); r.Str = r.Str[:2:2]; return r }()

func okReply() Reply         { return replyOK }
func null() Reply            { return resp.NullBulk() }
func integer(n int64) Reply  { return resp.Integer(n) }
func bulk(b []byte) Reply    { return resp.Bulk(b) }
func bulkStr(s string) Reply { return resp.BulkString(s) }
func errReply(msg string) Reply {
	return resp.Error(msg)
}

func boolInt(b bool) Reply {
	if b {
		return resp.Integer(1)
	}
	return resp.Integer(0)
}

func wrongType() Reply {
	return resp.Error("WRONGTYPE Operation against a key holding the wrong kind of value")
}
func syntaxErr() Reply   { return resp.Error("ERR syntax error") }
func notInteger() Reply  { return resp.Error("ERR value is not an integer or out of range") }
func notFloat() Reply    { return resp.Error("ERR value is not a valid float") }
func noSuchKey() Reply   { return resp.Error("ERR no such key") }
func overflowErr() Reply { return resp.Error("ERR increment or decrement would overflow") }
func arityReply(name string) Reply {
	return resp.Error("ERR wrong number of arguments for '" + name + "' command")
}

func bulkArray(items [][]byte) Reply {
	vs := make([]Reply, len(items))
	for i, it := range items {
		vs[i] = resp.Bulk(it)
	}
	return resp.Array(vs...)
}

func bulkStrings(items []string) Reply {
	vs := make([]Reply, len(items))
	for i, it := range items {
		vs[i] = resp.BulkString(it)
	}
	return resp.Array(vs...)
}

func lower(b []byte) string { return string(bytes.ToLower(b)) }
