package keyspace

import (
	"bytes"
	"sort"
)

type commandFlags uint8

const (
	// flagWrite marks commands that modify data and are propagated.
	flagWrite commandFlags = 1 << iota
	// flagShared marks commands that only read and may run under the
	// shared lock.
	flagShared
)

type command struct {
	name string // lower case, as Redis names it in errors
	// arity follows Redis: n > 0 means exactly n arguments (name
	// included), n < 0 means at least -n.
	arity int
	flags commandFlags
	run   func(c *execCtx, args [][]byte) Reply
}

var commandTable = map[string]*command{}

func init() {
	for _, c := range []*command{
		// Strings.
		{"get", 2, flagShared, cmdGet},
		{"mget", -2, flagShared, cmdMGet},
		{"strlen", 2, flagShared, cmdStrlen},
		{"set", -3, flagWrite, cmdSet},
		{"setnx", 3, flagWrite, cmdSetNX},
		{"setex", 4, flagWrite, cmdSetEX},
		{"psetex", 4, flagWrite, cmdPSetEX},
		{"getset", 3, flagWrite, cmdGetSet},
		{"getdel", 2, flagWrite, cmdGetDel},
		{"mset", -3, flagWrite, cmdMSet},
		{"msetnx", -3, flagWrite, cmdMSetNX},
		{"incr", 2, flagWrite, cmdIncr},
		{"decr", 2, flagWrite, cmdDecr},
		{"incrby", 3, flagWrite, cmdIncrBy},
		{"decrby", 3, flagWrite, cmdDecrBy},
		{"incrbyfloat", 3, flagWrite, cmdIncrByFloat},
		{"append", 3, flagWrite, cmdAppend},
		{"setrange", 4, flagWrite, cmdSetRange},
		{"getrange", 4, flagShared, cmdGetRange},
		{"substr", 4, flagShared, cmdGetRange},
		{"setbit", 4, flagWrite, cmdSetBit},
		{"getbit", 3, flagShared, cmdGetBit},
		{"bitcount", -2, flagShared, cmdBitCount},
		{"bitop", -4, flagWrite, cmdBitOp},
		{"bitfield", -2, flagWrite, cmdBitField},
		{"bitfield_ro", -2, flagShared, cmdBitFieldRO},
		// HyperLogLog. PFCOUNT writes: it caches the cardinality in the
		// string, and a primary propagates that.
		{"pfadd", -2, flagWrite, cmdPFAdd},
		{"pfcount", -2, flagWrite, cmdPFCount},
		{"pfmerge", -2, flagWrite, cmdPFMerge},
		{"pfdebug", 3, flagWrite, cmdPFDebug},

		// Keys and expiry.
		{"del", -2, flagWrite, cmdDel},
		{"unlink", -2, flagWrite, cmdDel},
		{"exists", -2, flagShared, cmdExists},
		{"type", 2, flagShared, cmdType},
		{"ttl", 2, flagShared, cmdTTL},
		{"pttl", 2, flagShared, cmdPTTL},
		{"expiretime", 2, flagShared, cmdExpireTime},
		{"pexpiretime", 2, flagShared, cmdPExpireTime},
		{"expire", -3, flagWrite, cmdExpire},
		{"pexpire", -3, flagWrite, cmdPExpire},
		{"expireat", -3, flagWrite, cmdExpireAt},
		{"pexpireat", -3, flagWrite, cmdPExpireAt},
		{"persist", 2, flagWrite, cmdPersist},
		{"rename", 3, flagWrite, cmdRename},
		{"renamenx", 3, flagWrite, cmdRenameNX},
		{"copy", -3, flagWrite, cmdCopy},
		{"move", 3, flagWrite, cmdMove},
		{"restore", -4, flagWrite, cmdRestore},
		{"sort", -2, flagWrite, cmdSort},
		{"sort_ro", -2, flagShared, cmdSortRO},
		{"restore-asking", -4, flagWrite, cmdRestore},
		{"keys", 2, flagShared, cmdKeys},
		// SCAN takes the exclusive lock: it may rebuild the scan index.
		{"scan", -2, 0, cmdScan},
		{"dbsize", 1, flagShared, cmdDBSize},

		// Lists.
		{"lpush", -3, flagWrite, cmdLPush},
		{"rpush", -3, flagWrite, cmdRPush},
		{"lpushx", -3, flagWrite, cmdLPushX},
		{"rpushx", -3, flagWrite, cmdRPushX},
		{"lpop", -2, flagWrite, cmdLPop},
		{"rpop", -2, flagWrite, cmdRPop},
		{"lset", 4, flagWrite, cmdLSet},
		{"ltrim", 4, flagWrite, cmdLTrim},
		{"lrem", 4, flagWrite, cmdLRem},
		{"linsert", 5, flagWrite, cmdLInsert},
		{"lmove", 5, flagWrite, cmdLMove},
		{"rpoplpush", 3, flagWrite, cmdRPopLPush},
		{"lrange", 4, flagShared, cmdLRange},
		{"llen", 2, flagShared, cmdLLen},
		{"lindex", 3, flagShared, cmdLIndex},

		// Hashes.
		{"hset", -4, flagWrite, cmdHSet},
		{"hmset", -4, flagWrite, cmdHMSet},
		{"hsetnx", 4, flagWrite, cmdHSetNX},
		{"hdel", -3, flagWrite, cmdHDel},
		{"hincrby", 4, flagWrite, cmdHIncrBy},
		{"hincrbyfloat", 4, flagWrite, cmdHIncrByFloat},
		{"hget", 3, flagShared, cmdHGet},
		{"hmget", -3, flagShared, cmdHMGet},
		{"hgetall", 2, flagShared, cmdHGetAll},
		{"hkeys", 2, flagShared, cmdHKeys},
		{"hvals", 2, flagShared, cmdHVals},
		{"hlen", 2, flagShared, cmdHLen},
		{"hexists", 3, flagShared, cmdHExists},

		// Sets.
		{"sadd", -3, flagWrite, cmdSAdd},
		{"srem", -3, flagWrite, cmdSRem},
		{"smembers", 2, flagShared, cmdSMembers},
		{"sismember", 3, flagShared, cmdSIsMember},
		{"scard", 2, flagShared, cmdSCard},
		{"smove", 4, flagWrite, cmdSMove},
		{"sunion", -2, flagShared, setRead(setUnion)},
		{"sinter", -2, flagShared, setRead(setInter)},
		{"sdiff", -2, flagShared, setRead(setDiff)},
		{"sunionstore", -3, flagWrite, setStore(setUnion)},
		{"sinterstore", -3, flagWrite, setStore(setInter)},
		{"sdiffstore", -3, flagWrite, setStore(setDiff)},

		// Sorted sets.
		{"zadd", -4, flagWrite, cmdZAdd},
		{"zincrby", 4, flagWrite, cmdZIncrBy},
		{"zrem", -3, flagWrite, cmdZRem},
		{"zrange", -4, flagShared, cmdZRange},
		{"zscore", 3, flagShared, cmdZScore},
		{"zcard", 2, flagShared, cmdZCard},
		{"zpopmin", -2, flagWrite, zpop(false)},
		{"zpopmax", -2, flagWrite, zpop(true)},
		{"zremrangebyscore", 4, flagWrite, cmdZRemRangeByScore},
		{"zremrangebylex", 4, flagWrite, cmdZRemRangeByLex},
		{"zremrangebyrank", 4, flagWrite, cmdZRemRangeByRank},
		{"zunionstore", -4, flagWrite, zsetStore(setUnion)},
		{"zinterstore", -4, flagWrite, zsetStore(setInter)},
		{"zdiffstore", -4, flagWrite, zsetStore(setDiff)},
		{"zrangestore", -5, flagWrite, cmdZRangeStore},

		// Geo sets (GEOADD arrives as ZADD).
		{"georadius", -6, flagWrite, geoGeneric(geoRadius, false)},
		{"georadius_ro", -6, flagShared, geoGeneric(geoRadius, true)},
		{"georadiusbymember", -5, flagWrite, geoGeneric(geoRadiusByMember, false)},
		{"georadiusbymember_ro", -5, flagShared, geoGeneric(geoRadiusByMember, true)},
		{"geosearch", -7, flagShared, geoGeneric(geoSearch, true)},
		{"geosearchstore", -8, flagWrite, geoGeneric(geoSearchStore, false)},
		{"geopos", -2, flagShared, cmdGeoPos},
		{"geodist", -4, flagShared, cmdGeoDist},

		// Streams. XREADGROUP and XAUTOCLAIM never reach a replica: a
		// primary propagates their effects as XCLAIM and XGROUP.
		{"xadd", -5, flagWrite, cmdXAdd},
		{"xtrim", -4, flagWrite, cmdXTrim},
		{"xdel", -3, flagWrite, cmdXDel},
		{"xsetid", -3, flagWrite, cmdXSetID},
		{"xgroup", -2, flagWrite, cmdXGroup},
		{"xack", -4, flagWrite, cmdXAck},
		{"xclaim", -6, flagWrite, cmdXClaim},
		{"xrange", -4, flagShared, cmdXRange},
		{"xrevrange", -4, flagShared, cmdXRevRange},
		{"xlen", 2, flagShared, cmdXLen},
		{"xinfo", -2, flagShared, cmdXInfo},
		{"xpending", -3, flagShared, cmdXPending},
		{"xread", -4, flagShared, cmdXRead},

		// Databases.
		{"select", 2, flagShared, cmdSelect},
		{"flushdb", -1, flagWrite, cmdFlushDB},
		{"flushall", -1, flagWrite, cmdFlushAll},
		{"swapdb", 3, flagWrite, cmdSwapDB},
		{"function", -2, flagWrite, cmdFunction},

		// Connection and stream control. In a replication stream MULTI and
		// EXEC only delimit a transaction; see ExecAll.
		{"ping", -1, flagShared, cmdPing},
		{"echo", 2, flagShared, cmdEcho},
		{"multi", 1, flagShared, cmdMulti},
		{"exec", 1, flagShared, cmdExecMarker},
		// A primary propagates PUBLISH; a keyspace has no subscribers.
		{"publish", 3, flagShared, cmdPublish},
		{"spublish", 3, flagShared, cmdPublish},
	} {
		commandTable[c.name] = c
	}
}

func lookupCommand(name []byte) *command {
	if c, ok := commandTable[string(name)]; ok {
		return c
	}
	// Lower-cased on the stack: a primary streams "SET", not "set", and
	// this runs for every command a replica applies.
	var buf [24]byte
	if len(name) > len(buf) {
		return commandTable[string(bytes.ToLower(name))]
	}
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return commandTable[string(buf[:len(name)])]
}

// IsWrite reports whether the named command (any case) is a write this
// keyspace implements: one that modifies data and that a primary
// propagates to its replicas.
func IsWrite(name string) bool {
	c := lookupCommand([]byte(name))
	return c != nil && c.flags&flagWrite != 0
}

// Commands returns the names of all commands the keyspace implements, in
// lower case, sorted.
func Commands() []string {
	names := make([]string, 0, len(commandTable))
	for n := range commandTable {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
