package redisproc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/benbjohnson/clock"
)

// PollInterval is the pause between two evaluations of a polled condition.
const PollInterval = 10 * time.Millisecond

// Poll calls cond at once and then every [PollInterval] on clk (clock.New()
// when nil) until
//
//   - cond returns nil: Poll returns nil;
//   - cond returns an error made by [Permanent]: Poll returns the error it
//     wraps at once;
//   - timeout passes: Poll returns an error wrapping [ErrTimeout] with the
//     last reason cond gave;
//   - ctx ends: Poll returns an error wrapping ctx.Err() with the last
//     reason.
//
// A non-nil error from cond is the reason the condition does not hold yet.
func Poll(ctx context.Context, clk clock.Clock, timeout time.Duration, cond func() error) error {
	if clk == nil {
		clk = clock.New()
	}
	deadline := clk.Timer(timeout)
	defer deadline.Stop()
	tick := clk.Ticker(PollInterval)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		var perm permanentError
		if errors.As(err, &perm) {
			return perm.err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-deadline.C:
			return fmt.Errorf("%w after %v: %v", ErrTimeout, timeout, err)
		case <-tick.C:
		}
	}
}

// Permanent marks err as final for [Poll]: a condition that returns it ends
// the poll with err instead of being tried again. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// permanentError is an error [Poll] does not retry.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }
