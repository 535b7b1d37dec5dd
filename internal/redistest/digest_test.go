package redistest

import (
	"context"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDigestDeterministicAndCounts(t *testing.T) {
	s := Start(t, Options{})
	c := s.Client()
	ctx := context.Background()
	require.NoError(t, FillAllTypes(ctx, c, "t", 120))

	a, err := Digest(ctx, c, FillDBs())
	require.NoError(t, err)
	b, err := Digest(ctx, c, []int{3, 0, 3}) // order and duplicates do not matter
	require.NoError(t, err)
	require.Equal(t, a.Digest, b.Digest, "diff: %v", a.Diff(b, 10))
	assert.Len(t, a.Digest, 64)
	assert.Nil(t, a.Diff(b, 0))

	db0, db3 := a.DBs[0], a.DBs[FillSecondDB]
	t.Logf("%v", a)
	for name, n := range map[string]int{
		"db0 strings": db0.Strings, "db0 lists": db0.Lists, "db0 hashes": db0.Hashes,
		"db0 sets": db0.Sets, "db0 zsets": db0.ZSets, "db0 ttl": db0.WithTTL,
		"db3 strings": db3.Strings, "db3 lists": db3.Lists, "db3 hashes": db3.Hashes,
		"db3 sets": db3.Sets, "db3 zsets": db3.ZSets, "db3 ttl": db3.WithTTL,
	} {
		assert.Positive(t, n, name)
	}
	n0, err := c.DBSize(ctx).Result()
	require.NoError(t, err)
	assert.EqualValues(t, n0, db0.Keys)
	assert.Equal(t, db0.Keys, db0.Strings+db0.Lists+db0.Hashes+db0.Sets+db0.ZSets)
	assert.Equal(t, db0.Keys+db3.Keys, a.TotalKeys())
	assert.Contains(t, a.String(), "db3: ")

	// The digest is a function of the data: FillAllTypes is deterministic.
	s2 := Start(t, Options{Name: "second"})
	require.NoError(t, FillAllTypes(ctx, s2.Client(), "t", 120))
	for _, mode := range []TTLMode{TTLRemaining, TTLPresence} {
		x, err := DigestWithOptions(ctx, c, FillDBs(), DigestOptions{TTL: mode})
		require.NoError(t, err)
		y, err := DigestWithOptions(ctx, s2.Client(), FillDBs(), DigestOptions{TTL: mode})
		require.NoError(t, err)
		assert.Equal(t, x.Digest, y.Digest, "mode %d diff: %v", mode, x.Diff(y, 10))
	}
}

func TestDigestDetectsEveryKindOfChange(t *testing.T) {
	s := Start(t, Options{})
	c := s.Client()
	ctx := context.Background()
	require.NoError(t, FillAllTypes(ctx, c, "t", 40))
	// Hour-wide TTL buckets: a deadline read a millisecond apart must not
	// land in two buckets and show up as a change nobody made.
	hourly := DigestOptions{Bucket: time.Hour}
	base, err := DigestWithOptions(ctx, c, FillDBs(), hourly)
	require.NoError(t, err)
	basePresence, err := DigestWithOptions(ctx, c, FillDBs(), DigestOptions{TTL: TTLPresence})
	require.NoError(t, err)

	c3 := s.ClientDB(FillSecondDB)
	changes := []struct {
		name    string
		key     string
		do      func() error
		undo    func() error
		ttlOnly bool
	}{
		{"string value", "t:s:1", func() error { return c.Set(ctx, "t:s:1", "other", 0).Err() },
			func() error { return c.Set(ctx, "t:s:1", "value-1", 0).Err() }, false},
		{"list order", "t:l:1", func() error { return c.LPush(ctx, "t:l:1", "zz").Err() },
			func() error { return c.LPop(ctx, "t:l:1").Err() }, false},
		{"hash field", "t:h:2", func() error { return c.HSet(ctx, "t:h:2", "extra", "1").Err() },
			func() error { return c.HDel(ctx, "t:h:2", "extra").Err() }, false},
		{"set member", "t:set:3", func() error { return c.SAdd(ctx, "t:set:3", "extra").Err() },
			func() error { return c.SRem(ctx, "t:set:3", "extra").Err() }, false},
		{"zset score", "t:z:4", func() error { return c.ZIncrBy(ctx, "t:z:4", 1, "z4").Err() },
			func() error { return c.ZIncrBy(ctx, "t:z:4", -1, "z4").Err() }, false},
		{"new key in db3", "t:new", func() error { return c3.Set(ctx, "t:new", "1", 0).Err() },
			func() error { return c3.Del(ctx, "t:new").Err() }, false},
		{"deleted key", "t:s:2", func() error { return c.Del(ctx, "t:s:2").Err() },
			func() error { return c.Set(ctx, "t:s:2", "value-2", 0).Err() }, false},
		{"ttl added", "t:s:4", func() error { return c.Expire(ctx, "t:s:4", time.Hour).Err() },
			func() error { return c.Persist(ctx, "t:s:4").Err() }, false},
		{"ttl value", "t:sx:3", func() error { return c.Expire(ctx, "t:sx:3", 3*time.Hour).Err() },
			func() error { return c.Expire(ctx, "t:sx:3", 610*time.Second).Err() }, true},
	}
	for _, ch := range changes {
		require.NoError(t, ch.do(), ch.name)
		got, err := DigestWithOptions(ctx, c, FillDBs(), hourly)
		require.NoError(t, err)
		assert.NotEqual(t, base.Digest, got.Digest, ch.name)
		diff := base.Diff(got, 5)
		require.Len(t, diff, 1, "%s: %v", ch.name, diff)
		assert.Contains(t, diff[0], ch.key, ch.name)
		if ch.ttlOnly {
			p, err := DigestWithOptions(ctx, c, FillDBs(), DigestOptions{TTL: TTLPresence})
			require.NoError(t, err)
			assert.Equal(t, basePresence.Digest, p.Digest, "%s: presence mode ignores the TTL value", ch.name)
		}
		require.NoError(t, ch.undo(), ch.name)
	}
	// Everything but the re-set TTL is back; compare ignoring TTL values.
	p, err := DigestWithOptions(ctx, c, FillDBs(), DigestOptions{TTL: TTLPresence})
	require.NoError(t, err)
	assert.Equal(t, basePresence.Digest, p.Digest, "%v", basePresence.Diff(p, 10))
}

func TestDigestEmptyAndUnsupported(t *testing.T) {
	s := Start(t, Options{})
	c := s.Client()
	ctx := context.Background()
	a, err := Digest(ctx, c, []int{0, 1})
	require.NoError(t, err)
	assert.Zero(t, a.TotalKeys())
	assert.Len(t, a.DBs, 2)
}

// TestDigestStreams: streams are digested with their entries, IDs,
// counters, groups and pending entries; seen times (each server's clock)
// are not part of it.
func TestDigestStreams(t *testing.T) {
	ctx := context.Background()
	fill := func(c *redis.Client) {
		for _, cmd := range [][]any{
			{"XADD", "st", "1-1", "a", "b"}, {"XADD", "st", "2-1", "a", "c", "d", "e"}, {"XGROUP", "CREATE", "st", "g", "0"},
			{"XCLAIM", "st", "g", "alice", "0", "1-1", "TIME", "1000", "RETRYCOUNT", "2", "FORCE", "JUSTID"},
		} {
			require.NoError(t, c.Do(ctx, cmd...).Err(), "%v", cmd)
		}
	}
	s1, s2 := Start(t, Options{}), Start(t, Options{Name: "second"})
	c1, c2 := s1.Client(), s2.Client()
	fill(c1)
	fill(c2)
	a, err := Digest(ctx, c1, []int{0})
	require.NoError(t, err)
	b, err := Digest(ctx, c2, []int{0})
	require.NoError(t, err)
	assert.Equal(t, a.Digest, b.Digest, "%v", a.Diff(b, 5))
	assert.Equal(t, 1, a.DBs[0].Streams)
	require.NoError(t, c2.Do(ctx, "XACK", "st", "g", "1-1").Err())
	b, err = Digest(ctx, c2, []int{0})
	require.NoError(t, err)
	assert.NotEqual(t, a.Digest, b.Digest, "a pending entry is part of the digest")
}

// TestDigestUsesOnlyBasicCommands records every command Digest sends: only
// commands a minimal Redis-compatible server answers.
func TestDigestUsesOnlyBasicCommands(t *testing.T) {
	s := Start(t, Options{})
	c := s.Client()
	ctx := context.Background()
	require.NoError(t, FillAllTypes(ctx, c, "t", 30))

	rec := &cmdRecorder{seen: map[string]bool{}}
	c.AddHook(rec)
	_, err := Digest(ctx, c, FillDBs())
	require.NoError(t, err)
	allowed := map[string]bool{"select": true, "scan": true, "type": true, "get": true, "lrange": true,
		"hgetall": true, "smembers": true, "zrange": true, "pexpiretime": true}
	rec.mu.Lock()
	seen := maps.Clone(rec.seen)
	rec.mu.Unlock()
	for name := range seen {
		// HELLO is go-redis's connection handshake; a minimal server may
		// answer it with -ERR (see TestClientWorksAgainstMinimalServer).
		assert.True(t, allowed[name] || name == "hello", "Digest sent %q", name)
	}
	delete(seen, "hello")
	for name := range allowed {
		assert.True(t, seen[name], "Digest never sent %q", name)
	}

	// The SELECT of the digest's connection does not leak into c's pool.
	require.NoError(t, s.ClientDB(FillSecondDB).Set(ctx, "only-in-3", "x", 0).Err())
	for i := 0; i < 10; i++ {
		assert.ErrorIs(t, c.Get(ctx, "only-in-3").Err(), redis.Nil)
	}
}

func (r *cmdRecorder) record(cmds ...redis.Cmder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cmds {
		r.seen[strings.ToLower(c.Name())] = true
	}
}

func (r *cmdRecorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *cmdRecorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.record(cmd)
		return next(ctx, cmd)
	}
}

func (r *cmdRecorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.record(cmds...)
		return next(ctx, cmds)
	}
}

type cmdRecorder struct {
	mu   sync.Mutex
	seen map[string]bool
}
