package keyspace

import (
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/replsm/replsm/redis/resp"
)

func cmdDel(c *execCtx, args [][]byte) Reply {
	n := 0
	for _, key := range args[1:] {
		if c.lookupWrite(key) != nil && c.db.remove(string(key)) {
			n++
		}
	}
	c.dirty += n
	return integer(int64(n))
}

func cmdExists(c *execCtx, args [][]byte) Reply {
	n := 0
	for _, key := range args[1:] {
		if c.lookupRead(key) != nil {
			n++
		}
	}
	return integer(int64(n))
}

func cmdType(c *execCtx, args [][]byte) Reply {
	o := c.lookupRead(args[1])
	if o == nil {
		return resp.SimpleString(TypeNone.String())
	}
	return resp.SimpleString(o.kind().String())
}

func cmdTTL(c *execCtx, args [][]byte) Reply { return c.ttl(args[1], true) }

func cmdPTTL(c *execCtx, args [][]byte) Reply { return c.ttl(args[1], false) }

func (c *execCtx) ttl(key []byte, seconds bool) Reply {
	if c.lookupRead(key) == nil {
		return integer(-2)
	}
	when, ok := c.db.expires[string(key)]
	if !ok {
		return integer(-1)
	}
	ttl := max(when-c.now, 0)
	if seconds {
		return integer((ttl + 500) / 1000)
	}
	return integer(ttl)
}

func cmdExpireTime(c *execCtx, args [][]byte) Reply { return c.expireTime(args[1], true) }

func cmdPExpireTime(c *execCtx, args [][]byte) Reply { return c.expireTime(args[1], false) }

// expireTime is Redis 7.0's [P]EXPIRETIME: the absolute deadline.
func (c *execCtx) expireTime(key []byte, seconds bool) Reply {
	if c.lookupRead(key) == nil {
		return integer(-2)
	}
	when, ok := c.db.expires[string(key)]
	if !ok {
		return integer(-1)
	}
	if seconds {
		return integer(when / 1000)
	}
	return integer(when)
}

func cmdExpire(c *execCtx, args [][]byte) Reply {
	return c.expireGeneric(args, c.now, true, "expire")
}

func cmdPExpire(c *execCtx, args [][]byte) Reply {
	return c.expireGeneric(args, c.now, false, "pexpire")
}

func cmdExpireAt(c *execCtx, args [][]byte) Reply {
	return c.expireGeneric(args, 0, true, "expireat")
}

func cmdPExpireAt(c *execCtx, args [][]byte) Reply {
	return c.expireGeneric(args, 0, false, "pexpireat")
}

// expireGeneric is Redis 7.0's expireGenericCommand: the time is made
// absolute (basetime is now for relative forms) and propagated as
// PEXPIREAT, or as DEL when a primary finds it already past.
func (c *execCtx) expireGeneric(args [][]byte, basetime int64, seconds bool, name string) Reply {
	var nx, xx, gt, lt bool
	for _, a := range args[3:] {
		switch lower(a) {
		case "nx":
			nx = true
		case "xx":
			xx = true
		case "gt":
			gt = true
		case "lt":
			lt = true
		default:
			return errReply("ERR Unsupported option " + string(a))
		}
	}
	if nx && (xx || gt || lt) {
		return errReply("ERR NX and XX, GT or LT options at the same time are not compatible")
	}
	if gt && lt {
		return errReply("ERR GT and LT options at the same time are not compatible")
	}
	when, ok := parseInt(args[2])
	if !ok {
		return notInteger()
	}
	invalid := errReply("ERR invalid expire time in '" + name + "' command")
	if seconds {
		if when > math.MaxInt64/1000 || when < math.MinInt64/1000 {
			return invalid
		}
		when *= 1000
	}
	if when > math.MaxInt64-basetime {
		return invalid
	}
	when += basetime

	key := args[1]
	if c.lookupWrite(key) == nil {
		return integer(0)
	}
	cur, has := c.db.expires[string(key)]
	switch {
	case nx && has, xx && !has:
		return integer(0)
	case gt && (!has || when <= cur): // no TTL counts as infinite
		return integer(0)
	case lt && has && when >= cur:
		return integer(0)
	}
	c.dirty++
	// A replica keeps a key whose time has passed until the primary's DEL
	// arrives (checkAlreadyExpired is false on a replica).
	if when <= c.now && !c.k.replica {
		c.db.remove(string(key))
		c.rewrite = [][]byte{[]byte("DEL"), key}
		return integer(1)
	}
	c.db.expires[string(key)] = when
	c.rewrite = [][]byte{[]byte("PEXPIREAT"), key, formatInt(when)}
	return integer(1)
}

func cmdPersist(c *execCtx, args [][]byte) Reply {
	key := string(args[1])
	if c.lookupWrite(args[1]) == nil {
		return integer(0)
	}
	if _, ok := c.db.expires[key]; !ok {
		return integer(0)
	}
	delete(c.db.expires, key)
	c.dirty++
	return integer(1)
}

func cmdRename(c *execCtx, args [][]byte) Reply { return c.rename(args, false) }

func cmdRenameNX(c *execCtx, args [][]byte) Reply { return c.rename(args, true) }

func (c *execCtx) rename(args [][]byte, nx bool) Reply {
	src, dst := args[1], args[2]
	o := c.lookupWrite(src)
	if o == nil {
		return noSuchKey()
	}
	if string(src) == string(dst) {
		if nx {
			return integer(0)
		}
		return okReply()
	}
	when, hasTTL := c.db.expires[string(src)]
	if c.lookupWrite(dst) != nil {
		if nx {
			return integer(0)
		}
		c.db.remove(string(dst))
	}
	c.db.remove(string(src))
	c.db.add(string(dst), o)
	if hasTTL {
		c.db.expires[string(dst)] = when
	}
	c.dirty++
	if nx {
		return integer(1)
	}
	return okReply()
}

func cmdKeys(c *execCtx, args [][]byte) Reply {
	all := string(args[1]) == "*"
	var keys []string
	for key := range c.db.keys {
		// KEYS skips expired keys without deleting them, as Redis does.
		if c.isExpired(key) || (!all && !globMatch(args[1], []byte(key))) {
			continue
		}
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return bulkStrings(keys)
}

// cmdScan iterates in (scanHash, key) order. The cursor is the scanHash where
// the next call starts, so a key present for the whole iteration is returned
// exactly once however the keyspace changes, and the same keyspace always
// gives the same sequence of replies.
func cmdScan(c *execCtx, args [][]byte) Reply {
	cursor, err := strconv.ParseUint(string(args[1]), 10, 64)
	if err != nil {
		return errReply("ERR invalid cursor")
	}
	count := 10
	var pattern []byte
	typeName := ""
	for i := 2; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return syntaxErr()
		}
		switch lower(args[i]) {
		case "count":
			n, ok := parseInt(args[i+1])
			if !ok {
				return notInteger()
			}
			if n < 1 {
				return syntaxErr()
			}
			count = int(min(n, math.MaxInt32))
		case "match":
			pattern = args[i+1]
			if string(pattern) == "*" {
				pattern = nil // matches everything, even the empty key
			}
		case "type":
			typeName = lower(args[i+1])
		default:
			return syntaxErr()
		}
	}
	d := c.db
	if d.scanIndex == nil || (cursor == 0 && d.scanStale) {
		d.rebuildScanIndex()
	}
	idx := d.scanIndex
	i := sort.Search(len(idx), func(i int) bool { return idx[i].hash >= cursor })
	var keys []string
	for n := 0; i < len(idx) && (n < count || idx[i].hash == idx[i-1].hash); n++ {
		// A group of equal hashes is never split: the cursor could not
		// point into its middle.
		key := idx[i].key
		i++
		o := c.lookupRead([]byte(key))
		if o == nil {
			continue
		}
		if pattern != nil && !globMatch(pattern, []byte(key)) {
			continue
		}
		if typeName != "" && o.kind().String() != typeName {
			continue
		}
		keys = append(keys, key)
	}
	next := uint64(0)
	if i < len(idx) {
		next = idx[i].hash
	}
	return resp.Array(resp.BulkString(strconv.FormatUint(next, 10)), bulkStrings(keys))
}

func cmdDBSize(c *execCtx, _ [][]byte) Reply {
	return integer(int64(len(c.db.keys)))
}

func cmdSelect(c *execCtx, args [][]byte) Reply {
	n, valid := parseInt(args[1])
	if !valid || n < math.MinInt32 || n > math.MaxInt32 {
		return notInteger()
	}
	if n < 0 || n >= NumDBs {
		return errReply("ERR DB index is out of range")
	}
	c.selectDB(int(n))
	return okReply()
}

// flushArgs accepts Redis 7.0's optional SYNC or ASYNC.
func flushArgs(args [][]byte) bool {
	if len(args) > 2 {
		return false
	}
	if len(args) == 2 {
		switch lower(args[1]) {
		case "sync", "async":
		default:
			return false
		}
	}
	return true
}

func cmdFlushDB(c *execCtx, args [][]byte) Reply {
	if !flushArgs(args) {
		return syntaxErr()
	}
	c.k.dbs[*c.dbIndex] = newDB()
	c.db = c.k.dbs[*c.dbIndex]
	// Redis forces propagation even of a flush that found nothing.
	c.dirty++
	return okReply()
}

func cmdFlushAll(c *execCtx, args [][]byte) Reply {
	if !flushArgs(args) {
		return syntaxErr()
	}
	for i := range c.k.dbs {
		c.k.dbs[i] = newDB()
	}
	c.db = c.k.dbs[*c.dbIndex]
	c.dirty++
	return okReply()
}

func cmdPing(_ *execCtx, args [][]byte) Reply {
	switch len(args) {
	case 1:
		return resp.SimpleString("PONG")
	case 2:
		return bulk(args[1])
	}
	return arityReply("ping")
}

func cmdEcho(_ *execCtx, args [][]byte) Reply { return bulk(args[1]) }

func cmdMulti(_ *execCtx, _ [][]byte) Reply { return okReply() }

func cmdExecMarker(_ *execCtx, _ [][]byte) Reply { return resp.Array() }

func cmdPublish(_ *execCtx, _ [][]byte) Reply { return integer(0) }
