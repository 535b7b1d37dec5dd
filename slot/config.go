package slot

import (
	"fmt"
	"time"

	"github.com/replsm/replsm/host"
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
	// RecoveryCap is how many backed-off recoveries a shard makes per stable
	// period before it reports itself exhausted and slows to ExhaustedRetry.
	RecoveryCap int
	// StablePeriod is how long a shard must stay Connected for its recovery
	// budget (and backoff) to start over.
	StablePeriod time.Duration
	// FullSyncAfter is K: after K consecutive failed incremental attempts the
	// next start asks for a full sync.
	FullSyncAfter int
	// ExhaustedRetry is the slow cadence once the budget is spent: one
	// attempt each. Zero means wait for the operator (Pika's mode; opt-in,
	// never the default).
	ExhaustedRetry time.Duration
	// ProbeInterval spaces reachability probes of a slot in Error after a
	// failure that never reached its primary (drivers that are Probers).
	ProbeInterval time.Duration
	// BusyPoll is how long a slot waits before asking again a primary that
	// answered "busy" (-LOADING, -MASTERDOWN).
	BusyPoll time.Duration
	// AtomicLoad declares that the embedding swaps a snapshot in only when
	// it is complete, so an aborted transfer leaves the data matching the
	// cursor and no full sync is due (Redis's swap-on-load; not Pika's file
	// transfer).
	AtomicLoad bool
}

func (c *Config) budget() (timeouts.Budget, error) {
	return timeouts.NewBudget(c.RecoveryCap, c.StablePeriod)
}

func (c *Config) recovery() *host.Recovery {
	return &host.Recovery{Backoff: c.Backoff, ExhaustedRetry: c.ExhaustedRetry, ProbeInterval: c.ProbeInterval}
}

// DefaultConfig returns the starting numbers of docs/DESIGN.md: Pika's 20 s
// keepalive, Redis's 60 s transfer timeout, gRPC's backoff, 5 recoveries per
// stable minute then one every 5 minutes, probes every second, full sync
// after 3 failed incremental attempts.
func DefaultConfig() Config {
	return Config{
		ReplyTimeout:        10 * time.Second,
		TransferIdleTimeout: 60 * time.Second,
		KeepaliveTimeout:    20 * time.Second,
		Backoff:             timeouts.DefaultBackoff(),
		RecoveryCap:         5,
		StablePeriod:        60 * time.Second,
		FullSyncAfter:       3,
		ExhaustedRetry:      5 * time.Minute,
		ProbeInterval:       time.Second,
		BusyPoll:            time.Second,
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
		{"ProbeInterval", c.ProbeInterval},
		{"BusyPoll", c.BusyPoll},
	} {
		if d.v <= 0 {
			return fmt.Errorf("%w: slot.Config.%s must be > 0, got %s", ErrInvalidConfig, d.name, d.v)
		}
	}
	if c.ExhaustedRetry < 0 {
		return fmt.Errorf("%w: slot.Config.ExhaustedRetry must be >= 0 (0 waits for the operator), got %s", ErrInvalidConfig, c.ExhaustedRetry)
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
