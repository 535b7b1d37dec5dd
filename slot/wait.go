package slot

import (
	"context"
	"fmt"
)

// WaitSynced returns nil once the slot is Connected. A caller that arrives
// while a sync is in flight joins it rather than starting another; any
// number may wait at once. It returns ErrExhausted (with the last error) if
// the slot runs out of recoveries, ErrDetached if it is taken out, or the
// context's error.
func (s *Slot) WaitSynced(ctx context.Context) error {
	for {
		s.mu.Lock()
		switch {
		case s.m.State() == Connected:
			s.mu.Unlock()
			return nil
		case s.m.State() == Detached:
			s.mu.Unlock()
			return fmt.Errorf("%w: %s", ErrDetached, s.id)
		case s.exhausted:
			err := fmt.Errorf("%w: %s: %s", ErrExhausted, s.id, s.lastErr)
			s.mu.Unlock()
			return err
		}
		if s.wake == nil {
			s.wake = make(chan struct{})
		}
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return fmt.Errorf("%s: wait for sync: %w", s.id, ctx.Err())
		}
	}
}

// wakeWaiters lets every WaitSynced caller look at the state again.
func (s *Slot) wakeWaiters() {
	if s.wake != nil {
		close(s.wake)
		s.wake = nil
	}
}
