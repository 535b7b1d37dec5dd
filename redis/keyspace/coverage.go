package keyspace

//go:generate go test -run TestCoverageAgainstRedis -update-coverage .

// CoverageStatus says how a replica of a Redis 7.0 primary meets a write
// command.
type CoverageStatus string

const (
	// CoverageApplied: the primary streams the command (possibly
	// rewritten, see Note) and the keyspace applies it.
	CoverageApplied CoverageStatus = "applied"
	// CoverageRewritten: the command never reaches a replica; the primary
	// propagates its effects as other commands, named in Note.
	CoverageRewritten CoverageStatus = "rewritten"
	// CoverageUnsupported: the command can reach a replica and the
	// keyspace cannot apply it yet. A replica skips it, logs it once and
	// counts it (replsm_unapplied_commands in INFO) instead of looping
	// through full syncs.
	CoverageUnsupported CoverageStatus = "unsupported"
)

// CoverageEntry accounts for one command as COMMAND names it (subcommands
// as "container|sub").
type CoverageEntry struct {
	Command string
	Status  CoverageStatus
	Note    string
}

// Coverage lists every command redis-server 7.0.15 flags "write", plus the
// commands without that flag that a primary's stream carries. The test
// TestCoverageAgainstRedis fails when the installed server reports a write
// command missing here, or when an entry's status disagrees with the
// command table; COVERAGE.md is generated from it.
var Coverage = []CoverageEntry{
	// Strings.
	{"append", CoverageApplied, ""},
	{"bitfield", CoverageApplied, "propagated when a SET or INCRBY changed bits"},
	{"bitop", CoverageApplied, ""},
	{"decr", CoverageApplied, ""},
	{"decrby", CoverageApplied, ""},
	{"getdel", CoverageApplied, "a primary propagates DEL"},
	{"getex", CoverageRewritten, "PEXPIREAT, PERSIST, or DEL/UNLINK for an expiry in the past"},
	{"getset", CoverageApplied, "a primary propagates SET"},
	{"incr", CoverageApplied, ""},
	{"incrby", CoverageApplied, ""},
	{"incrbyfloat", CoverageApplied, "a primary propagates SET key value KEEPTTL"},
	{"mset", CoverageApplied, ""},
	{"msetnx", CoverageApplied, ""},
	{"psetex", CoverageApplied, "a primary propagates SET ... PXAT"},
	{"set", CoverageApplied, "EX/PX/EXAT become PXAT; GET is dropped"},
	{"setbit", CoverageApplied, ""},
	{"setex", CoverageApplied, "a primary propagates SET ... PXAT"},
	{"setnx", CoverageApplied, ""},
	{"setrange", CoverageApplied, ""},

	// Keys.
	{"copy", CoverageApplied, ""},
	{"del", CoverageApplied, ""},
	{"expire", CoverageApplied, "a primary propagates PEXPIREAT, or DEL/UNLINK for a past time"},
	{"expireat", CoverageApplied, "a primary propagates PEXPIREAT, or DEL/UNLINK for a past time"},
	{"migrate", CoverageRewritten, "the source propagates DEL of the moved keys (none with COPY); the target gets RESTORE-ASKING"},
	{"move", CoverageApplied, ""},
	{"persist", CoverageApplied, ""},
	{"pexpire", CoverageApplied, "a primary propagates PEXPIREAT, or DEL/UNLINK for a past time"},
	{"pexpireat", CoverageApplied, ""},
	{"rename", CoverageApplied, ""},
	{"renamenx", CoverageApplied, ""},
	{"restore", CoverageApplied, "a primary propagates an absolute TTL with ABSTTL; the payload is decoded by redis/rdb"},
	{"restore-asking", CoverageApplied, "cluster migration target; as RESTORE"},
	{"sort", CoverageApplied, "SORT ... STORE is propagated verbatim; ties of BY values keep input order (set input order is Redis's hash order, so such ties may differ)"},
	{"unlink", CoverageApplied, ""},

	// Lists.
	{"blmove", CoverageRewritten, "LMOVE"},
	{"blmpop", CoverageRewritten, "LPOP/RPOP key count"},
	{"blpop", CoverageRewritten, "LPOP key"},
	{"brpop", CoverageRewritten, "RPOP key"},
	{"brpoplpush", CoverageRewritten, "RPOPLPUSH"},
	{"linsert", CoverageApplied, ""},
	{"lmove", CoverageApplied, ""},
	{"lmpop", CoverageRewritten, "LPOP/RPOP key count"},
	{"lpop", CoverageApplied, ""},
	{"lpush", CoverageApplied, ""},
	{"lpushx", CoverageApplied, ""},
	{"lrem", CoverageApplied, ""},
	{"lset", CoverageApplied, ""},
	{"ltrim", CoverageApplied, ""},
	{"rpop", CoverageApplied, ""},
	{"rpoplpush", CoverageApplied, ""},
	{"rpush", CoverageApplied, ""},
	{"rpushx", CoverageApplied, ""},

	// Hashes.
	{"hdel", CoverageApplied, ""},
	{"hincrby", CoverageApplied, ""},
	{"hincrbyfloat", CoverageApplied, "a primary propagates HSET with the result"},
	{"hmset", CoverageApplied, ""},
	{"hset", CoverageApplied, ""},
	{"hsetnx", CoverageApplied, ""},

	// Sets.
	{"sadd", CoverageApplied, ""},
	{"sdiffstore", CoverageApplied, ""},
	{"sinterstore", CoverageApplied, ""},
	{"smove", CoverageApplied, ""},
	{"spop", CoverageRewritten, "SREM of the popped members, or DEL when the set is emptied"},
	{"srem", CoverageApplied, ""},
	{"sunionstore", CoverageApplied, ""},

	// Sorted sets.
	{"bzmpop", CoverageRewritten, "ZPOPMIN/ZPOPMAX key count"},
	{"bzpopmax", CoverageRewritten, "ZPOPMAX key"},
	{"bzpopmin", CoverageRewritten, "ZPOPMIN key"},
	{"zadd", CoverageApplied, "NX/XX/GT/LT/CH/INCR"},
	{"zdiffstore", CoverageApplied, ""},
	{"zincrby", CoverageApplied, ""},
	{"zinterstore", CoverageApplied, ""},
	{"zmpop", CoverageRewritten, "ZPOPMIN/ZPOPMAX key count"},
	{"zpopmax", CoverageApplied, ""},
	{"zpopmin", CoverageApplied, ""},
	{"zrangestore", CoverageApplied, ""},
	{"zrem", CoverageApplied, ""},
	{"zremrangebylex", CoverageApplied, ""},
	{"zremrangebyrank", CoverageApplied, ""},
	{"zremrangebyscore", CoverageApplied, ""},
	{"zunionstore", CoverageApplied, ""},

	// HyperLogLog and geo (encodings of strings and sorted sets).
	{"pfadd", CoverageApplied, "sparse and dense bytes identical to Redis's"},
	{"pfdebug", CoverageApplied, "GETREG and TODENSE propagate when they make an HLL dense"},
	{"pfmerge", CoverageApplied, ""},
	{"geoadd", CoverageRewritten, "ZADD key score member, the score being the 52-bit geohash"},
	{"georadius", CoverageApplied, "with STORE/STOREDIST, propagated verbatim; COUNT ... ANY may pick other members than Redis's box order"},
	{"georadiusbymember", CoverageApplied, "as GEORADIUS"},
	{"geosearchstore", CoverageApplied, "as GEORADIUS"},

	// Streams.
	{"xack", CoverageApplied, ""},
	{"xadd", CoverageApplied, "a primary propagates the generated ID and exact trimming (= and the resulting threshold)"},
	{"xautoclaim", CoverageRewritten, "XCLAIM ... FORCE JUSTID LASTID per claimed or deleted entry"},
	{"xclaim", CoverageApplied, "a primary propagates XCLAIM ... TIME RETRYCOUNT FORCE JUSTID LASTID per entry, or XGROUP SETID"},
	{"xdel", CoverageApplied, ""},
	{"xgroup|create", CoverageApplied, ""},
	{"xgroup|createconsumer", CoverageApplied, ""},
	{"xgroup|delconsumer", CoverageApplied, ""},
	{"xgroup|destroy", CoverageApplied, ""},
	{"xgroup|setid", CoverageApplied, ""},
	{"xreadgroup", CoverageRewritten, "XCLAIM per delivered entry, XGROUP SETID (NOACK), XGROUP CREATECONSUMER"},
	{"xsetid", CoverageApplied, ""},
	{"xtrim", CoverageApplied, "a primary propagates exact trimming"},

	// Databases and server.
	{"flushall", CoverageApplied, ""},
	{"flushdb", CoverageApplied, ""},
	{"swapdb", CoverageApplied, ""},

	// Functions: propagated verbatim; FCALL's effects arrive as commands.
	{"function|delete", CoverageApplied, "accepted; a replica keeps no libraries"},
	{"function|flush", CoverageApplied, "accepted; a replica keeps no libraries"},
	{"function|load", CoverageApplied, "accepted; a replica keeps no libraries"},
	{"function|restore", CoverageApplied, "accepted; a replica keeps no libraries"},
}

// StreamCoverage lists what a primary's stream carries besides write
// commands; the coverage test checks each against the server too.
var StreamCoverage = []CoverageEntry{
	{"eval", CoverageRewritten, "7.0 replicates a script's effects, wrapped in MULTI/EXEC"},
	{"evalsha", CoverageRewritten, "as EVAL"},
	{"eval_ro", CoverageRewritten, "read-only: nothing to propagate"},
	{"evalsha_ro", CoverageRewritten, "read-only: nothing to propagate"},
	{"fcall", CoverageRewritten, "the function's effects, wrapped in MULTI/EXEC"},
	{"fcall_ro", CoverageRewritten, "read-only: nothing to propagate"},
	{"multi", CoverageApplied, "MULTI ... EXEC is applied as one atomic step"},
	{"exec", CoverageApplied, "ends the transaction"},
	{"select", CoverageApplied, ""},
	{"ping", CoverageApplied, "the primary's keepalive"},
	{"publish", CoverageApplied, "no subscribers on a replica's keyspace"},
	{"spublish", CoverageApplied, "as PUBLISH"},
	{"pfcount", CoverageApplied, "propagated when it refreshes the cached cardinality"},
}
