package rdb

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/redis/keyspace"
	"github.com/replsm/replsm/redis/resp"
	"github.com/replsm/replsm/redis/resp/resptest"
)

// doer runs one command; both the keyspace and a real server implement it,
// so one fill script and one read-back serve both sides.
type doer func(args ...[]byte) resp.Value

func ksDoer(t testing.TB, ks *keyspace.Keyspace) doer {
	db := 0
	return func(args ...[]byte) resp.Value {
		res, err := ks.Exec(&db, args)
		require.NoError(t, err, "%q", args)
		return res.Reply
	}
}

func clientDoer(t testing.TB, c *resptest.Client) doer {
	return func(args ...[]byte) resp.Value {
		v, err := c.DoBytes(args...)
		require.NoError(t, err, "%q", args)
		return v
	}
}

func cmd(args ...string) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		out[i] = []byte(a)
	}
	return out
}

// fillScript creates every type in every encoding Redis 7.0 picks by size:
// listpack and hashtable hashes, listpack and skiplist sorted sets, intset
// and hashtable sets, quicklists, LZF-compressible and binary strings, TTLs,
// and keys in several databases.
func fillScript() [][][]byte {
	var s [][][]byte
	add := func(args ...string) { s = append(s, cmd(args...)) }
	many := func(prefix string, n int, pairs bool, mk func(i int) string) []string {
		var out []string
		for i := range n {
			if pairs {
				out = append(out, mk(i))
			}
			out = append(out, prefix+strconv.Itoa(i))
		}
		return out
	}
	add("SELECT", "0")
	add("SET", "str", "hello")
	add("SET", "int", "12345")
	add("SET", "bigint", "12345678901")
	add("SET", "neg", "-5")
	add("SET", "lead0", "007")
	add("SET", "empty", "")
	add("SET", "long", strings.Repeat("abc", 400))
	add("SET", "bin", "\x00\xff\r\n\x01")
	add("SET", "\x00binkey\xff", "v")
	add("SET", "ttl", "v", "EX", "1000")
	add("SET", "ttlms", "v", "PX", "123456")
	add("RPUSH", "list", "a", "b", "c", "1", "2", "-3", "")
	add(append([]string{"RPUSH", "biglist"}, many("e", 700, false, nil)...)...)
	add("RPUSH", "longlist", strings.Repeat("x", 5000), "y")
	add("HSET", "hash", "f1", "v1", "n", "42", "empty", "")
	add(append([]string{"HSET", "bighash"}, many("f", 200, true, func(i int) string { return "v" + strconv.Itoa(i) })...)...)
	add("HSET", "longhash", "f", strings.Repeat("h", 100))
	add("SADD", "intset", "1", "2", "3", "100000", "-7", "4294967296")
	add("SADD", "set", "a", "b", "c")
	add(append([]string{"SADD", "bigintset"}, many("", 600, false, nil)...)...)
	add(append([]string{"SADD", "bigset"}, many("m", 200, false, nil)...)...)
	add("ZADD", "zset", "1", "a", "2.5", "b", "-inf", "c", "+inf", "d", "0.1", "e", "-0", "f", "1e-300", "g")
	add(append([]string{"ZADD", "bigzset"}, many("m", 200, true, func(i int) string { return strconv.Itoa(i * 3) })...)...)
	add("ZADD", "longz", "1", strings.Repeat("z", 100))
	add("EXPIRE", "hash", "5000")
	add("PEXPIRE", "bigzset", "7777777")
	add("SELECT", "5")
	add("SET", "five", "v")
	add("LPUSH", "l5", "x")
	add("SELECT", "15")
	add("HSET", "h15", "a", "b")
	add("EXPIRE", "h15", "100000")
	add("SELECT", "0")
	return s
}

func fill(t testing.TB, do doer) {
	for _, c := range fillScript() {
		v := do(c...)
		require.NotEqual(t, resp.KindError, v.Kind, "%q: %v", c, v)
	}
}

// readBack reads databases 0..15 through commands only: SCAN, TYPE, a read
// per type and PEXPIRETIME. Orders that are hash-table orders in Redis are
// sorted. The result maps "db key" to a rendering of type, value and expiry.
func readBack(t testing.TB, do doer) map[string]string {
	out := map[string]string{}
	for db := range keyspace.NumDBs {
		require.Equal(t, "OK", do(cmd("SELECT", strconv.Itoa(db))...).Text())
		cursor := "0"
		for {
			r := do(cmd("SCAN", cursor, "COUNT", "100")...)
			require.Equal(t, resp.KindArray, r.Kind, r.String())
			for _, k := range r.Array[1].Array {
				key := k.Str
				typ := do(cmd("TYPE", string(key))...).Text()
				var val resp.Value
				switch typ {
				case "string":
					val = do([]byte("GET"), key)
				case "list":
					val = do([]byte("LRANGE"), key, []byte("0"), []byte("-1"))
				case "hash":
					val = sortPairs(do([]byte("HGETALL"), key))
				case "set":
					val = sortArray(do([]byte("SMEMBERS"), key))
				case "zset":
					val = do([]byte("ZRANGE"), key, []byte("0"), []byte("-1"), []byte("WITHSCORES"))
				case "stream":
					val = maskStreamInfo(do(cmd("XINFO", "STREAM", string(key), "FULL", "COUNT", "0")...))
				}
				exp := do([]byte("PEXPIRETIME"), key)
				out[fmt.Sprintf("%d %q", db, key)] = fmt.Sprintf("%s %v exp=%d", typ, val, exp.Int)
			}
			cursor = r.Array[0].Text()
			if cursor == "0" {
				break
			}
		}
	}
	require.Equal(t, "OK", do(cmd("SELECT", "0")...).Text())
	return out
}

func sortArray(v resp.Value) resp.Value {
	a := slices.Clone(v.Array)
	slices.SortFunc(a, func(x, y resp.Value) int { return bytes.Compare(x.Str, y.Str) })
	return resp.Array(a...)
}

func sortPairs(v resp.Value) resp.Value {
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

// dump renders a keyspace exactly, expiry included, via Each.
func dump(t testing.TB, ks *keyspace.Keyspace) []string {
	var out []string
	require.NoError(t, ks.Each(func(db int, key string, v keyspace.Value, exp int64) error {
		var val string
		switch v.Type {
		case keyspace.TypeString:
			val = strconv.Quote(string(v.Str))
		case keyspace.TypeList:
			val = fmt.Sprintf("%q", v.List)
		case keyspace.TypeHash:
			fs := slices.Sorted(func(yield func(string) bool) {
				for f := range v.Hash {
					if !yield(f) {
						return
					}
				}
			})
			for _, f := range fs {
				val += fmt.Sprintf("%q=%q ", f, v.Hash[f])
			}
		case keyspace.TypeSet:
			val = fmt.Sprintf("%q", v.Set)
		case keyspace.TypeZSet:
			for _, m := range v.ZSet {
				val += fmt.Sprintf("%q:%v ", m.Member, m.Score)
			}
		case keyspace.TypeStream:
			// RDB 10 keeps no active time: a 7.2 file's is dropped on the way.
			st := *v.Stream
			st.Groups = slices.Clone(st.Groups)
			for i := range st.Groups {
				st.Groups[i].Consumers = slices.Clone(st.Groups[i].Consumers)
				for j := range st.Groups[i].Consumers {
					st.Groups[i].Consumers[j].ActiveTime = 0
				}
			}
			val = fmt.Sprintf("%+v", st)
		}
		out = append(out, fmt.Sprintf("%d %q %v %s exp=%d", db, key, v.Type, val, exp))
		return nil
	}))
	return out
}

// maskStreamInfo blanks what XINFO STREAM FULL reports from Redis's memory
// layout (radix-tree sizes) and from each server's clock (seen times).
func maskStreamInfo(v resp.Value) resp.Value {
	if v.Kind != resp.KindArray {
		return v
	}
	out := make([]resp.Value, len(v.Array))
	for i, e := range v.Array {
		out[i] = maskStreamInfo(e)
		if i > 0 && v.Array[i-1].Kind == resp.KindBulkString {
			switch string(v.Array[i-1].Str) {
			case "radix-tree-keys", "radix-tree-nodes", "seen-time":
				out[i] = resp.Integer(0)
			}
		}
	}
	return resp.Array(out...)
}

// streamFillScript builds streams on a real server in every shape the RDB
// encodes: several listpack nodes, deleted entries, entries whose fields
// differ from the node's master entry, integer and long values, consumer
// groups with pending entries and idle consumers, an empty stream with a
// group, and a stream with a TTL. XREADGROUP runs only on a real server.
func streamFillScript() [][][]byte {
	var s [][][]byte
	add := func(args ...string) { s = append(s, cmd(args...)) }
	for i := range 250 {
		if i%7 == 0 {
			add("XADD", "big", strconv.Itoa(i+1)+"-1", "other", strconv.Itoa(i), "x", "y")
		} else {
			add("XADD", "big", strconv.Itoa(i+1)+"-1", "f", strconv.Itoa(i*1000), "g", "v"+strconv.Itoa(i))
		}
	}
	add("XDEL", "big", "3-1", "150-1", "250-1")
	add("XADD", "big", "300-5", "long", strings.Repeat("L", 5000), "neg", "-123456789012", "dup", "1", "dup", "2")
	add("XGROUP", "CREATE", "big", "readers", "0")
	add("XGROUP", "CREATE", "big", "late", "$")
	add("XGROUP", "CREATE", "big", "mid", "100-1", "ENTRIESREAD", "90")
	add("XREADGROUP", "GROUP", "readers", "alice", "COUNT", "5", "STREAMS", "big", ">")
	add("XREADGROUP", "GROUP", "readers", "bob", "COUNT", "3", "STREAMS", "big", ">")
	add("XREADGROUP", "GROUP", "readers", "carol", "COUNT", "2", "NOACK", "STREAMS", "big", ">")
	add("XACK", "big", "readers", "1-1", "2-1")
	add("XGROUP", "CREATECONSUMER", "big", "readers", "idle")
	add("XCLAIM", "big", "readers", "bob", "0", "4-1", "JUSTID")
	add("XADD", "small", "1-1", "a", "1")
	add("XADD", "small", "2-1", "a", "2")
	add("XDEL", "small", "1-1")
	add("XGROUP", "CREATE", "empty", "g", "$", "MKSTREAM")
	add("XADD", "gone", "5-5", "a", "1")
	add("XDEL", "gone", "5-5")
	add("XADD", "ttl", "1-1", "a", "1")
	add("PEXPIREAT", "ttl", "4000000000000")
	add("SELECT", "5")
	add("XADD", "only", "1-1", "k", "v")
	add("SELECT", "0")
	return s
}
