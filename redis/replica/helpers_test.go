package replica

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/replsmtest"
	"github.com/replsm/replsm/slot"
	"github.com/replsm/replsm/timeouts"
)

// testConfig is a Config with timeouts short enough for tests to see every
// path in seconds: keepalive 3 s against a primary that pings every second,
// read timeout 4 s, fast backoff.
func testConfig(t testing.TB, shards map[slot.ID]string) Config {
	cfg := DefaultConfig()
	cfg.Shards = shards
	cfg.ListenAddr = "127.0.0.1:0"
	fast := timeouts.Backoff{Initial: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, Max: time.Second}
	cfg.SlotConfig.ReplyTimeout = 2 * time.Second
	cfg.SlotConfig.TransferIdleTimeout = 5 * time.Second
	cfg.SlotConfig.KeepaliveTimeout = 3 * time.Second
	cfg.SlotConfig.Backoff = fast
	cfg.SlotConfig.RecoveryCap = 10
	cfg.SlotConfig.StablePeriod = 5 * time.Second
	cfg.SlotConfig.FullSyncAfter = 5
	cfg.Instance.MetaTimeout = 3 * time.Second
	cfg.Instance.ConnectBackoff = fast
	cfg.Instance.Backoff = fast
	cfg.DialTimeout = time.Second
	cfg.ReadTimeout = 4 * time.Second
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg.Seed = 1
	return cfg
}

// startReplica builds and starts a Replica on the real clock; the test's
// cleanup closes it.
func startReplica(t testing.TB, cfg Config) *Replica {
	t.Helper()
	r, err := New(cfg, clock.New())
	require.NoError(t, err)
	require.NoError(t, r.Start())
	t.Cleanup(func() { require.NoError(t, r.Close()) })
	return r
}

// primaryArgs make a real primary ping every second and drop a silent
// replica after 5 s, so the timeout paths take seconds.
var primaryArgs = []string{"--repl-timeout", "5", "--repl-ping-replica-period", "1", "--repl-backlog-size", "64mb"}

func startPrimary(t testing.TB, name string) *redistest.Server {
	return redistest.Start(t, redistest.Options{Name: name, Args: primaryArgs})
}

// shardClient is a go-redis client on the replica whose every connection is
// scoped to one shard (REPLSM.SHARD), so its reads, INFO and ROLE are that
// primary's counterpart.
func shardClient(t testing.TB, r *Replica, id slot.ID) *redis.Client {
	opts := redistest.ClientOptions(r.Addr(), 0)
	opts.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		return cn.Do(ctx, "REPLSM.SHARD", strconv.Itoa(int(id))).Err()
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func unionClient(t testing.TB, r *Replica) *redis.Client {
	c := redistest.NewClient(r.Addr(), 0)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitState polls until shard id is in state want.
func waitState(t testing.TB, r *Replica, id slot.ID, want slot.State, within time.Duration) {
	t.Helper()
	redistest.RequireEventually(t, within, fmt.Sprintf("shard %d to reach %s", id, want), func(context.Context) error {
		st, err := r.Stats(id)
		if err != nil {
			return err
		}
		if st.State != want {
			return fmt.Errorf("shard %d is %s (last failure: %v)", id, st.State, st.LastFailure)
		}
		return nil
	})
}

// slotStatus is the core's status of shard id.
func slotStatus(t testing.TB, r *Replica, id slot.ID) slot.Status {
	t.Helper()
	s, err := r.Instance().Slot(id)
	require.NoError(t, err)
	return s.Status()
}

// requireSameDigest compares a primary with the replica's view of its shard.
func requireSameDigest(t testing.TB, ctx context.Context, primary, replica *redis.Client) *redistest.DigestReport {
	t.Helper()
	require.NoError(t, redistest.WaitCaughtUp(ctx, primary, replica))
	dbs := redistest.FillDBs()
	equal, want, got, err := redistest.Compare(ctx, primary, replica, dbs)
	require.NoError(t, err)
	if !equal {
		t.Fatalf("digests differ:\nprimary %v\nreplica %v\n%v", want, got, want.Diff(got, 20))
	}
	return want
}

// recordLog keeps shard transition records for assertions.
type recordLog struct {
	mu   sync.Mutex
	recs []slot.Record
}

func (l *recordLog) observe(r slot.Record) {
	l.mu.Lock()
	l.recs = append(l.recs, r)
	l.mu.Unlock()
}

// find returns the records of shard id for event ev.
func (l *recordLog) find(id slot.ID, ev slot.Event) []slot.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []slot.Record
	for _, r := range l.recs {
		if r.ID == id.String() && r.Event == ev {
			out = append(out, r)
		}
	}
	return slices.Clip(out)
}

// checkInvariants attaches the core's invariant checker (replsmtest) to a
// replica built from cfg: its records through the observers, its requests
// and closes through a spy in front of the real slot driver. At the end of
// the test (after the replica is closed) there must be no violation. Call
// it once cfg is final: the checker reads its limits from it.
func checkInvariants(t testing.TB, cfg *Config) *replsmtest.Checker {
	t.Helper()
	c := replsmtest.NewChecker(replsmtest.LimitsOf(cfg.SlotConfig, cfg.Instance))
	cfg.Observers = append(cfg.Observers, c.SlotRecord)
	cfg.InstanceObservers = append(cfg.InstanceObservers, c.InstanceRecord)
	cfg.WrapSlotDriver = func(d slot.Driver) slot.Driver { return replsmtest.SpyDriver(c, d) }
	t.Cleanup(func() {
		assert.Empty(t, c.Violations(), "core invariants over %d records", c.Total())
		assert.NotZero(t, c.Total(), "the checker saw the records")
	})
	return c
}
