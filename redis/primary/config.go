package primary

import (
	"fmt"
	"io"
	"time"

	"github.com/replsm/replsm/redis/pubsub"
	"github.com/replsm/replsm/redis/resp"
	"github.com/replsm/replsm/redis/server"
)

// Config holds a Primary's tunables. Start from DefaultConfig.
type Config struct {
	// BacklogSize is the replication backlog in bytes (Redis's
	// repl-backlog-size): how far behind a follower may be and still
	// resume with +CONTINUE. A streaming follower that falls further behind
	// than this is disconnected and comes back with a full sync.
	BacklogSize int

	// PingPeriod is how often a "ping" goes into the stream while followers
	// are connected (repl-ping-replica-period), so that an idle primary
	// still shows signs of life.
	PingPeriod time.Duration

	// ReplTimeout (repl-timeout) removes a follower that sends no REPLCONF
	// ACK for this long while streaming, or that has not finished its full
	// sync (snapshot sent and first ACK back) in this long.
	ReplTimeout time.Duration

	// KeepalivePeriod is how often a bare "\n" goes to a follower waiting
	// for its snapshot to be built, as Redis does while it forks. It does
	// not count in offsets.
	KeepalivePeriod time.Duration

	// ExpirePeriod is how often keys whose TTL has passed are deleted (and
	// the deletions streamed as DEL) without a command touching them,
	// Redis's active expire cycle.
	ExpirePeriod time.Duration

	// DisklessEOF sends the snapshot framed as "$EOF:<40 chars>\r\n<rdb>
	// <same 40 chars>" to followers that announced "capa eof", as Redis's
	// diskless sync does, and then holds the stream until the follower's
	// first ACK. When false every follower gets "$<len>\r\n<rdb>".
	DisklessEOF bool

	// ReplID fixes the initial replication id (40 characters from
	// [0-9a-zA-Z]); empty draws a random one. Tests use it for
	// repeatable output; ForgetHistory always draws a new one.
	ReplID string

	// Limits bound what a client may send.
	Limits resp.Limits

	// Rand is where replication ids are drawn from (nil: crypto/rand);
	// tests and seeded runs inject a repeatable source.
	Rand io.Reader

	// Hub holds the pub/sub subscriptions; nil gives the primary its own.
	// A promoted replica passes its own, so subscribers stay subscribed
	// across the role change.
	Hub *pubsub.Hub

	// ReplicaOf, if set, serves REPLICAOF/SLAVEOF host port (the demotion
	// of this primary; see docs/failover.md). Without it the command is
	// refused. REPLICAOF NO ONE is always +OK.
	ReplicaOf func(c *server.Conn, host, port []byte) error

	// InfoServer, if set, is INFO's Server section of the process serving
	// this primary, put first in INFO's default answer: Sentinel reads
	// run_id from it to notice a restarted primary (+reboot).
	InfoServer func() string
}

// DefaultConfig returns Redis 7.0's numbers: a 1 MiB backlog, a ping every
// 10 s, a 60 s repl-timeout, a keepalive newline every second, active
// expiry ten times a second, disk-style snapshot framing.
func DefaultConfig() Config {
	return Config{
		BacklogSize:     1 << 20,
		PingPeriod:      10 * time.Second,
		ReplTimeout:     60 * time.Second,
		KeepalivePeriod: time.Second,
		ExpirePeriod:    100 * time.Millisecond,
	}
}

// Validate reports the first unusable field, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	if c.BacklogSize < 1 {
		return fmt.Errorf("%w: BacklogSize must be >= 1, got %d", ErrInvalidConfig, c.BacklogSize)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"PingPeriod", c.PingPeriod},
		{"ReplTimeout", c.ReplTimeout},
		{"KeepalivePeriod", c.KeepalivePeriod},
		{"ExpirePeriod", c.ExpirePeriod},
	} {
		if d.v <= 0 {
			return fmt.Errorf("%w: %s must be > 0, got %s", ErrInvalidConfig, d.name, d.v)
		}
	}
	if c.ReplID != "" && !validReplID(c.ReplID) {
		return fmt.Errorf("%w: ReplID must be 40 characters from [0-9a-zA-Z], got %q", ErrInvalidConfig, c.ReplID)
	}
	return nil
}
