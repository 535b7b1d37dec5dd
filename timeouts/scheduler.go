package timeouts

import (
	"container/heap"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
)

// Scheduler holds at most one deadline per key and calls fire for each once
// it is due. All deadlines live in one min-heap ordered by (deadline, arming
// order) behind one clock timer, so the cost of waiting keys is a heap entry
// each, not a timer each: Arm, re-Arm and Cancel are O(log n).
//
// There are two ways to run due deadlines. RunDue fires them synchronously in
// the caller's goroutine; a test calls it after advancing a clock.Mock. Start
// runs a background goroutine that sleeps on one clk.Timer until the earliest
// deadline and calls RunDue; production uses that. Do not mix the two on one
// scheduler if fire order across keys matters: two concurrent RunDue calls each
// fire in order, but their callbacks may interleave.
//
// All methods are safe for concurrent use. fire runs without the scheduler's
// lock held, so it may call Arm, Cancel, Deadline, Len and Next; it must not
// call Stop (Stop waits for the goroutine that is running fire).
type Scheduler[K comparable] struct {
	clk  clock.Clock
	fire func(key K, deadline time.Time)

	mu    sync.Mutex
	heap  entryHeap[K]
	index map[K]*entry[K]
	seq   uint64 // arming counter; breaks deadline ties in arming order

	run      *run          // the background loop; nil when not started
	lastDone chan struct{} // done of the last run, so every Stop can wait for its exit
}

// entry is one armed deadline. It is kept small: the scheduler may hold
// hundreds of thousands of them.
type entry[K comparable] struct {
	at    time.Time
	seq   uint64
	index int // position in the heap, kept by Swap for O(log n) Fix and Remove
	key   K
}

// run is the state of one Start..Stop of the background loop. All fields
// except the channels' contents are guarded by Scheduler.mu.
type run struct {
	timer   *clock.Timer
	timerAt time.Time     // when timer is set to fire; zero when it is stopped or spent
	wake    chan struct{} // cap 1: "something is already due, run now"
	stop    chan struct{} // closed by Stop
	done    chan struct{} // closed when the loop goroutine returns
}

// NewScheduler returns a stopped scheduler that reads time from clk and calls
// fire(key, deadline) for each deadline once it is due, with the deadline the
// key was armed with. A nil clk means clock.New() (real time); a nil fire
// drops due deadlines.
func NewScheduler[K comparable](clk clock.Clock, fire func(key K, deadline time.Time)) *Scheduler[K] {
	if clk == nil {
		clk = clock.New()
	}
	if fire == nil {
		fire = func(K, time.Time) {}
	}
	return &Scheduler[K]{clk: clk, fire: fire, index: make(map[K]*entry[K])}
}

// Arm sets key's deadline to at, replacing any deadline the key already had.
// A re-armed key counts as armed now for ordering among equal deadlines.
// A deadline that is already due fires on the next RunDue (or promptly, when
// started).
func (s *Scheduler[K]) Arm(key K, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	if e, ok := s.index[key]; ok {
		e.at, e.seq = at, s.seq
		heap.Fix(&s.heap, e.index)
	} else {
		e := &entry[K]{at: at, seq: s.seq, key: key}
		heap.Push(&s.heap, e)
		s.index[key] = e
	}
	s.wakeByLocked(at)
}

// Cancel removes key's deadline. It reports whether one was armed.
func (s *Scheduler[K]) Cancel(key K) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.index[key]
	if !ok {
		return false
	}
	heap.Remove(&s.heap, e.index)
	delete(s.index, key)
	// The background timer is left as it is: waking early for a cancelled
	// deadline costs one empty RunDue, resetting it would cost a timer call
	// on every Cancel.
	return true
}

// Deadline returns key's pending deadline, if it has one.
func (s *Scheduler[K]) Deadline(key K) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.index[key]; ok {
		return e.at, true
	}
	return time.Time{}, false
}

// Len returns the number of pending deadlines.
func (s *Scheduler[K]) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.heap)
}

// Next returns the earliest pending deadline, if any.
func (s *Scheduler[K]) Next() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.heap) == 0 {
		return time.Time{}, false
	}
	return s.heap[0].at, true
}

// RunDue fires, synchronously in the caller's goroutine, every deadline at or
// before clk.Now() (read once, at the start), in order of deadline and then
// arming order. Each entry is removed before its fire runs, so fire may re-arm
// its own key. Deadlines that fire callbacks arm and that are already due run
// in the same call, in their turn. RunDue returns the number fired.
//
// RunDue creates no clock timers, so on a clock.Mock it costs nothing beyond
// the heap work: advance the mock, then call RunDue.
func (s *Scheduler[K]) RunDue() int {
	n := 0
	s.mu.Lock()
	now := s.clk.Now()
	for len(s.heap) > 0 && !s.heap[0].at.After(now) {
		e := heap.Pop(&s.heap).(*entry[K])
		delete(s.index, e.key)
		if len(s.heap) > 0 && s.heap[0].at.After(now) {
			// Re-arm the background timer before fire runs, so that whoever
			// observes this fire can already rely on the next wake-up.
			s.wakeByLocked(s.heap[0].at)
		}
		s.mu.Unlock()
		s.fire(e.key, e.at)
		n++
		s.mu.Lock()
	}
	if len(s.heap) > 0 {
		s.wakeByLocked(s.heap[0].at) // no-op unless a spurious wake-up spent the timer
	}
	s.mu.Unlock()
	return n
}

// Start starts the background loop: one clk.Timer set to the earliest
// deadline, re-armed synchronously by Arm when an earlier deadline arrives,
// and RunDue whenever it fires. Starting a started scheduler does nothing.
//
// On a clock.Mock the timer is armed before Start and Arm return, so a test
// may Arm, then Add, then wait for fire. Advance one deadline at a time and
// wait for its fire before the next Add: the loop re-arms relative to the
// mock's time when it gets to run, which may be after a concurrent Add.
func (s *Scheduler[K]) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run != nil {
		return
	}
	// A clock.Timer cannot be created stopped: create one far out and stop
	// it; wakeByLocked sets it when there is something to wait for.
	t := s.clk.Timer(time.Hour)
	t.Stop()
	r := &run{
		timer: t,
		wake:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	s.run, s.lastDone = r, r.done
	if len(s.heap) > 0 {
		s.wakeByLocked(s.heap[0].at)
	}
	go s.loop(r)
}

// Stop stops the background loop and waits for its goroutine to exit,
// including any fire callback it is running. Stop on a scheduler that was
// never started does nothing. Pending deadlines stay armed; RunDue or a
// later Start runs them. Stop must not be called from fire.
func (s *Scheduler[K]) Stop() {
	s.mu.Lock()
	r := s.run
	done := s.lastDone
	if r != nil {
		s.run = nil
		r.timer.Stop()
		close(r.stop)
	}
	s.mu.Unlock()
	if done != nil {
		<-done
	}
}

func (s *Scheduler[K]) loop(r *run) {
	defer close(r.done)
	for {
		fired := false
		select {
		case <-r.stop:
			return
		case <-r.timer.C:
			fired = true
		case <-r.wake:
		}
		s.mu.Lock()
		if s.run != r { // stopped while we woke up
			s.mu.Unlock()
			return
		}
		if fired {
			r.timerAt = time.Time{} // spent: the next wakeByLocked must re-arm it
		}
		s.mu.Unlock()
		s.RunDue()
	}
}

// wakeByLocked makes sure the background loop, if started, wakes no later
// than at. It is called with s.mu held whenever a deadline may have become
// the earliest. The timer is touched only to move it earlier, and always
// stopped and drained first, so its channel never holds a stale tick (a
// second tick into a full mock timer channel would block the mock forever).
func (s *Scheduler[K]) wakeByLocked(at time.Time) {
	r := s.run
	if r == nil || (!r.timerAt.IsZero() && !at.Before(r.timerAt)) {
		return
	}
	d := s.clk.Until(at)
	if d <= 0 {
		// Already due. A mock timer reset to <= 0 would wait for the next
		// Add, so poke the loop instead of the timer.
		select {
		case r.wake <- struct{}{}:
		default: // a wake-up is already pending
		}
		return
	}
	if !r.timer.Stop() {
		select {
		case <-r.timer.C:
		default:
		}
	}
	r.timer.Reset(d)
	r.timerAt = at
}

// entryHeap implements heap.Interface over entries ordered by (at, seq).
type entryHeap[K comparable] []*entry[K]

func (h entryHeap[K]) Len() int { return len(h) }

func (h entryHeap[K]) Less(i, j int) bool {
	a, b := h[i], h[j]
	if c := a.at.Compare(b.at); c != 0 {
		return c < 0
	}
	return a.seq < b.seq
}

func (h entryHeap[K]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *entryHeap[K]) Push(x any) {
	e := x.(*entry[K])
	e.index = len(*h)
	*h = append(*h, e)
}

func (h *entryHeap[K]) Pop() any {
	old := *h
	n := len(old) - 1
	e := old[n]
	old[n] = nil // let the entry be collected
	*h = old[:n]
	e.index = -1
	return e
}
