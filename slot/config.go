package slot

import (
	"fmt"
	"time"

	"github.com/replsm/replsm/timeouts"
)

// ErrInvalidConfig is returned by Config.Validate and NewSlot for zero or
// negative durations, caps and thresholds. It is timeouts.ErrInvalidConfig,
// so one errors.Is check covers every layer.
var ErrInvalidConfig = timeouts.ErrInvalidConfig

// Config holds a shard's timeouts and retry policy. One Config is usually
// shared by every slot of an instance.
type Config struct {
	// ReplyTimeout bounds WaitReply: no reply to a sync request in this long
	// is a failure.
	ReplyTimeout time.Duration
	// TransferIdleTimeout bounds WaitDBSync: no snapshot progress in this
	// long is a failure.
	TransferIdleTimeout time.Duration
	// KeepaliveTimeout bounds Connected: no data or ping in this long starts
	// a new incremental handshake.
	KeepaliveTimeout time.Duration
	// Backoff spaces recoveries from Error.
	Backoff timeouts.Backoff
	// RecoveryCap is how many recoveries a shard makes on its own before it
	// stays in Error and reports itself exhausted.
	RecoveryCap int
	// StablePeriod is how long a shard must stay Connected for its recovery
	// budget (and backoff) to start over.
	StablePeriod time.Duration
	// FullSyncAfter is K: after K consecutive failed incremental attempts the
	// next start asks for a full sync.
	FullSyncAfter int
}

// DefaultConfig returns the starting numbers of DESIGN.md: Pika's 20 s
// keepalive, Redis's 60 s transfer timeout, gRPC's backoff, 5 recoveries per
// stable minute, full sync after 3 failed incremental attempts.
func DefaultConfig() Config {
	return Config{
		ReplyTimeout:        10 * time.Second,
		TransferIdleTimeout: 60 * time.Second,
		KeepaliveTimeout:    20 * time.Second,
		Backoff:             timeouts.DefaultBackoff(),
		RecoveryCap:         5,
		StablePeriod:        60 * time.Second,
		FullSyncAfter:       3,
	}
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"ReplyTimeout", c.ReplyTimeout},
		{"TransferIdleTimeout", c.TransferIdleTimeout},
		{"KeepaliveTimeout", c.KeepaliveTimeout},
		{"StablePeriod", c.StablePeriod},
	} {
		if d.v <= 0 {
			return fmt.Errorf("%w: slot.Config.%s must be > 0, got %s", ErrInvalidConfig, d.name, d.v)
		}
	}
	if c.RecoveryCap < 1 {
		return fmt.Errorf("%w: slot.Config.RecoveryCap must be >= 1, got %d", ErrInvalidConfig, c.RecoveryCap)
	}
	if c.FullSyncAfter < 1 {
		return fmt.Errorf("%w: slot.Config.FullSyncAfter must be >= 1, got %d", ErrInvalidConfig, c.FullSyncAfter)
	}
	if err := c.Backoff.Validate(); err != nil {
		return fmt.Errorf("slot.Config.Backoff: %w", err)
	}
	return nil
}
