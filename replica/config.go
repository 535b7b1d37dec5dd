package replica

import (
	"fmt"
	"time"

	"github.com/replsm/replsm/timeouts"
)

// ErrInvalidConfig is returned for zero or negative durations and caps; it
// is timeouts.ErrInvalidConfig.
var ErrInvalidConfig = timeouts.ErrInvalidConfig

// Config holds the instance link's timeouts and retry policy.
type Config struct {
	// MetaTimeout bounds Connecting (Pika resends MetaSync every 10 s).
	MetaTimeout time.Duration
	// IdleTimeout returns Connected to Connect when the embedding reports no
	// Activity for this long. Zero disables it, for deployments with no
	// instance-wide link (one endpoint per shard).
	IdleTimeout time.Duration
	// ConnectBackoff spaces reconnects after a failed meta handshake.
	ConnectBackoff timeouts.Backoff
	// Backoff spaces recoveries from Error.
	Backoff timeouts.Backoff
	// RecoveryCap is how many recoveries from Error the instance makes on
	// its own per stable period.
	RecoveryCap int
	// StablePeriod is how long Connected must last to refill the budget.
	StablePeriod time.Duration
	// ExhaustedRetry is the slow cadence once the budget is spent. Zero
	// waits for the operator (opt-in only).
	ExhaustedRetry time.Duration
}

// DefaultConfig: Pika's 10 s meta resend and 60 s idle link, gRPC backoff,
// 5 recoveries per stable minute, then one every 5 minutes.
func DefaultConfig() Config {
	return Config{
		MetaTimeout:    10 * time.Second,
		IdleTimeout:    60 * time.Second,
		ConnectBackoff: timeouts.DefaultBackoff(),
		Backoff:        timeouts.DefaultBackoff(),
		RecoveryCap:    5,
		StablePeriod:   60 * time.Second,
		ExhaustedRetry: 5 * time.Minute,
	}
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	if c.MetaTimeout <= 0 {
		return fmt.Errorf("%w: replica.Config.MetaTimeout must be > 0, got %s", ErrInvalidConfig, c.MetaTimeout)
	}
	if c.IdleTimeout < 0 {
		return fmt.Errorf("%w: replica.Config.IdleTimeout must be >= 0, got %s", ErrInvalidConfig, c.IdleTimeout)
	}
	if c.StablePeriod <= 0 {
		return fmt.Errorf("%w: replica.Config.StablePeriod must be > 0, got %s", ErrInvalidConfig, c.StablePeriod)
	}
	if c.ExhaustedRetry < 0 {
		return fmt.Errorf("%w: replica.Config.ExhaustedRetry must be >= 0 (0 waits for the operator), got %s", ErrInvalidConfig, c.ExhaustedRetry)
	}
	if c.RecoveryCap < 1 {
		return fmt.Errorf("%w: replica.Config.RecoveryCap must be >= 1, got %d", ErrInvalidConfig, c.RecoveryCap)
	}
	if err := c.ConnectBackoff.Validate(); err != nil {
		return fmt.Errorf("replica.Config.ConnectBackoff: %w", err)
	}
	if err := c.Backoff.Validate(); err != nil {
		return fmt.Errorf("replica.Config.Backoff: %w", err)
	}
	return nil
}
