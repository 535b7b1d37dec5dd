package redistest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/replsm/replsm/internal/redisproc"
)

const (
	// DefaultWaitTimeout bounds a wait whose context has no deadline and
	// whose timeout argument is zero, so that no poll loop runs forever.
	DefaultWaitTimeout = 30 * time.Second

	// PollInterval is the pause between two evaluations of a polled
	// condition (redisproc.PollInterval).
	PollInterval = redisproc.PollInterval
)

// Eventually evaluates cond until it returns nil, and returns nil then.
//
// cond is called at once and then every [PollInterval]; its non-nil error is
// the reason the condition does not hold yet. The wait ends at the earlier of
// ctx's deadline and timeout (a timeout <= 0 means ctx alone; when ctx has no
// deadline either, [DefaultWaitTimeout] applies). The ctx passed to cond
// carries that deadline.
//
// When the deadline passes, the error wraps [ErrTimeout] and the last reason
// cond gave before the deadline;
// when ctx is cancelled it wraps ctx's error and the last reason.
func Eventually(ctx context.Context, timeout time.Duration, cond func(ctx context.Context) error) error {
	ctx, cancel := boundedContext(ctx, timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	start := time.Now()
	ticker := time.NewTicker(PollInterval)
	defer ticker.Stop()
	var last error
	for {
		err := cond(ctx)
		if err == nil {
			return nil
		}
		// Keep the last reason given while the deadline had not passed: a
		// call cut short by the deadline only says "context deadline
		// exceeded" or, when a socket deadline set from ctx's fired just
		// before ctx's own timer, "i/o timeout".
		if last == nil || (ctx.Err() == nil && time.Now().Before(deadline)) {
			last = err
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%w after %v: %w", ErrTimeout, time.Since(start).Round(time.Millisecond), last)
			}
			return fmt.Errorf("%w: %w", ctx.Err(), last)
		case <-ticker.C:
		}
	}
}

// RequireEventually is [Eventually] for tests: it fails t (t.Fatalf) with
// what is described by msg and the last reason when the condition does not
// hold within timeout.
func RequireEventually(t testing.TB, timeout time.Duration, msg string, cond func(ctx context.Context) error) {
	t.Helper()
	if err := Eventually(context.Background(), timeout, cond); err != nil {
		t.Fatalf("%s: %v", msg, err)
	}
}

// boundedContext returns ctx limited by timeout, or by DefaultWaitTimeout when
// neither ctx nor timeout bounds it.
func boundedContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout > 0 {
		return context.WithTimeout(ctx, timeout)
	}
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultWaitTimeout)
}
