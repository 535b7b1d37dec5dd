package keyspace

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/redis/resp"
)

// NumDBs is the number of numbered databases, Redis's default.
const NumDBs = 16

// Reply is the RESP value a command returns.
type Reply = resp.Value

// Result is what Exec returns for one command.
type Result struct {
	// Reply is the reply for the client.
	Reply Reply
	// Propagate lists the commands a primary appends to its replication
	// stream for this call, in order: a DEL for each key found expired, then
	// the command itself as Redis 7.0 rewrites it (SET ... PXAT for relative
	// expiries, PEXPIREAT for EXPIRE, DEL for an expiry in the past, SET
	// KEEPTTL for INCRBYFLOAT, ...). It is empty when nothing changed. Every
	// command applies to the database *db holds after Exec returns.
	Propagate [][][]byte
}

// Keyspace is an in-memory Redis keyspace of NumDBs databases. It is safe for
// concurrent use; each Exec is atomic.
type Keyspace struct {
	clk clock.Clock

	mu      sync.RWMutex
	replica bool
	// gen is the generation new and cloned objects get. Snapshot increments
	// it, so any object with an older gen may be shared with a snapshot and
	// is cloned before it is modified.
	gen uint64
	dbs [NumDBs]*db
	// applyCtx is Apply's execCtx, reused under the write lock so that a
	// replica's stream apply allocates none per command.
	applyCtx execCtx
	// functions holds FUNCTION LOAD's libraries by name (see cmdFunction).
	functions map[string][]byte
}

// New returns an empty keyspace in primary mode that reads time from clk.
func New(clk clock.Clock) *Keyspace {
	k := &Keyspace{clk: clk}
	for i := range k.dbs {
		k.dbs[i] = newDB()
	}
	return k
}

// SetReplica switches between the expiry rules of a primary (false, the
// default) and of a replica (true), as Redis 7.0 applies them:
//
//   - A primary deletes a key whose TTL has passed when a command touches it
//     (and reports a DEL to propagate), and ActiveExpire removes the others.
//     EXPIRE/PEXPIREAT/... with a time already past delete the key at once.
//   - A replica never deletes a key because of its TTL: it waits for the
//     primary's DEL. Read commands treat an expired key as missing; commands
//     that write (those the primary streams) treat it as present, and an
//     expiry time in the past just sets the TTL.
func (k *Keyspace) SetReplica(on bool) {
	k.mu.Lock()
	k.replica = on
	k.mu.Unlock()
}

// IsReplica reports whether replica expiry rules are in effect.
func (k *Keyspace) IsReplica() bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.replica
}

// Exec executes one command (args[0] is its name, in any case) against
// database *db, which SELECT changes. Reads, writes and the stream control
// commands (SELECT, PING, MULTI, EXEC) are accepted. Redis-level failures
// such as WRONGTYPE or a syntax error are error replies, not Go errors; the
// error is ErrUnknownCommand or ErrDBIndex.
//
// A primary that streams Result.Propagate must serialize Exec and the
// append to its stream (one mutex around both), so that the stream's order
// is the order in which commands took effect.
func (k *Keyspace) Exec(db *int, args [][]byte) (Result, error) {
	cmd, res, err := k.resolve(db, args)
	if cmd == nil {
		return res, err
	}
	if cmd.flags&flagShared != 0 {
		k.mu.RLock()
		c := k.newCtx(db, false)
		reply := cmd.run(c, args)
		seen := c.expiredSeen
		k.mu.RUnlock()
		return Result{Reply: reply, Propagate: k.reap(*db, seen)}, nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.newCtx(db, true).run(cmd, args), nil
}

// Apply executes a command as Exec does and returns only its reply. A replica
// applies its primary's stream with it, one command at a time.
func (k *Keyspace) Apply(db *int, args [][]byte) (Reply, error) {
	cmd, res, err := k.resolve(db, args)
	if cmd == nil || cmd.flags&flagShared != 0 {
		res, err = k.Exec(db, args)
		return res.Reply, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	c := &k.applyCtx
	*c = execCtx{k: k, dbIndex: db, db: k.dbs[*db], now: k.clk.Now().UnixMilli(), locked: true, noProp: true}
	reply := c.run(cmd, args).Reply
	*c = execCtx{} // keep nothing of the command alive
	return reply, nil
}

// ExecAll executes cmds in order as one atomic step: no other command and no
// Snapshot sees a state between two of them, and time stands still for the
// batch, as inside a Redis MULTI/EXEC. Every name is checked before anything
// runs; an unknown one fails the whole batch with ErrUnknownCommand. A
// replica that receives MULTI ... EXEC in its stream should buffer the
// commands and apply them with one ExecAll at EXEC, as Redis does.
func (k *Keyspace) ExecAll(db *int, cmds [][][]byte) ([]Result, error) {
	resolved := make([]*command, len(cmds))
	out := make([]Result, len(cmds))
	for i, args := range cmds {
		cmd, res, err := k.resolve(db, args)
		if err != nil {
			return nil, fmt.Errorf("command %d of %d: %w", i+1, len(cmds), err)
		}
		resolved[i], out[i] = cmd, res
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	c := k.newCtx(db, true)
	for i, args := range cmds {
		if resolved[i] != nil { // nil: out[i] already holds the arity error
			out[i] = c.run(resolved[i], args)
		}
	}
	return out, nil
}

// resolve finds args' command. It returns a nil command with the reply to
// send when the command cannot run: unknown (with ErrUnknownCommand), wrong
// number of arguments (no error), or *db out of range (ErrDBIndex).
func (k *Keyspace) resolve(db *int, args [][]byte) (*command, Result, error) {
	if len(args) == 0 {
		return nil, Result{Reply: resp.Error("ERR empty command")}, fmt.Errorf("%w: empty command", ErrUnknownCommand)
	}
	cmd := lookupCommand(args[0])
	if cmd == nil {
		return nil, Result{Reply: unknownCommandReply(args)}, fmt.Errorf("%w: %q", ErrUnknownCommand, args[0])
	}
	if *db < 0 || *db >= NumDBs {
		return nil, Result{Reply: resp.Error("ERR DB index is out of range")}, fmt.Errorf("%w: %d", ErrDBIndex, *db)
	}
	if (cmd.arity > 0 && len(args) != cmd.arity) || (cmd.arity < 0 && len(args) < -cmd.arity) {
		return nil, Result{Reply: arityReply(cmd.name)}, nil
	}
	return cmd, Result{}, nil
}

func unknownCommandReply(args [][]byte) Reply {
	var b strings.Builder
	for _, a := range args[1:] {
		if b.Len() >= 128 {
			break
		}
		fmt.Fprintf(&b, "'%.128s' ", a)
	}
	return resp.Error(fmt.Sprintf("ERR unknown command '%.128s', with args beginning with: %s", args[0], b.String()))
}

// reap deletes the keys a shared-lock read found expired, if they still are.
func (k *Keyspace) reap(dbIndex int, keys []string) [][][]byte {
	if len(keys) == 0 {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.replica {
		return nil
	}
	now := k.clk.Now().UnixMilli()
	d := k.dbs[dbIndex]
	var prop [][][]byte
	for _, key := range keys {
		if when, ok := d.expires[key]; ok && now > when && d.remove(key) {
			prop = append(prop, delCommand(key))
		}
	}
	return prop
}

// KeyRef names a key in a database.
type KeyRef struct {
	DB  int
	Key string
}

// ActiveExpire deletes up to limit keys whose TTL has passed (all of them
// when limit <= 0), in (db, key) order, and returns them; a primary
// propagates each as DEL. On a replica it does nothing.
func (k *Keyspace) ActiveExpire(limit int) []KeyRef {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.replica {
		return nil
	}
	now := k.clk.Now().UnixMilli()
	var out []KeyRef
	for i, d := range k.dbs {
		for key, when := range d.expires {
			if now > when {
				out = append(out, KeyRef{DB: i, Key: key})
			}
		}
	}
	slices.SortFunc(out, func(a, b KeyRef) int {
		if a.DB != b.DB {
			return a.DB - b.DB
		}
		return strings.Compare(a.Key, b.Key)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	for _, r := range out {
		k.dbs[r.DB].remove(r.Key)
	}
	return out
}

// Len returns the number of keys in all databases, expired ones not yet
// removed included.
func (k *Keyspace) Len() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	n := 0
	for _, d := range k.dbs {
		n += len(d.keys)
	}
	return n
}

func delCommand(key string) [][]byte {
	return [][]byte{[]byte("DEL"), []byte(key)}
}
