package keyspace

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/redis/resp"
)

const t0 = 1_700_000_000_000 // unix ms the mock clock starts at

type fixture struct {
	t   *testing.T
	clk *clock.Mock
	ks  *Keyspace
	db  int
}

func newFixture(t *testing.T) *fixture {
	clk := clock.NewMock()
	clk.Set(time.UnixMilli(t0))
	return &fixture{t: t, clk: clk, ks: New(clk)}
}

func argv(s string) [][]byte {
	var out [][]byte
	for _, f := range strings.Fields(s) {
		out = append(out, []byte(f))
	}
	return out
}

// exec runs a space-separated command and returns its result.
func (f *fixture) exec(cmd string) Result {
	f.t.Helper()
	res, err := f.ks.Exec(&f.db, argv(cmd))
	require.NoError(f.t, err, cmd)
	return res
}

// do runs a command and returns its reply rendered by resp.Value.String.
func (f *fixture) do(cmd string) string {
	f.t.Helper()
	return f.exec(cmd).Reply.String()
}

// prop renders what a command propagates, one command per element.
func (f *fixture) prop(cmd string) []string {
	f.t.Helper()
	return renderProp(f.exec(cmd).Propagate)
}

func renderProp(p [][][]byte) []string {
	var out []string
	for _, c := range p {
		parts := make([]string, len(c))
		for i, a := range c {
			parts[i] = string(a)
		}
		out = append(out, strings.Join(parts, " "))
	}
	return out
}

func (f *fixture) advance(ms int64) { f.clk.Add(time.Duration(ms) * time.Millisecond) }

func ms(offset int64) string { return strconv.FormatInt(t0+offset, 10) }

func TestExpiryOnPrimary(t *testing.T) {
	f := newFixture(t)
	assert.Equal(t, []string{"SET k v PXAT " + ms(100)}, f.prop("SET k v PX 100"))
	assert.Equal(t, "(integer) 100", f.do("PTTL k"))
	f.advance(100)
	// Alive at exactly its deadline, gone one millisecond later.
	assert.Equal(t, `"v"`, f.do("GET k"))
	assert.Equal(t, "(integer) 0", f.do("PTTL k"))
	f.advance(1)
	res := f.exec("GET k")
	assert.Equal(t, "(nil)", res.Reply.String())
	assert.Equal(t, []string{"DEL k"}, renderProp(res.Propagate), "a primary propagates the lazy expiry")
	assert.Equal(t, "(integer) 0", f.do("DBSIZE"))
	assert.Empty(t, f.prop("GET k"), "deleted once only")
}

func TestLazyExpiryDELPrecedesTheCommand(t *testing.T) {
	f := newFixture(t)
	f.exec("SET k 5 PX 10")
	f.advance(11)
	res := f.exec("INCR k")
	assert.Equal(t, "(integer) 1", res.Reply.String())
	assert.Equal(t, []string{"DEL k", "INCR k"}, renderProp(res.Propagate))
}

func TestExpiryOnReplica(t *testing.T) {
	f := newFixture(t)
	f.ks.SetReplica(true)
	assert.True(t, f.ks.IsReplica())
	f.exec("SET k 5 PXAT " + ms(-1))
	// Hidden from reads, never deleted by the replica itself.
	assert.Equal(t, "(nil)", f.do("GET k"))
	assert.Equal(t, "(integer) 0", f.do("EXISTS k"))
	assert.Equal(t, "(integer) -2", f.do("TTL k"))
	assert.Equal(t, "[]", f.do("KEYS *"))
	assert.Equal(t, "(integer) 1", f.do("DBSIZE"), "DBSIZE counts it, as in Redis")
	// The primary's stream still sees the key.
	assert.Equal(t, "(integer) 6", f.do("INCR k"))
	assert.Nil(t, f.ks.ActiveExpire(0))
	assert.Equal(t, "(integer) 1", f.do("DEL k"))
	assert.Equal(t, "(integer) 0", f.do("DBSIZE"))

	// PEXPIREAT in the past sets the TTL instead of deleting.
	f.exec("SET j v")
	assert.Equal(t, "(integer) 1", f.do("PEXPIREAT j "+ms(-5)))
	assert.Equal(t, "(integer) 1", f.do("DBSIZE"))
	assert.Equal(t, "(nil)", f.do("GET j"))

	// Promoted: the same key now expires like on a primary.
	f.ks.SetReplica(false)
	assert.Equal(t, []string{"DEL j"}, f.prop("GET j"))
	assert.Equal(t, "(integer) 0", f.do("DBSIZE"))
}

func TestExpireCommandsPropagateAbsoluteTime(t *testing.T) {
	f := newFixture(t)
	f.exec("SET k v")
	assert.Equal(t, []string{"PEXPIREAT k " + ms(10_000)}, f.prop("EXPIRE k 10"))
	assert.Equal(t, []string{"PEXPIREAT k " + ms(2_000)}, f.prop("PEXPIRE k 2000"))
	assert.Equal(t, []string{"PEXPIREAT k 1800000000000"}, f.prop("EXPIREAT k 1800000000"))
	assert.Equal(t, []string{"PEXPIREAT k 1800000000001"}, f.prop("PEXPIREAT k 1800000000001 GT"))
	assert.Empty(t, f.prop("EXPIRE k 10 NX"), "nothing changed")
	assert.Equal(t, []string{"PERSIST k"}, f.prop("PERSIST k"))
	assert.Empty(t, f.prop("PERSIST k"))
	// A past time deletes on a primary and is propagated as DEL.
	res := f.exec("PEXPIREAT k " + ms(0))
	assert.Equal(t, "(integer) 1", res.Reply.String())
	assert.Equal(t, []string{"DEL k"}, renderProp(res.Propagate))
	assert.Equal(t, "(integer) 0", f.do("EXISTS k"))
	f.exec("SET k v")
	assert.Equal(t, []string{"DEL k"}, f.prop("EXPIRE k -1"))
	assert.Empty(t, f.prop("EXPIRE nokey 10"))
}

func TestPropagationRewrites(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		cmd  string
		want []string
	}{
		{"SET a 1", []string{"SET a 1"}},
		{"SET a 2 GET", []string{"SET a 2"}},
		{"SET a 3 EX 5 GET", []string{"SET a 3 PXAT " + ms(5000)}},
		{"SET a 4 EXAT 1800000000", []string{"SET a 4 PXAT 1800000000000"}},
		{"SET a 4 PXAT 1800000000123", []string{"SET a 4 PXAT 1800000000123"}},
		{"SET a 4 NX", nil},
		{"SETNX a 9", nil},
		{"SETEX b 10 v", []string{"SET b v PXAT " + ms(10_000)}},
		{"PSETEX b 10 v", []string{"SET b v PXAT " + ms(10)}},
		{"GETSET b w", []string{"SET b w"}},
		{"GETDEL b", []string{"DEL b"}},
		{"GETDEL b", nil},
		{"DEL nokey", nil},
		{"SET f 1.5", []string{"SET f 1.5"}},
		{"INCRBYFLOAT f 0.25", []string{"SET f 1.75 KEEPTTL"}},
		{"HINCRBYFLOAT h x 0.5", []string{"HSET h x 0.5"}},
		{"HINCRBY h n 1", []string{"HINCRBY h n 1"}},
		{"SADD s m", []string{"SADD s m"}},
		{"SADD s m", nil},
		{"SREM s zz", nil},
		{"ZADD z 1 m", []string{"ZADD z 1 m"}},
		{"ZADD z 1 m", nil},
		{"ZINCRBY z 0 m", nil},
		{"LPUSH l a", []string{"LPUSH l a"}},
		{"LPOP l 0", nil},
		{"RPOP l", []string{"RPOP l"}},
		{"LTRIM nolist 0 1", nil},
		{"INCR s", nil}, // WRONGTYPE
		{"SELECT 2", nil},
		{"FLUSHDB", []string{"FLUSHDB"}}, // forced, even when empty
		{"FLUSHALL", []string{"FLUSHALL"}},
		{"PING", nil},
		{"MULTI", nil},
		{"EXEC", nil},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, f.prop(tt.cmd), tt.cmd)
	}
	assert.Equal(t, 2, f.db)
}

func TestPropagatedArgsAreCopies(t *testing.T) {
	f := newFixture(t)
	args := argv("SET key value")
	res, err := f.ks.Exec(&f.db, args)
	require.NoError(t, err)
	copy(args[2], "XXXXX")
	assert.Equal(t, "SET key value", renderProp(res.Propagate)[0])
	assert.Equal(t, `"value"`, f.do("GET key"), "stored value must not alias the caller's buffer")
}

func TestRepliesAreNotMutatedByLaterWrites(t *testing.T) {
	f := newFixture(t)
	f.exec("SET s abc")
	got := f.exec("GET s").Reply
	f.exec("APPEND s def")
	assert.Equal(t, "abc", got.Text())
	f.exec("RPUSH l x")
	lr := f.exec("LRANGE l 0 -1").Reply
	f.exec("LSET l 0 y")
	assert.Equal(t, `["x"]`, lr.String())
}

func TestUnknownCommandAndArity(t *testing.T) {
	f := newFixture(t)
	res, err := f.ks.Exec(&f.db, argv("NOSUCH a b"))
	assert.ErrorIs(t, err, ErrUnknownCommand)
	assert.Equal(t, "(error) ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' ", res.Reply.String())
	_, err = f.ks.Exec(&f.db, nil)
	assert.ErrorIs(t, err, ErrUnknownCommand)
	_, err = f.ks.Apply(&f.db, argv("REPLCONF GETACK *"))
	assert.ErrorIs(t, err, ErrUnknownCommand)

	res, err = f.ks.Exec(&f.db, argv("GET"))
	assert.NoError(t, err, "arity errors are replies")
	assert.Equal(t, "(error) ERR wrong number of arguments for 'get' command", res.Reply.String())

	bad := 16
	_, err = f.ks.Exec(&bad, argv("PING"))
	assert.ErrorIs(t, err, ErrDBIndex)
}

func TestCaseInsensitiveNames(t *testing.T) {
	f := newFixture(t)
	assert.Equal(t, "OK", f.do("set k v"))
	assert.Equal(t, `"v"`, f.do("gEt k"))
	assert.Equal(t, "PONG", f.do("ping"))
}

func TestIsWrite(t *testing.T) {
	for _, w := range []string{"set", "SET", "Del", "unlink", "pexpireat", "lpush", "hset", "sadd", "zadd", "flushall", "rename", "incrbyfloat"} {
		assert.True(t, IsWrite(w), w)
	}
	for _, r := range []string{"get", "PING", "select", "multi", "exec", "scan", "keys", "ttl", "nosuch", "spop"} {
		assert.False(t, IsWrite(r), r)
	}
	assert.Contains(t, Commands(), "zrange")
}

func TestExecAll(t *testing.T) {
	f := newFixture(t)
	cmds := [][][]byte{argv("SET a 1"), argv("SELECT 1"), argv("INCR a"), argv("GET"), argv("EXEC")}
	res, err := f.ks.ExecAll(&f.db, cmds)
	require.NoError(t, err)
	require.Len(t, res, 5)
	assert.Equal(t, "(integer) 1", res[2].Reply.String(), "INCR ran in db 1")
	assert.Equal(t, "(error) ERR wrong number of arguments for 'get' command", res[3].Reply.String())
	assert.Equal(t, 1, f.db)

	_, err = f.ks.ExecAll(&f.db, [][][]byte{argv("SET b 1"), argv("BOGUS")})
	assert.ErrorIs(t, err, ErrUnknownCommand)
	assert.Equal(t, "(integer) 0", f.do("EXISTS b"), "nothing of a rejected batch runs")
}

func TestActiveExpire(t *testing.T) {
	f := newFixture(t)
	f.exec("SET b v PX 10")
	f.exec("SET a v PX 10")
	f.exec("SET keep v PX 1000")
	f.exec("SELECT 1")
	f.exec("SET c v PX 5")
	f.advance(20)
	assert.Equal(t, []KeyRef{{0, "a"}}, f.ks.ActiveExpire(1))
	assert.Equal(t, []KeyRef{{0, "b"}, {1, "c"}}, f.ks.ActiveExpire(0))
	assert.Empty(t, f.ks.ActiveExpire(0))
	assert.Equal(t, 1, f.ks.Len())
}

func TestSnapshotIsCopyOnWrite(t *testing.T) {
	f := newFixture(t)
	f.exec("SET s v")
	f.exec("RPUSH l a b")
	f.exec("HSET h f v")
	f.exec("SADD set m")
	f.exec("ZADD z 1 m")
	f.exec("SET gone v EX 100")
	before := dump(t, f.ks.Snapshot())
	snap := f.ks.Snapshot()

	f.exec("APPEND s w")
	f.exec("RPUSH l c")
	f.exec("LSET l 0 A")
	f.exec("HSET h f2 v2")
	f.exec("SADD set n")
	f.exec("ZADD z 2 m 3 n")
	f.exec("DEL gone")
	f.exec("SET new v")
	f.exec("FLUSHDB")

	assert.Equal(t, before, dump(t, snap), "snapshot must not see later writes")
	assert.Equal(t, 0, f.ks.Len())
	k, ttl := snap.DBLen(0)
	assert.Equal(t, 6, k)
	assert.Equal(t, 1, ttl)
	assert.Equal(t, 6, snap.Len())
}

func dump(t *testing.T, s *Snapshot) []string {
	var out []string
	require.NoError(t, s.Each(func(db int, key string, v Value, exp int64) error {
		out = append(out, strconv.Itoa(db)+" "+key+" "+v.Type.String()+" "+render(v)+" "+strconv.FormatInt(exp, 10))
		return nil
	}))
	return out
}

func render(v Value) string {
	switch v.Type {
	case TypeString:
		return string(v.Str)
	case TypeList:
		return resp.Value{Kind: resp.KindArray, Array: bulkArray(v.List).Array}.String()
	case TypeHash:
		var parts []string
		for _, f := range sortedFields(v.Hash) {
			parts = append(parts, f+"="+string(v.Hash[f]))
		}
		return strings.Join(parts, ",")
	case TypeSet:
		return strings.Join(v.Set, ",")
	case TypeZSet:
		var parts []string
		for _, m := range v.ZSet {
			parts = append(parts, m.Member+":"+strconv.FormatFloat(m.Score, 'g', -1, 64))
		}
		return strings.Join(parts, ",")
	}
	return "?"
}

func TestPutEachReplaceWith(t *testing.T) {
	f := newFixture(t)
	fresh := New(f.clk)
	require.NoError(t, fresh.Put(0, "s", Value{Type: TypeString, Str: []byte("v")}, NoExpire))
	require.NoError(t, fresh.Put(0, "l", Value{Type: TypeList, List: [][]byte{[]byte("a"), []byte("b")}}, t0+5000))
	require.NoError(t, fresh.Put(3, "h", Value{Type: TypeHash, Hash: map[string][]byte{"f": []byte("v")}}, NoExpire))
	require.NoError(t, fresh.Put(3, "set", Value{Type: TypeSet, Set: []string{"b", "a"}}, NoExpire))
	require.NoError(t, fresh.Put(15, "z", Value{Type: TypeZSet, ZSet: []ZMember{{"b", 2}, {"a", 2}, {"c", -1}}}, NoExpire))

	f.exec("SET old v")
	snapOld := f.ks.Snapshot()
	f.ks.ReplaceWith(fresh)
	assert.Equal(t, 0, fresh.Len())
	assert.Equal(t, 5, f.ks.Len())
	assert.Equal(t, "(nil)", f.do("GET old"))
	assert.Equal(t, `["a", "b"]`, f.do("LRANGE l 0 -1"))
	assert.Equal(t, "(integer) 5", f.do("TTL l"))
	f.db = 15
	assert.Equal(t, `["c", "-1", "a", "2", "b", "2"]`, f.do("ZRANGE z 0 -1 WITHSCORES"))
	assert.Equal(t, []string{"0 old string v -1"}, dump(t, snapOld))

	assert.Equal(t, []string{
		"0 l list [\"a\", \"b\"] " + ms(5000),
		"0 s string v -1",
		"3 h hash f=v -1",
		"3 set set a,b -1",
		"15 z zset c:-1,a:2,b:2 -1",
	}, dump(t, f.ks.Snapshot()))

	// Keys loaded from a snapshot are cloned before they change.
	snap := f.ks.Snapshot()
	f.exec("ZADD z 5 a")
	assert.Equal(t, "15 z zset c:-1,a:2,b:2 -1", dump(t, snap)[4])
}

func TestPutRejectsInvalidValues(t *testing.T) {
	ks := New(clock.NewMock())
	bad := []Value{
		{Type: TypeList},
		{Type: TypeHash},
		{Type: TypeSet},
		{Type: TypeSet, Set: []string{"a", "a"}},
		{Type: TypeZSet},
		{Type: TypeZSet, ZSet: []ZMember{{"a", 1}, {"a", 2}}},
		{Type: TypeZSet, ZSet: []ZMember{{"a", nan()}}},
		{Type: TypeNone},
		{Type: Type(42)},
	}
	for _, v := range bad {
		assert.ErrorIs(t, ks.Put(0, "k", v, NoExpire), ErrInvalidValue, "%+v", v)
	}
	assert.ErrorIs(t, ks.Put(16, "k", Value{Type: TypeString}, NoExpire), ErrDBIndex)
	assert.ErrorIs(t, ks.Put(-1, "k", Value{Type: TypeString}, NoExpire), ErrDBIndex)
	assert.NoError(t, ks.Put(0, "empty", Value{Type: TypeString}, NoExpire))
	assert.Equal(t, 1, ks.Len())
}

func TestDigest(t *testing.T) {
	f := newFixture(t)
	g := newFixture(t)
	f.exec("SET a 1")
	f.exec("SADD s x y")
	f.exec("EXPIRE a 100")
	g.exec("SADD s y")
	g.exec("SET a 1 PX 100400") // same second bucket
	g.exec("SADD s x")
	assert.Equal(t, f.ks.Digest(), g.ks.Digest())
	g.exec("EXPIRE a 300")
	assert.NotEqual(t, f.ks.Digest(), g.ks.Digest())
	g.exec("PERSIST a")
	f.exec("PERSIST a")
	assert.Equal(t, f.ks.Digest(), g.ks.Digest())
	// Expired keys do not count.
	f.exec("SET tmp v PX 5")
	f.advance(6)
	g.advance(6)
	assert.Equal(t, f.ks.Digest(), g.ks.Digest())
}

func TestSelectAndDatabases(t *testing.T) {
	f := newFixture(t)
	f.exec("SET k db0")
	assert.Equal(t, "OK", f.do("SELECT 15"))
	assert.Equal(t, "(nil)", f.do("GET k"))
	f.exec("SET k db15")
	assert.Equal(t, "(error) ERR DB index is out of range", f.do("SELECT 16"))
	assert.Equal(t, "(error) ERR DB index is out of range", f.do("SELECT -1"))
	assert.Equal(t, "(error) ERR value is not an integer or out of range", f.do("SELECT 1.5"))
	assert.Equal(t, 15, f.db)
	f.exec("FLUSHDB")
	f.exec("SELECT 0")
	assert.Equal(t, `"db0"`, f.do("GET k"))
}

func TestKeysAndScan(t *testing.T) {
	f := newFixture(t)
	for i := range 50 {
		f.exec("SET key:" + strconv.Itoa(i) + " v")
	}
	f.exec("RPUSH list:1 a")
	f.exec("SET exp v PX 1")
	f.advance(2)
	assert.Equal(t, `["key:1", "key:10", "key:11", "key:12", "key:13", "key:14", "key:15", "key:16", "key:17", "key:18", "key:19"]`,
		f.do("KEYS key:1*"))
	assert.NotContains(t, f.do("KEYS *"), "exp")

	scanAll := func(opts string) []string {
		var keys []string
		cursor := "0"
		for i := 0; ; i++ {
			require.Less(t, i, 1000)
			r := f.exec("SCAN " + cursor + " " + opts).Reply
			require.Equal(t, resp.KindArray, r.Kind, r.String())
			cursor = r.Array[0].Text()
			for _, k := range r.Array[1].Array {
				keys = append(keys, k.Text())
			}
			if cursor == "0" {
				return keys
			}
		}
	}
	all := scanAll("COUNT 7")
	assert.Len(t, all, 51)
	assert.ElementsMatch(t, all, scanAll("COUNT 1000"))
	assert.Equal(t, all, scanAll("COUNT 7"), "deterministic")
	assert.Equal(t, []string{"list:1"}, scanAll("TYPE list"))
	assert.Len(t, scanAll("MATCH key:?"), 10)
	assert.Equal(t, "(error) ERR syntax error", f.do("SCAN 0 COUNT 0"))
	assert.Equal(t, "(error) ERR syntax error", f.do("SCAN 0 BOGUS 1"))
	assert.Equal(t, "(error) ERR syntax error", f.do("SCAN 0 COUNT"))
	assert.Equal(t, "(error) ERR invalid cursor", f.do("SCAN x"))
}

// Keys present for a whole SCAN iteration are returned exactly once even
// while other keys come and go between calls.
func TestScanGuaranteeUnderChurn(t *testing.T) {
	f := newFixture(t)
	for i := range 200 {
		f.exec("SET stable:" + strconv.Itoa(i) + " v")
	}
	seen := map[string]int{}
	cursor := "0"
	for i := 0; ; i++ {
		f.exec("SET churn:" + strconv.Itoa(i) + " v")
		if i%3 == 0 {
			f.exec("DEL churn:" + strconv.Itoa(i/2))
		}
		r := f.exec("SCAN " + cursor + " COUNT 5").Reply
		cursor = r.Array[0].Text()
		for _, k := range r.Array[1].Array {
			seen[k.Text()]++
		}
		if cursor == "0" {
			break
		}
	}
	for i := range 200 {
		assert.Equal(t, 1, seen["stable:"+strconv.Itoa(i)], "stable:%d", i)
	}
}

func TestWrongTypeEverywhere(t *testing.T) {
	f := newFixture(t)
	f.exec("SET s v")
	f.exec("RPUSH l v")
	for _, cmd := range []string{
		"INCR l", "APPEND l x", "GET l", "STRLEN l", "GETSET l x", "GETDEL l", "INCRBYFLOAT l 1", "SET l x GET",
		"LPUSH s x", "RPOP s", "LRANGE s 0 1", "LLEN s", "LSET s 0 x", "LTRIM s 0 1", "LREM s 0 x", "LINDEX s 0",
		"HSET s f v", "HGET s f", "HDEL s f", "HINCRBY s f 1", "HGETALL s", "HLEN s",
		"SADD s m", "SREM s m", "SMEMBERS s", "SCARD s", "SISMEMBER s m",
		"ZADD s 1 m", "ZREM s m", "ZSCORE s m", "ZRANGE s 0 1", "ZCARD s", "ZINCRBY s 1 m",
	} {
		assert.Equal(t, "(error) WRONGTYPE Operation against a key holding the wrong kind of value", f.do(cmd), cmd)
	}
	assert.Equal(t, `"v"`, f.do("GET s"), "nothing changed")
	assert.Equal(t, `["v"]`, f.do("LRANGE l 0 -1"))
}

func TestDequeAgainstSlice(t *testing.T) {
	d := &deque{}
	var ref [][]byte
	seq := 0
	next := func() []byte { seq++; return []byte(strconv.Itoa(seq)) }
	for i := range 2000 {
		switch (i * 7919) % 5 {
		case 0:
			v := next()
			d.pushFront(v)
			ref = append([][]byte{v}, ref...)
		case 1, 2:
			v := next()
			d.pushBack(v)
			ref = append(ref, v)
		case 3:
			if len(ref) > 0 {
				assert.Equal(t, ref[0], d.popFront())
				ref = ref[1:]
			}
		case 4:
			if len(ref) > 0 {
				assert.Equal(t, ref[len(ref)-1], d.popBack())
				ref = ref[:len(ref)-1]
			}
		}
		require.Equal(t, len(ref), d.len())
	}
	assert.Equal(t, ref, d.all())
	if len(ref) > 2 {
		d.set(1, []byte("x"))
		assert.Equal(t, []byte("x"), d.at(1))
	}
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}
