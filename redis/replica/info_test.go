package replica

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/slot"
)

func infoFields(t *testing.T, c *redis.Client, sections ...string) map[string]string {
	t.Helper()
	text, err := c.Info(context.Background(), sections...).Result()
	require.NoError(t, err)
	m, err := redistest.ParseInfo(text)
	require.NoError(t, err)
	return m
}

// TestInfoReplicationLikeRedis follows one shard through a full sync the
// fake primary sends in two halves, then a lost link: the transfer fields,
// master_last_io_seconds_ago -1 while down and
// master_link_down_since_seconds appear when Redis prints them.
func TestInfoReplicationLikeRedis(t *testing.T) {
	f := newFakePrimary(t)
	r := startReplica(t, fakeConfig(t, f.addr(), nil))
	c := shardClient(t, r, 0)

	// Before the first byte: down, never up.
	info := infoFields(t, c, "replication")
	assert.Equal(t, "down", info["master_link_status"])
	assert.Equal(t, "-1", info["master_last_io_seconds_ago"])
	assert.Equal(t, "-1", info["master_link_down_since_seconds"])
	assert.NotContains(t, info, "master_sync_total_bytes")

	fc := f.next()
	fc.handshake()
	body := rdbOf(t, "a", "1", "b", "2")
	framed := payload(body)
	pre := len(framed) - len(body)
	half := pre + len(body)/2
	fc.send("+FULLRESYNC " + strings.Repeat("b", 40) + " 100\r\n" + framed[:half])
	redistest.RequireEventually(t, 10*time.Second, "half the snapshot read", func(context.Context) error {
		info = infoFields(t, c, "replication")
		if info["master_sync_read_bytes"] != strconv.Itoa(half-pre) {
			return fmt.Errorf("read %q of %d", info["master_sync_read_bytes"], len(body))
		}
		return nil
	})
	assert.Equal(t, "1", info["master_sync_in_progress"])
	assert.Equal(t, strconv.Itoa(len(body)), info["master_sync_total_bytes"])
	assert.Equal(t, strconv.Itoa(len(body)-(half-pre)), info["master_sync_left_bytes"])
	assert.Equal(t, fmt.Sprintf("%.2f", float64(half-pre)/float64(len(body))*100), info["master_sync_perc"])
	assert.Equal(t, "0", info["master_sync_last_io_seconds_ago"])
	assert.Equal(t, "-1", info["master_last_io_seconds_ago"], "no master client during the transfer")
	assert.Contains(t, info, "master_link_down_since_seconds")

	fc.send(framed[half:])
	fc.expect("REPLCONF", "ACK", "100")
	waitState(t, r, 0, slot.Connected, 5*time.Second)
	info = infoFields(t, c, "replication")
	assert.Equal(t, "up", info["master_link_status"])
	assert.Equal(t, "0", info["master_last_io_seconds_ago"])
	assert.NotContains(t, info, "master_sync_total_bytes")
	assert.NotContains(t, info, "master_link_down_since_seconds")
	assert.Equal(t, strconv.Itoa(len(body)), info["replsm_last_full_sync_bytes"])
	assert.Equal(t, "1", info["replsm_full_syncs"])
	assert.Equal(t, "0", info["replsm_exhausted"])
	assert.Equal(t, "-1", info["replsm_lag_bytes"], "no lag probe configured")
	assert.Equal(t, "100", info["slave_repl_offset"])
	assert.Equal(t, "0", info["slave_priority"], "Sentinel must never promote a replsm replica")
	assert.Equal(t, "0", info["replica_priority"])
	assert.Equal(t, strings.Repeat("b", 40), info["master_replid"])
	assert.Equal(t, "no-failover", info["master_failover_state"])

	// The whole of INFO: every section Redis has that we keep.
	all, err := c.Info(context.Background()).Result()
	require.NoError(t, err)
	for _, h := range []string{"# Server\r\n", "# Stats\r\n", "# Replication\r\n", "# Keyspace\r\n", "# Replsm\r\n"} {
		assert.Contains(t, all, h)
	}
	info = infoFields(t, c, "server", "keyspace", "stats")
	assert.Equal(t, "7.0.15", info["redis_version"])
	assert.Len(t, info["run_id"], 40)
	_, port, _ := strings.Cut(r.Addr(), "127.0.0.1:")
	assert.Equal(t, port, info["tcp_port"])
	assert.Contains(t, info, "uptime_in_seconds")
	assert.Equal(t, "keys=2,expires=0,avg_ttl=0", info["db0"])
	assert.Equal(t, "1", info["sync_full"])

	// The link goes down.
	fc.close()
	redistest.RequireEventually(t, 10*time.Second, "link down", func(context.Context) error {
		info = infoFields(t, c, "replication")
		if info["master_link_status"] != "down" {
			return fmt.Errorf("link %s", info["master_link_status"])
		}
		return nil
	})
	assert.Equal(t, "-1", info["master_last_io_seconds_ago"])
	down, err := strconv.Atoi(info["master_link_down_since_seconds"])
	require.NoError(t, err)
	assert.GreaterOrEqual(t, down, 0)
}

// TestInfoUnscopedSummary: unscoped INFO on a two-shard replica is a
// summary with one line per shard, and every key appears once.
func TestInfoUnscopedSummary(t *testing.T) {
	f0, f1 := newFakePrimary(t), newFakePrimary(t)
	r := startReplica(t, testConfig(t, map[slot.ID]string{0: f0.addr(), 1: f1.addr()}))
	fc := f0.next()
	fc.handshake()
	fc.send("+FULLRESYNC " + strings.Repeat("c", 40) + " 5\r\n" + payload(emptyRDB))
	fc.expect("REPLCONF", "ACK", "5")
	waitState(t, r, 0, slot.Connected, 5*time.Second)

	text, err := unionClient(t, r).Info(context.Background(), "replication").Result()
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, line := range strings.Split(text, "\r\n") {
		k, _, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		assert.False(t, seen[k], "key %s twice in:\n%s", k, text)
		seen[k] = true
	}
	info, err := redistest.ParseInfo(text)
	require.NoError(t, err)
	assert.Equal(t, "down", info["master_link_status"])
	assert.Equal(t, "2", info["replsm_shards"])
	assert.Equal(t, "1", info["replsm_shards_up"])
	assert.Contains(t, info["shard0"], "master_link_status=up")
	assert.Contains(t, info["shard0"], "master_replid="+strings.Repeat("c", 40))
	assert.Contains(t, info["shard1"], "master_link_status=down")
	assert.Contains(t, info["shard1"], "master_link_down_since_seconds=-1")

	// INFO shards: a Redis-form section per shard.
	text, err = unionClient(t, r).Info(context.Background(), "shards").Result()
	require.NoError(t, err)
	parts := strings.Split(text, "\r\n\r\n")
	require.Len(t, parts, 2, text)
	for i, part := range parts {
		assert.True(t, strings.HasPrefix(part, fmt.Sprintf("# Shard %d\r\nrole:slave\r\nmaster_host:", i)), part)
		sec, err := redistest.ParseInfo(part)
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(i), sec["replsm_shard"])
	}
	all, err := unionClient(t, r).Info(context.Background()).Result()
	require.NoError(t, err)
	assert.NotContains(t, all, "# Shard 0", "not in the default INFO")
}

func TestPeekPayloadSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		size int64
		pre  int
		ok   bool
	}{
		{"$12\r\nabc", 12, 5, true},
		{"\n\n$3\r\nabc", 3, 6, true},
		{"$EOF:" + strings.Repeat("x", 40) + "\r\n", 0, 0, false},
		{"$-1\r\n", 0, 0, false},
		{"+OK\r\n", 0, 0, false},
		{"$123", 0, 0, false}, // no end of line before EOF
	} {
		size, pre, ok := peekPayloadSize(bufioOf(tt.in))
		assert.Equal(t, tt.ok, ok, tt.in)
		assert.Equal(t, tt.size, size, tt.in)
		assert.Equal(t, tt.pre, pre, tt.in)
	}
}

func bufioOf(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }

func TestLagTrack(t *testing.T) {
	var l lagTrack
	t0 := time.Unix(1000, 0)
	_, _, ok := l.lag(0, t0)
	assert.False(t, ok, "no sample")
	l.add(100, t0)
	l.add(250, t0.Add(time.Second))
	l.add(400, t0.Add(2*time.Second))
	now := t0.Add(3 * time.Second)
	b, s, ok := l.lag(50, now)
	require.True(t, ok)
	assert.Equal(t, int64(350), b)
	assert.Equal(t, 3.0, s, "the primary was past offset 50 three seconds ago")
	b, s, _ = l.lag(300, now)
	assert.Equal(t, int64(100), b)
	assert.Equal(t, 1.0, s, "offset 400 was sampled a second ago")
	b, s, _ = l.lag(400, now)
	assert.Equal(t, int64(0), b)
	assert.Equal(t, 0.0, s, "caught up with the newest sample")
	l.add(10, now) // a new history (smaller offset): earlier samples are void
	b, _, _ = l.lag(0, now)
	assert.Equal(t, int64(10), b)
	for i := 0; i < 3*lagSamples; i++ {
		l.add(int64(100+i), now)
	}
	assert.LessOrEqual(t, len(l.samples), lagSamples, "bounded")
}
