package replica

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/replsm/replsm/outbox"
	"github.com/replsm/replsm/redis/primary"
	core "github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/slot"
)

// Config configures a Replica.
type Config struct {
	// Shards maps each shard (slot) id to the "host:port" of the Redis
	// primary it follows. Keys must be disjoint across the primaries; reads
	// see the union of the shards. At least one shard is required.
	Shards map[slot.ID]string

	// ListenAddr is where the replica serves reads over RESP, e.g.
	// "127.0.0.1:6380" or "127.0.0.1:0" for any free port.
	ListenAddr string

	// ListeningPort is announced to primaries with REPLCONF listening-port
	// (it shows in their INFO replication). Zero announces the port
	// ListenAddr was bound to.
	ListeningPort int

	// SlotConfig holds each shard's timeouts and retry policy: reply
	// timeout, transfer-idle timeout, keepalive (no data) timeout, backoff,
	// recovery cap. Its KeepaliveTimeout must exceed the primary's
	// repl-ping-replica-period (10 s by default) or an idle primary looks
	// dead, and its ReplyTimeout must exceed the primary's
	// repl-diskless-sync-delay (5 s by default), which passes before a
	// diskless primary answers PSYNC with +FULLRESYNC.
	SlotConfig slot.Config

	// Instance holds the instance link's policy. Use IdleTimeout 0: with one
	// endpoint per shard there is no instance-wide link to go idle.
	Instance core.Config

	// AckPeriod is how often a streaming session sends REPLCONF ACK <offset>
	// (Redis: once a second). It is also the period at which ReadTimeout is
	// checked.
	AckPeriod time.Duration

	// StreamStartAckPeriod is how often a session that just finished a full
	// sync repeats its ACK until the first bytes of the command stream
	// arrive; then AckPeriod takes over. A diskless Redis 7.0 primary starts
	// the stream only on an ACK that comes after it has reaped its fork
	// child, so the ACK sent at the end mark is often too early and a whole
	// AckPeriod would pass before the next. Zero means 100 ms (or AckPeriod
	// if that is shorter).
	StreamStartAckPeriod time.Duration

	// DialTimeout bounds the TCP connect to a primary, and the whole role
	// probe of each endpoint in the meta step. It must be shorter than
	// Instance.MetaTimeout.
	DialTimeout time.Duration

	// ReadTimeout drops a session whose primary sent no byte for this long,
	// in every phase (handshake, transfer, stream). It must exceed the
	// primary's repl-ping-replica-period.
	ReadTimeout time.Duration

	// MaxPayload bounds the RDB payload of a full sync, in bytes: one
	// announced larger fails at once, an EOF-marked one when it passes the
	// bound, with ErrSpoolFull and the shard in Error with the reason. Zero
	// means no limit (the payload past SpoolMemory is on disk, not in
	// memory, either way).
	MaxPayload int64

	// MaxValue bounds one value of a snapshot (a string, an encoded
	// collection, an LZF expansion), in bytes: a longer declared length
	// fails the load with rdb.ErrValueTooLarge before anything is
	// allocated for it, and the shard goes to Error with the reason. Zero
	// means rdb.DefaultMaxValue (512 MB, Redis's own string limit).
	MaxValue int64

	// SpoolMemory is how much of a full sync's payload, and of the stream
	// that follows it while it loads, is held in memory; the rest goes to
	// a temporary file in SpoolDir, removed once used (docs/fullsync.md).
	// Zero means DefaultSpoolMemory.
	SpoolMemory int64

	// MaxStreamSpool bounds the stream spooled while a snapshot loads, in
	// bytes; past it the sync fails with ErrSpoolFull. Zero means no limit.
	MaxStreamSpool int64

	// SpoolDir is where spool files go; empty means StateDir, or
	// os.TempDir() without one.
	SpoolDir string

	// LagProbeInterval, when > 0, asks every Connected shard's primary for
	// its offset (ROLE, on a short-lived connection) this often, so INFO and
	// the metrics can say how far behind the shard is in bytes and seconds.
	// Zero (the default) asks nothing and reports no lag.
	LagProbeInterval time.Duration

	// Logger receives transitions and session events; nil discards.
	Logger *slog.Logger

	// Observers get every shard transition record, in order per shard.
	Observers []slot.Observer

	// InstanceObservers get every instance transition record.
	InstanceObservers []func(core.Record)

	// WrapSlotDriver, when set, puts a driver in front of the replica's own
	// slot driver: a test's spy (replsmtest.SpyDriver) that checks what the
	// slots ask for against the core's invariants.
	WrapSlotDriver func(slot.Driver) slot.Driver

	// OnExhausted is called (outside locks) once per exhaustion episode:
	// when a shard has spent its recovery budget. The shard keeps going at
	// SlotConfig.ExhaustedRetry, probes an unreachable primary every
	// SlotConfig.ProbeInterval and is back as soon as it answers; the
	// episode ends when the shard is Connected again. REPLSM.RESET /
	// Replica.Reset refill the budget at once.
	OnExhausted func(slot.Exhaustion)

	// StartAsPrimary starts the (single) shard as a writable primary with an
	// empty keyspace and a new history, as `replsm primary` does: nothing
	// is followed until REPLICAOF host port demotes it (docs/failover.md).
	// The shard's endpoint is then only a placeholder.
	StartAsPrimary bool

	// Primary adjusts the configuration a promoted shard runs with as a
	// primary (REPLICAOF NO ONE, docs/failover.md); it starts from
	// primary.DefaultConfig(). Its BacklogSize is also the size of the
	// backlog every shard keeps of the stream it applies. Nil keeps the
	// defaults.
	Primary func(*primary.Config)

	// Seed makes the backoff jitter repeatable; zero draws a random seed,
	// so two replica processes never retry at the same instants.
	Seed uint64

	// StateDir, when set, makes the replica survive restarts: every shard's
	// keyspace is written there as an RDB snapshot (shard-<id>.<gen>.rdb)
	// together with its cursor (replication id, offset, database, file) in
	// the store file replsm.db, and a restarted replica loads both and
	// resumes with PSYNC from the cursor. The directory must exist and be
	// writable; New fails otherwise. Empty keeps everything in memory: a
	// restarted replica starts empty and does a full sync.
	StateDir string

	// SnapshotInterval bounds how stale a shard's snapshot in StateDir gets
	// while it streams: once this long has passed since the last one and
	// write commands were applied since, the next one is taken. Snapshots
	// are also taken after every full sync and at Close. Must be > 0 when
	// StateDir is set.
	SnapshotInterval time.Duration

	// SnapshotBytes also triggers a snapshot once this many stream bytes
	// were applied since the last one, keeping the gap a restart must
	// fetch from the primary's backlog below it (size it under the
	// primary's repl-backlog-size). Zero: no byte trigger. A shard never
	// has more than one snapshot waiting or being written, so a fast
	// stream costs at most one snapshot at a time per shard.
	SnapshotBytes int64

	// Notify, when set, receives milestones (shard connected, full sync
	// completed with its offset, shard exhausted, instance error and
	// recovery) at least once: each is appended durably to the store under
	// the machine's lock in the same step as its transition, then
	// delivered in order with backoff and a circuit breaker
	// (outbox.Outbox); milestones left undelivered by an earlier run are
	// replayed at Start. Without StateDir the outbox is kept in memory
	// and does not survive the process. outbox.NewHTTPSink builds the
	// usual sink.
	Notify outbox.Sink

	// ReplicaPriority is what INFO replication reports as slave_priority
	// (and replica_priority). Sentinel never promotes a replica of
	// priority 0, the default: this replica cannot take writes. Must be
	// >= 0.
	ReplicaPriority int

	// Sentinel, when set, makes the shards it names follow the primary
	// Redis Sentinel names for them (sentinel.go, docs/sentinel.md).
	Sentinel *SentinelConfig

	// Outbox tunes delivery to Notify: backoff, breaker threshold and
	// cooldown, backlog warning threshold. Zero fields take the outbox
	// defaults; a nil Logger uses Logger.
	Outbox outbox.Config
}

// Snapshot defaults (DefaultConfig).
const (
	DefaultSnapshotInterval       = time.Minute
	DefaultSnapshotBytes    int64 = 64 << 20
)

// Spool defaults: SpoolMemory's zero value, and DefaultConfig's
// MaxStreamSpool (at 1500 writes/s of 4 KiB, about three minutes of load).
const (
	DefaultSpoolMemory    int64 = 16 << 20
	DefaultMaxStreamSpool int64 = 1 << 30
)

// DefaultConfig returns the numbers a production replica starts from: the
// core's slot defaults (20 s keepalive, 10 s reply timeout, 5 recoveries
// per stable minute then one every 5 minutes, probes of an unreachable
// primary every second, a busy primary asked again after a second),
// the core's instance defaults with IdleTimeout 0, ACK every second, a 5 s
// dial timeout and a 60 s read timeout (Redis's repl-timeout), and with a
// StateDir a snapshot every minute or 64 MiB of stream. Shards, ListenAddr,
// StateDir and Notify are left for the caller.
func DefaultConfig() Config {
	inst := core.DefaultConfig()
	inst.IdleTimeout = 0
	sc := slot.DefaultConfig()
	sc.AtomicLoad = true // New sets it anyway: see there
	return Config{
		SlotConfig:           sc,
		Instance:             inst,
		AckPeriod:            time.Second,
		StreamStartAckPeriod: defaultStreamStartAckPeriod,
		DialTimeout:          5 * time.Second,
		ReadTimeout:          60 * time.Second,

		SnapshotInterval: DefaultSnapshotInterval,
		SnapshotBytes:    DefaultSnapshotBytes,
		MaxStreamSpool:   DefaultMaxStreamSpool,
	}
}

// Validate reports the first problem, wrapping ErrInvalidConfig (or the
// core's ErrInvalidConfig for the slot and instance policies).
func (c Config) Validate() error {
	if c.StartAsPrimary && len(c.Shards) != 1 {
		return fmt.Errorf("%w: StartAsPrimary needs exactly one shard, got %d", ErrInvalidConfig, len(c.Shards))
	}
	if len(c.Shards) == 0 {
		return fmt.Errorf("%w: no shards", ErrInvalidConfig)
	}
	for id, ep := range c.Shards {
		if id < 0 {
			return fmt.Errorf("%w: shard id %d is negative", ErrInvalidConfig, id)
		}
		if err := checkEndpoint(ep); err != nil {
			return fmt.Errorf("%w: shard %d: %v", ErrInvalidConfig, id, err)
		}
	}
	if c.ListenAddr == "" {
		return fmt.Errorf("%w: ListenAddr is empty", ErrInvalidConfig)
	}
	if c.ListeningPort < 0 || c.ListeningPort > 65535 {
		return fmt.Errorf("%w: ListeningPort %d out of range", ErrInvalidConfig, c.ListeningPort)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"AckPeriod", c.AckPeriod}, {"DialTimeout", c.DialTimeout}, {"ReadTimeout", c.ReadTimeout}} {
		if d.v <= 0 {
			return fmt.Errorf("%w: %s must be > 0, got %s", ErrInvalidConfig, d.name, d.v)
		}
	}
	if c.ReplicaPriority < 0 {
		return fmt.Errorf("%w: ReplicaPriority must be >= 0, got %d", ErrInvalidConfig, c.ReplicaPriority)
	}
	if err := c.Sentinel.validate(c.Shards); err != nil {
		return err
	}
	if c.StreamStartAckPeriod < 0 {
		return fmt.Errorf("%w: StreamStartAckPeriod must be >= 0, got %s", ErrInvalidConfig, c.StreamStartAckPeriod)
	}
	if c.MaxValue < 0 {
		return fmt.Errorf("%w: MaxValue must be >= 0, got %d", ErrInvalidConfig, c.MaxValue)
	}
	if c.MaxPayload < 0 || c.SpoolMemory < 0 || c.MaxStreamSpool < 0 {
		return fmt.Errorf("%w: MaxPayload, SpoolMemory and MaxStreamSpool must be >= 0, got %d, %d and %d",
			ErrInvalidConfig, c.MaxPayload, c.SpoolMemory, c.MaxStreamSpool)
	}
	if c.LagProbeInterval < 0 {
		return fmt.Errorf("%w: LagProbeInterval must be >= 0, got %s", ErrInvalidConfig, c.LagProbeInterval)
	}
	if c.StateDir != "" && c.SnapshotInterval <= 0 {
		return fmt.Errorf("%w: SnapshotInterval must be > 0 with a StateDir, got %s", ErrInvalidConfig, c.SnapshotInterval)
	}
	if c.SnapshotInterval < 0 || c.SnapshotBytes < 0 {
		return fmt.Errorf("%w: SnapshotInterval and SnapshotBytes must be >= 0, got %s and %d", ErrInvalidConfig, c.SnapshotInterval, c.SnapshotBytes)
	}
	if c.DialTimeout >= c.Instance.MetaTimeout {
		return fmt.Errorf("%w: DialTimeout %s must be shorter than Instance.MetaTimeout %s (the meta step probes every endpoint within it)",
			ErrInvalidConfig, c.DialTimeout, c.Instance.MetaTimeout)
	}
	if err := c.SlotConfig.Validate(); err != nil {
		return err
	}
	return c.Instance.Validate()
}

// checkEndpoint accepts "host:port" with a non-empty host and a port in
// 1..65535; names are resolved only when dialled.
func checkEndpoint(ep string) error {
	host, port, err := net.SplitHostPort(ep)
	if err != nil {
		return fmt.Errorf("endpoint %q: %v", ep, err)
	}
	if host == "" {
		return fmt.Errorf("endpoint %q: empty host", ep)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("endpoint %q: bad port %q", ep, port)
	}
	return nil
}

// defaultStreamStartAckPeriod is StreamStartAckPeriod's zero value.
const defaultStreamStartAckPeriod = 100 * time.Millisecond

// streamStartAckPeriod resolves StreamStartAckPeriod: never slower than
// AckPeriod.
func (c Config) streamStartAckPeriod() time.Duration {
	p := c.StreamStartAckPeriod
	if p == 0 {
		p = defaultStreamStartAckPeriod
	}
	return min(p, c.AckPeriod)
}

// spoolMemory resolves SpoolMemory.
func (c Config) spoolMemory() int64 {
	if c.SpoolMemory == 0 {
		return DefaultSpoolMemory
	}
	return c.SpoolMemory
}

// spoolDir resolves SpoolDir.
func (c Config) spoolDir() string {
	switch {
	case c.SpoolDir != "":
		return c.SpoolDir
	case c.StateDir != "":
		return c.StateDir
	}
	return os.TempDir()
}
