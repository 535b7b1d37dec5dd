package keyspace

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/redis/resp"
	"github.com/replsm/replsm/redis/resp/resptest"
)

// diffScript is run command by command against a real redis-server and the
// keyspace; every reply must match. Commands whose Redis reply order is
// hash-table order are compared as sorted multisets.
var diffScript = [][]string{
	// Strings.
	{"SET", "s", "hello"}, {"GET", "s"}, {"STRLEN", "s"}, {"APPEND", "s", " world"}, {"GET", "s"},
	{"APPEND", "new", ""}, {"EXISTS", "new"}, {"GET", "new"},
	{"SET", "s", "x", "NX"}, {"SET", "s", "x", "XX", "GET"}, {"SET", "nx", "1", "NX", "GET"},
	{"SET", "s", "y", "NX", "XX"}, {"SET", "s", "y", "EX", "10", "PX", "10"}, {"SET", "s", "y", "KEEPTTL", "EX", "5"},
	{"SET", "s", "y", "EX", "0"}, {"SET", "s", "y", "EX", "-1"}, {"SET", "s", "y", "EX", "abc"},
	{"SET", "s", "y", "BOGUS"}, {"SET", "s"}, {"SET", "s", "y", "EX"},
	{"SET", "ttl", "v", "EX", "1000"}, {"TTL", "ttl"}, {"SET", "ttl", "w", "KEEPTTL"}, {"TTL", "ttl"},
	{"SET", "ttl", "w"}, {"TTL", "ttl"}, {"PSETEX", "ttl", "100000", "z"}, {"TTL", "ttl"}, {"SETEX", "ttl", "0", "z"},
	{"SETNX", "s", "q"}, {"SETNX", "fresh", "q"}, {"GETSET", "fresh", "r"}, {"GETSET", "none", "r"},
	{"GETDEL", "fresh"}, {"GETDEL", "fresh"}, {"MSET", "a", "1", "b", "2"}, {"MSET", "a"}, {"MSET", "a", "1", "b"},
	{"MGET", "a", "b", "nope"}, {"MSETNX", "a", "9", "c", "3"}, {"MSETNX", "c", "3", "d", "4"}, {"MGET", "c", "d"},
	{"INCR", "a"}, {"INCRBY", "a", "10"}, {"DECR", "a"}, {"DECRBY", "a", "5"}, {"INCR", "s"}, {"INCRBY", "a", "x"},
	{"DECRBY", "a", "-9223372036854775808"}, {"SET", "big", "9223372036854775807"}, {"INCR", "big"},
	{"SET", "neg", "-9223372036854775808"}, {"DECR", "neg"}, {"SET", "lz", "007"}, {"INCR", "lz"},
	{"SET", "f", "10.50"}, {"INCRBYFLOAT", "f", "0.1"}, {"INCRBYFLOAT", "f", "-5"}, {"GET", "f"},
	{"SET", "f", "5.0e3"}, {"INCRBYFLOAT", "f", "2.0e2"}, {"INCRBYFLOAT", "f3", "0.1"}, {"INCRBYFLOAT", "f3", "0.1"},
	{"INCRBYFLOAT", "f3", "0.1"}, {"INCRBYFLOAT", "f3", "abc"}, {"INCRBYFLOAT", "f3", "inf"},
	{"INCRBYFLOAT", "f4", "1e308"}, {"INCRBYFLOAT", "f4", "1e308"}, {"INCRBYFLOAT", "f5", "-0.0"},
	{"INCRBYFLOAT", "f6", "3"}, {"INCRBYFLOAT", "f6", "1.23456789012345678"}, {"INCRBYFLOAT", "f7", "1e-20"},
	{"SET", "ws", " 1"}, {"INCRBYFLOAT", "ws", "1"}, {"INCRBYFLOAT", "s", "1"},

	// Keys.
	{"DEL", "a", "b", "nope"}, {"UNLINK", "c"}, {"EXISTS", "d", "d", "nope"}, {"TYPE", "d"}, {"TYPE", "nope"},
	{"TTL", "d"}, {"TTL", "nope"}, {"PTTL", "nope"}, {"EXPIRETIME", "d"}, {"PEXPIRETIME", "nope"},
	{"SET", "et", "v", "PXAT", "4000000000123"}, {"EXPIRETIME", "et"}, {"PEXPIRETIME", "et"}, {"EXPIRE", "d", "100"}, {"TTL", "d"}, {"PERSIST", "d"},
	{"PERSIST", "d"}, {"TTL", "d"}, {"EXPIRE", "nope", "10"}, {"EXPIRE", "d", "x"}, {"EXPIRE", "d", "10", "NX"},
	{"EXPIRE", "d", "20", "NX"}, {"EXPIRE", "d", "5", "GT"}, {"EXPIRE", "d", "50", "GT"}, {"TTL", "d"},
	{"EXPIRE", "d", "60", "LT"}, {"EXPIRE", "d", "40", "LT"}, {"TTL", "d"}, {"EXPIRE", "d", "10", "NX", "XX"},
	{"EXPIRE", "d", "10", "GT", "LT"}, {"EXPIRE", "d", "10", "FOO"}, {"PERSIST", "d"}, {"EXPIRE", "d", "10", "XX"},
	{"EXPIRE", "d", "10", "GT"}, {"EXPIRE", "d", "10", "LT"}, {"TTL", "d"},
	{"EXPIRE", "d", "9223372036854775807"}, {"PEXPIRE", "d", "9223372036854775807"},
	{"EXPIREAT", "d", "1"}, {"EXISTS", "d"}, {"SET", "d", "v"}, {"PEXPIREAT", "d", "0"}, {"EXISTS", "d"},
	{"SET", "d", "v"}, {"EXPIRE", "d", "-5"}, {"EXISTS", "d"}, {"SET", "d", "v"}, {"PEXPIRE", "d", "100000"},
	{"RENAME", "nope", "x"}, {"SET", "r1", "v"}, {"EXPIRE", "r1", "100"}, {"RENAME", "r1", "r2"}, {"TTL", "r2"},
	{"EXISTS", "r1"}, {"RENAME", "r2", "r2"}, {"RENAMENX", "r2", "r2"}, {"SET", "r3", "x"}, {"RENAMENX", "r2", "r3"},
	{"RENAMENX", "r2", "r4"}, {"RENAME", "r4", "r3"}, {"GET", "r3"}, {"TTL", "r3"},
	{"KEYS", "*"}, {"KEYS", "r?"}, {"KEYS", "f[0-9]"}, {"KEYS", "[^f]*"}, {"DBSIZE"},

	// Lists.
	{"LPUSH", "l", "a", "b", "c"}, {"RPUSH", "l", "d", "e"}, {"LRANGE", "l", "0", "-1"}, {"LLEN", "l"},
	{"LRANGE", "l", "-2", "100"}, {"LRANGE", "l", "3", "1"}, {"LRANGE", "l", "x", "1"}, {"LINDEX", "l", "-1"},
	{"LINDEX", "l", "10"}, {"LPOP", "l"}, {"RPOP", "l"}, {"LPOP", "l", "0"}, {"LPOP", "l", "2"}, {"LRANGE", "l", "0", "-1"},
	{"LPOP", "l", "-1"}, {"LPOP", "nolist", "2"}, {"LPOP", "nolist"}, {"RPOP", "l", "5"}, {"EXISTS", "l"},
	{"RPUSH", "l", "x", "y", "x", "z", "x"}, {"LREM", "l", "2", "x"}, {"LRANGE", "l", "0", "-1"},
	{"RPUSH", "l", "x", "x"}, {"LREM", "l", "-1", "x"}, {"LRANGE", "l", "0", "-1"}, {"LREM", "l", "0", "x"},
	{"LRANGE", "l", "0", "-1"}, {"LSET", "l", "0", "Y"}, {"LSET", "l", "-1", "Z"}, {"LSET", "l", "5", "Q"},
	{"LSET", "nolist", "0", "Q"}, {"LRANGE", "l", "0", "-1"}, {"RPUSH", "l", "1", "2", "3"}, {"LTRIM", "l", "1", "-2"},
	{"LRANGE", "l", "0", "-1"}, {"LTRIM", "l", "5", "1"}, {"EXISTS", "l"}, {"LPUSHX", "l", "a"}, {"RPUSHX", "s", "a"},
	{"LPUSH", "s", "a"}, {"LRANGE", "s", "0", "1"},

	// Hashes.
	{"HSET", "h", "f1", "v1", "f2", "v2"}, {"HSET", "h", "f1", "v9", "f3", "v3"}, {"HSET", "h", "f1"},
	{"HMSET", "h", "f4", "v4"}, {"HGET", "h", "f1"}, {"HGET", "h", "nope"}, {"HMGET", "h", "f1", "nope", "f4"},
	{"HGETALL", "h"}, {"HKEYS", "h"}, {"HVALS", "h"}, {"HLEN", "h"}, {"HEXISTS", "h", "f2"}, {"HSETNX", "h", "f2", "x"},
	{"HSETNX", "h", "f5", "x"}, {"HDEL", "h", "f5", "nope"}, {"HINCRBY", "h", "n", "5"}, {"HINCRBY", "h", "n", "-7"},
	{"HINCRBY", "h", "f1", "1"}, {"HINCRBY", "h", "n", "x"}, {"HSET", "h", "max", "9223372036854775807"},
	{"HINCRBY", "h", "max", "1"}, {"HINCRBYFLOAT", "h", "fl", "0.1"}, {"HINCRBYFLOAT", "h", "fl", "0.2"},
	{"HINCRBYFLOAT", "h", "f1", "1"}, {"HINCRBYFLOAT", "h", "fl", "inf"}, {"HGET", "h", "fl"},
	{"HDEL", "h", "f1", "f2", "f3", "f4", "n", "max", "fl"}, {"EXISTS", "h"}, {"HGET", "s", "x"}, {"HGETALL", "nohash"},

	// Sets.
	{"SADD", "st", "a", "b", "c", "a"}, {"SADD", "st", "c", "d"}, {"SCARD", "st"}, {"SISMEMBER", "st", "a"},
	{"SISMEMBER", "st", "z"}, {"SMEMBERS", "st"}, {"SREM", "st", "a", "z"}, {"SMEMBERS", "st"},
	{"SADD", "ints", "3", "1", "2"}, {"SMEMBERS", "ints"}, {"SREM", "st", "b", "c", "d"}, {"EXISTS", "st"},
	{"SADD", "s", "x"}, {"SMEMBERS", "nos"},

	// Sorted sets.
	{"ZADD", "z", "1", "a", "2", "b", "3", "c"}, {"ZADD", "z", "1.5", "a", "0.1", "d"}, {"ZSCORE", "z", "d"},
	{"ZRANGE", "z", "0", "-1", "WITHSCORES"}, {"ZADD", "z", "NX", "9", "a", "9", "e"}, {"ZADD", "z", "XX", "CH", "8", "e", "9", "f"},
	{"ZADD", "z", "XX", "CH", "8", "e", "8", "a"}, {"ZADD", "z", "GT", "CH", "1", "a", "10", "b"},
	{"ZADD", "z", "LT", "CH", "1", "a", "10", "c"}, {"ZADD", "z", "INCR", "5", "a"}, {"ZADD", "z", "INCR", "NX", "5", "a"},
	{"ZADD", "z", "NX", "XX", "1", "a"}, {"ZADD", "z", "GT", "LT", "1", "a"}, {"ZADD", "z", "INCR", "1", "a", "2", "b"},
	{"ZADD", "z", "1"}, {"ZADD", "z", "x", "a"}, {"ZADD", "z", "nan", "a"}, {"ZADD", "z", "inf", "i", "-inf", "ni"},
	{"ZADD", "z", "INCR", "-inf", "i"}, {"ZINCRBY", "z", "2.5", "c"}, {"ZINCRBY", "z", "1", "new"},
	{"ZRANGE", "z", "0", "-1", "WITHSCORES"}, {"ZRANGE", "z", "0", "2", "REV", "WITHSCORES"},
	{"ZRANGE", "z", "-3", "-1"}, {"ZRANGE", "z", "5", "1"}, {"ZRANGE", "z", "(1", "10", "BYSCORE", "WITHSCORES"},
	{"ZRANGE", "z", "10", "(1", "BYSCORE", "REV"}, {"ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"},
	{"ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "2", "WITHSCORES"},
	{"ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2"}, {"ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "0", "-1"},
	{"ZRANGE", "z", "0", "1", "LIMIT", "0", "1"}, {"ZRANGE", "z", "x", "1", "BYSCORE"}, {"ZRANGE", "z", "0", "1", "BOGUS"},
	{"ZRANGE", "z", "0", "1", "REV", "REV"}, {"ZRANGE", "z", "a", "1"},
	{"ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d"}, {"ZRANGE", "lex", "[b", "(d", "BYLEX"},
	{"ZRANGE", "lex", "-", "+", "BYLEX", "LIMIT", "1", "2"}, {"ZRANGE", "lex", "+", "-", "BYLEX", "REV"},
	{"ZRANGE", "lex", "(d", "[b", "BYLEX", "REV"}, {"ZRANGE", "lex", "b", "d", "BYLEX"}, {"ZRANGE", "lex", "-", "+", "BYLEX", "WITHSCORES"},
	{"ZRANGE", "lex", "+", "+", "BYLEX"}, {"ZCARD", "z"}, {"ZREM", "z", "a", "nope"}, {"ZSCORE", "z", "nope"},
	{"ZADD", "zf", "0.1", "a", "1e100", "b", "-0", "c", "123456789012345678", "d", "1e-5", "e", "3", "f"},
	{"ZRANGE", "zf", "0", "-1", "WITHSCORES"}, {"ZREM", "lex", "a", "b", "c", "d"}, {"EXISTS", "lex"},
	{"ZADD", "s", "1", "a"}, {"ZRANGE", "noz", "0", "-1"}, {"ZADD", "z", "XX", "1", "q"}, {"ZADD", "noz2", "XX", "1", "q"},
	{"EXISTS", "noz2"},

	// Databases and misc.
	{"SELECT", "3"}, {"SET", "in3", "v"}, {"DBSIZE"}, {"SELECT", "16"}, {"SELECT", "x"}, {"SELECT", "0"},
	{"EXISTS", "in3"}, {"FLUSHDB", "ASYNC"}, {"FLUSHDB", "BAD"}, {"DBSIZE"}, {"SELECT", "3"}, {"DBSIZE"},
	{"FLUSHALL"}, {"DBSIZE"}, {"PING"}, {"PING", "hi"}, {"PING", "a", "b"}, {"ECHO", "e"}, {"GET"},
	{"GET", "a", "b"},
}

// unordered lists commands whose reply order is Redis's hash-table order.
var unordered = map[string]bool{"smembers": true, "hkeys": true, "hvals": true, "keys": true}

func TestAgainstRealRedis(t *testing.T) {
	srv := resptest.Start(t, resptest.Options{})
	cli := srv.Dial(t)
	ks := New(clock.New())
	db := 0
	for _, cmd := range diffScript {
		want, err := cli.Do(cmd...)
		require.NoError(t, err, "%q", cmd)
		args := make([][]byte, len(cmd))
		for i, a := range cmd {
			args[i] = []byte(a)
		}
		got, err := ks.Apply(&db, args)
		require.NoError(t, err, "%q", cmd)
		name := strings.ToLower(cmd[0])
		switch {
		case unordered[name]:
			want, got = sortArray(want), sortArray(got)
		case name == "hgetall":
			want, got = sortPairs(want), sortPairs(got)
		}
		assert.True(t, want.Equal(got), "%q:\nredis:    %v\nkeyspace: %v", cmd, want, got)
	}
}

func sortArray(v resp.Value) resp.Value {
	if v.Kind != resp.KindArray {
		return v
	}
	a := slices.Clone(v.Array)
	slices.SortFunc(a, func(x, y resp.Value) int { return bytes.Compare(x.Str, y.Str) })
	return resp.Array(a...)
}

func sortPairs(v resp.Value) resp.Value {
	if v.Kind != resp.KindArray {
		return v
	}
	type pair struct{ f, v resp.Value }
	var ps []pair
	for i := 0; i+1 < len(v.Array); i += 2 {
		ps = append(ps, pair{v.Array[i], v.Array[i+1]})
	}
	slices.SortFunc(ps, func(x, y pair) int { return bytes.Compare(x.f.Str, y.f.Str) })
	var out []resp.Value
	for _, p := range ps {
		out = append(out, p.f, p.v)
	}
	return resp.Array(out...)
}
