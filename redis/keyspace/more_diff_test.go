package keyspace

import (
	"strings"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/redis/resp/resptest"
)

// moreScript covers the commands a primary propagates verbatim beyond the
// basic families; every reply must match redis-server's, and so must the
// data the digest sees at the end.
var moreScript = [][]string{
	// String ranges and bits.
	{"SETRANGE", "s", "5", "abc"}, {"GET", "s"}, {"SETRANGE", "s", "0", "XY"}, {"GET", "s"}, {"SETRANGE", "s", "1", ""},
	{"SETRANGE", "none", "3", ""}, {"EXISTS", "none"}, {"SETRANGE", "s", "-1", "x"}, {"SETRANGE", "s", "x", "y"},
	{"SETRANGE", "s", "536870911", "ab"}, {"GETRANGE", "s", "0", "-1"}, {"GETRANGE", "s", "-3", "-1"}, {"GETRANGE", "s", "5", "2"},
	{"GETRANGE", "s", "-1", "-5"}, {"GETRANGE", "s", "0", "100"}, {"GETRANGE", "nope", "0", "1"}, {"SUBSTR", "s", "1", "2"},
	{"SETBIT", "b", "7", "1"}, {"SETBIT", "b", "7", "1"}, {"SETBIT", "b", "100", "1"}, {"SETBIT", "b", "0", "0"}, {"GET", "b"},
	{"SETBIT", "b", "-1", "1"}, {"SETBIT", "b", "1", "2"}, {"SETBIT", "b", "4294967296", "1"}, {"GETBIT", "b", "7"}, {"GETBIT", "b", "1000"},
	{"GETBIT", "nope", "1"}, {"BITCOUNT", "b"}, {"BITCOUNT", "b", "0", "0"}, {"BITCOUNT", "b", "0", "7", "BIT"},
	{"BITCOUNT", "b", "-1", "-1"}, {"BITCOUNT", "b", "0"}, {"BITCOUNT", "b", "0", "1", "FOO"}, {"BITCOUNT", "nope"},
	{"SET", "k1", "foobar"}, {"SET", "k2", "abcdef"}, {"BITOP", "AND", "dst", "k1", "k2"}, {"GET", "dst"},
	{"BITOP", "OR", "dst", "k1", "k2", "nope"}, {"GET", "dst"}, {"BITOP", "XOR", "dst", "k1", "b"}, {"GET", "dst"},
	{"BITOP", "NOT", "dst", "k1"}, {"GET", "dst"}, {"BITOP", "NOT", "dst", "k1", "k2"}, {"BITOP", "NAND", "dst", "k1"},
	{"BITOP", "AND", "dst", "nope"}, {"EXISTS", "dst"}, {"LPUSH", "lst", "a"}, {"BITOP", "AND", "dst", "lst"},

	// BITFIELD.
	{"BITFIELD", "bf", "SET", "u8", "0", "200", "GET", "u8", "0", "GET", "i8", "0"}, {"GET", "bf"},
	{"BITFIELD", "bf", "INCRBY", "u8", "0", "100", "OVERFLOW", "SAT", "INCRBY", "u8", "0", "100", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "100"},
	{"BITFIELD", "bf", "INCRBY", "i5", "100", "1", "GET", "u4", "0", "SET", "i64", "#2", "-9223372036854775808", "INCRBY", "i64", "#2", "-1"},
	{"BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "i64", "#2", "-1", "INCRBY", "i16", "#3", "-40000", "OVERFLOW", "WRAP", "INCRBY", "i16", "#3", "-40000"},
	{"BITFIELD", "bf", "SET", "u63", "7", "9223372036854775807", "INCRBY", "u63", "7", "5", "OVERFLOW", "SAT", "INCRBY", "u1", "3", "-5"}, {"GET", "bf"},
	{"BITFIELD", "bf", "SET", "u64", "0", "1"}, {"BITFIELD", "bf", "SET", "i65", "0", "1"}, {"BITFIELD", "bf", "SET", "x8", "0", "1"},
	{"BITFIELD", "bf", "GET", "u8", "-1"}, {"BITFIELD", "bf", "GET", "u8", "#x"}, {"BITFIELD", "bf", "OVERFLOW", "MAYBE"},
	{"BITFIELD", "bf", "BOGUS", "u8", "0"}, {"BITFIELD", "bf", "SET", "u8", "0", "x"}, {"BITFIELD", "bf"},
	{"BITFIELD", "nobf", "GET", "u8", "0"}, {"EXISTS", "nobf"}, {"BITFIELD", "failbf", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9"}, {"GET", "failbf"},
	{"BITFIELD_RO", "bf", "GET", "u8", "0"}, {"BITFIELD_RO", "bf", "SET", "u8", "0", "1"}, {"BITFIELD", "lst", "GET", "u8", "0"},
	{"BITFIELD", "big", "SET", "u8", "#1000", "255"}, {"STRLEN", "big"},

	// Lists.
	{"RPUSH", "l", "a", "b", "c", "b"}, {"LINSERT", "l", "BEFORE", "b", "X"}, {"LINSERT", "l", "AFTER", "b", "Y"},
	{"LINSERT", "l", "AFTER", "zz", "Y"}, {"LINSERT", "nope", "AFTER", "a", "Y"}, {"LINSERT", "l", "MIDDLE", "a", "Y"},
	{"LRANGE", "l", "0", "-1"}, {"LMOVE", "l", "l2", "LEFT", "RIGHT"}, {"LMOVE", "l", "l2", "RIGHT", "LEFT"},
	{"LMOVE", "l", "l", "LEFT", "RIGHT"}, {"LMOVE", "nope", "l2", "LEFT", "LEFT"}, {"LMOVE", "l", "s", "LEFT", "LEFT"},
	{"LMOVE", "l", "l2", "UP", "LEFT"}, {"RPOPLPUSH", "l", "l2"}, {"LRANGE", "l", "0", "-1"}, {"LRANGE", "l2", "0", "-1"},
	{"RPUSH", "one", "x"}, {"RPOPLPUSH", "one", "l2"}, {"EXISTS", "one"}, {"LINSERT", "s", "BEFORE", "a", "b"},

	// Sets.
	{"SADD", "s1", "a", "b", "c"}, {"SADD", "s2", "b", "c", "d"}, {"SADD", "s3", "c"}, {"SMOVE", "s1", "s2", "a"},
	{"SMOVE", "s1", "s2", "zz"}, {"SMOVE", "nope", "s2", "a"}, {"SMOVE", "s1", "s", "b"}, {"SMOVE", "s1", "s1", "b"},
	{"SMEMBERS", "s2"}, {"SUNION", "s1", "s2", "nope"}, {"SINTER", "s1", "s2"}, {"SINTER", "s1", "nope"}, {"SDIFF", "s2", "s1", "s3"},
	{"SUNIONSTORE", "u", "s1", "s2"}, {"SMEMBERS", "u"}, {"SINTERSTORE", "i", "s2", "s3"}, {"SMEMBERS", "i"},
	{"SDIFFSTORE", "d", "s2", "s1"}, {"SMEMBERS", "d"}, {"SINTERSTORE", "u", "s1", "nope"}, {"EXISTS", "u"},
	{"SUNION", "s1", "s"}, {"SUNIONSTORE", "u", "s"}, {"SET", "strdst", "x"}, {"SUNIONSTORE", "strdst", "s1"}, {"TYPE", "strdst"},
	{"SMOVE", "s3", "gone3", "c"}, {"EXISTS", "s3"},

	// Sorted sets.
	{"ZADD", "z1", "1", "a", "2", "b", "3", "c", "4", "d"}, {"ZADD", "z2", "10", "b", "20", "c", "30", "e"}, {"SADD", "zs", "a", "e"},
	{"ZPOPMIN", "z1"}, {"ZPOPMAX", "z1", "2"}, {"ZPOPMIN", "z1", "0"}, {"ZPOPMIN", "z1", "-1"}, {"ZPOPMIN", "nope"},
	{"ZPOPMAX", "z1", "10"}, {"EXISTS", "z1"}, {"ZADD", "z1", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"},
	{"ZREMRANGEBYSCORE", "z1", "(1", "2"}, {"ZREMRANGEBYSCORE", "z1", "x", "2"}, {"ZRANGE", "z1", "0", "-1", "WITHSCORES"},
	{"ZREMRANGEBYRANK", "z1", "-1", "-1"}, {"ZREMRANGEBYRANK", "z1", "5", "9"}, {"ZRANGE", "z1", "0", "-1"},
	{"ZADD", "lex", "0", "a", "0", "b", "0", "c"}, {"ZREMRANGEBYLEX", "lex", "[a", "(c"}, {"ZREMRANGEBYLEX", "lex", "a", "c"},
	{"ZRANGE", "lex", "0", "-1"}, {"ZREMRANGEBYSCORE", "nope", "0", "1"},
	{"ZUNIONSTORE", "zu", "3", "z1", "z2", "zs"}, {"ZRANGE", "zu", "0", "-1", "WITHSCORES"},
	{"ZUNIONSTORE", "zu", "2", "z1", "z2", "WEIGHTS", "2", "0.5", "AGGREGATE", "MAX"}, {"ZRANGE", "zu", "0", "-1", "WITHSCORES"},
	{"ZINTERSTORE", "zi", "2", "z2", "zs", "AGGREGATE", "MIN"}, {"ZRANGE", "zi", "0", "-1", "WITHSCORES"},
	{"ZINTERSTORE", "zi", "2", "z2", "nope"}, {"EXISTS", "zi"}, {"ZDIFFSTORE", "zd", "2", "z2", "zs"}, {"ZRANGE", "zd", "0", "-1", "WITHSCORES"},
	{"ZUNIONSTORE", "zu", "0", "z1"}, {"ZUNIONSTORE", "zu", "3", "z1"}, {"ZUNIONSTORE", "zu", "1", "z1", "WEIGHTS", "x"},
	{"ZUNIONSTORE", "zu", "1", "z1", "AGGREGATE", "AVG"}, {"ZDIFFSTORE", "zd", "1", "z1", "WEIGHTS", "1"}, {"ZUNIONSTORE", "zu", "1", "s"},
	{"ZRANGESTORE", "zrs", "z2", "0", "1"}, {"ZRANGE", "zrs", "0", "-1", "WITHSCORES"}, {"ZRANGESTORE", "zrs", "z2", "(10", "+inf", "BYSCORE", "LIMIT", "0", "1"},
	{"ZRANGE", "zrs", "0", "-1", "WITHSCORES"}, {"ZRANGESTORE", "zrs", "z2", "+inf", "-inf", "BYSCORE", "REV"}, {"ZRANGE", "zrs", "0", "-1", "WITHSCORES"},
	{"ZRANGESTORE", "zrs2", "lex", "-", "+", "BYLEX"}, {"ZRANGE", "zrs2", "0", "-1", "WITHSCORES"}, {"ZRANGESTORE", "zrs", "z2", "5", "9"}, {"EXISTS", "zrs"},
	{"ZRANGESTORE", "zrs", "nope", "0", "-1"}, {"ZRANGESTORE", "zrs", "z2", "0", "-1", "WITHSCORES"}, {"ZRANGESTORE", "zrs", "s", "0", "-1"},
	{"ZRANGESTORE", "zrs", "z2", "x", "1"}, {"ZRANGESTORE", "zrs", "z2", "0", "1", "LIMIT", "0", "1"},
	{"ZADD", "zinf", "inf", "a"}, {"ZADD", "zninf", "-inf", "a"}, {"ZUNIONSTORE", "znan", "2", "zinf", "zninf"}, {"ZRANGE", "znan", "0", "-1", "WITHSCORES"},
	{"ZINTERSTORE", "znan2", "1", "zinf", "WEIGHTS", "0"}, {"ZRANGE", "znan2", "0", "-1", "WITHSCORES"},

	// SORT.
	{"RPUSH", "sl", "3", "1", "10", "2", "-5.5"}, {"SORT", "sl"}, {"SORT", "sl", "DESC"}, {"SORT", "sl", "ALPHA"},
	{"SORT", "sl", "LIMIT", "1", "2"}, {"SORT", "sl", "LIMIT", "-1", "2"}, {"SORT", "sl", "LIMIT", "10", "2"}, {"SORT", "sl", "STORE", "sorted"},
	{"LRANGE", "sorted", "0", "-1"}, {"MSET", "w_3", "30", "w_1", "10", "w_10", "5", "w_2", "20"}, {"SORT", "sl", "BY", "w_*"},
	{"SORT", "sl", "BY", "w_*", "GET", "#", "GET", "w_*", "STORE", "sorted2"}, {"LRANGE", "sorted2", "0", "-1"},
	{"HSET", "hh_1", "f", "b"}, {"HSET", "hh_2", "f", "a"}, {"SORT", "sl", "BY", "hh_*->f", "ALPHA", "GET", "hh_*->f"},
	{"SORT", "sl", "BY", "nosort"}, {"SORT", "sl", "BY", "nosort", "DESC", "LIMIT", "1", "2"},
	{"SADD", "sset", "b", "a", "c"}, {"SORT", "sset", "BY", "nosort", "STORE", "sorted3"}, {"LRANGE", "sorted3", "0", "-1"},
	{"SORT", "sset"}, {"SORT", "sset", "ALPHA", "DESC"}, {"SORT", "z2", "BY", "nosort"}, {"SORT", "z2", "ALPHA"},
	{"SORT", "nope", "STORE", "sorted"}, {"EXISTS", "sorted"}, {"SORT", "s"}, {"SORT", "sl", "BOGUS"},
	{"SORT", "sl", "LIMIT", "x", "1"}, {"SORT_RO", "sl", "DESC"}, {"SORT_RO", "sl", "STORE", "x"},

	// Keys across databases.
	{"SET", "c1", "v"}, {"PEXPIRE", "c1", "100000"}, {"COPY", "c1", "c2"}, {"TTL", "c2"}, {"COPY", "c1", "c2"},
	{"COPY", "c1", "c2", "REPLACE"}, {"COPY", "c1", "c1"}, {"COPY", "nope", "c3"}, {"COPY", "c1", "c1", "DB", "2"},
	{"COPY", "z2", "zcopy"}, {"ZADD", "zcopy", "99", "new"}, {"ZRANGE", "z2", "0", "-1"}, {"COPY", "c1", "x", "DB", "16"},
	{"COPY", "c1", "x", "DB", "x"}, {"COPY", "c1", "x", "BOGUS"},
	{"MOVE", "c2", "3"}, {"MOVE", "c2", "3"}, {"MOVE", "c1", "0"}, {"MOVE", "c1", "16"}, {"MOVE", "c1", "x"},
	{"SELECT", "3"}, {"GET", "c2"}, {"SET", "c1", "three"}, {"SELECT", "0"}, {"MOVE", "c1", "3"},
	{"SWAPDB", "0", "3"}, {"GET", "c2"}, {"GET", "c1"}, {"SWAPDB", "0", "3"}, {"SWAPDB", "0", "16"}, {"SWAPDB", "x", "1"},
	{"SWAPDB", "1", "x"}, {"DBSIZE"},

	// Functions are accepted.
	{"FUNCTION", "LOAD", "#!lua name=lib1\nredis.register_function('f1', function() return 1 end)"},
	{"FUNCTION", "LOAD", "#!lua name=lib1\nredis.register_function('f1', function() return 1 end)"},
	{"FUNCTION", "LOAD", "REPLACE", "#!lua name=lib1\nredis.register_function('f1', function() return 2 end)"},
	{"FUNCTION", "DELETE", "lib1"}, {"FUNCTION", "DELETE", "lib1"}, {"FUNCTION", "FLUSH"},
}

func TestMoreAgainstRealRedis(t *testing.T) {
	srv := resptest.Start(t, resptest.Options{})
	cli := srv.Dial(t)
	ks := New(clock.New())
	db := 0
	for _, cmd := range moreScript {
		want, err := cli.Do(cmd...)
		require.NoError(t, err, "%q", cmd)
		args := make([][]byte, len(cmd))
		for i, a := range cmd {
			args[i] = []byte(a)
		}
		got, err := ks.Apply(&db, args)
		require.NoError(t, err, "%q", cmd)
		name := strings.ToLower(cmd[0])
		if unordered[name] || name == "sunion" || name == "sinter" || name == "sdiff" {
			want, got = sortArray(want), sortArray(got)
		}
		assert.True(t, want.Equal(got), "%q:\nredis:    %v\nkeyspace: %v", cmd, want, got)
	}
}
