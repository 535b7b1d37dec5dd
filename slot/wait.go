package slot

import (
	"context"
	"fmt"
)

// WaitSynced returns nil once the slot is Connected. A caller that arrives
// while a sync is in flight joins it rather than starting another; any
// number may wait at once. It returns ErrExhausted (with the last error) as
// soon as the slot has spent its budget, ErrDetached if it is taken out, or
// the context's error.
func (s *Slot) WaitSynced(ctx context.Context) error {
	for {
		changed, done := s.rt.host.Watch()
		err, ok := s.syncedLocked()
		if ok {
			done()
			return err
		}
		select {
		case <-changed:
			done()
		case <-ctx.Done():
			done()
			return fmt.Errorf("%s: wait for sync: %w", s.id, ctx.Err())
		}
	}
}

// syncedLocked reports whether a waiter is done, and with what.
func (s *Slot) syncedLocked() (error, bool) {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	switch {
	case s.M.State() == Connected:
		return nil, true
	case s.M.State() == Detached:
		return fmt.Errorf("%w: %s", ErrDetached, s.id), true
	case s.Exhausted:
		return fmt.Errorf("%w: %s: %s", ErrExhausted, s.id, s.LastErr), true
	}
	return nil, false
}
