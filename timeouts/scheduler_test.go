package timeouts

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// safetyNet bounds every real-time wait in these tests. It is a failure
// timeout, never the way a test waits for an outcome.
const safetyNet = 10 * time.Second

type firing struct {
	key string
	at  time.Time
}

// recorder collects fires in order; safe for use from the loop goroutine.
type recorder struct {
	mu    sync.Mutex
	fires []firing
}

func (r *recorder) fire(key string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fires = append(r.fires, firing{key, at})
}

func (r *recorder) keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ks []string
	for _, f := range r.fires {
		ks = append(ks, f.key)
	}
	return ks
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fires = nil
}

func sec(n int) time.Duration { return time.Duration(n) * time.Second }

func newMockScheduler() (*clock.Mock, *Scheduler[string], *recorder) {
	mock := clock.NewMock()
	rec := &recorder{}
	return mock, NewScheduler(mock, rec.fire), rec
}

func TestSchedulerFiresInDeadlineOrder(t *testing.T) {
	mock, s, rec := newMockScheduler()
	start := mock.Now()
	s.Arm("c", start.Add(sec(3)))
	s.Arm("a", start.Add(sec(1)))
	s.Arm("d", start.Add(sec(4)))
	s.Arm("b", start.Add(sec(2)))

	assert.Zero(t, s.RunDue(), "nothing is due yet")
	mock.Add(sec(2))
	assert.Equal(t, 2, s.RunDue())
	assert.Equal(t, []string{"a", "b"}, rec.keys())
	assert.Equal(t, []firing{{"a", start.Add(sec(1))}, {"b", start.Add(sec(2))}}, rec.fires,
		"fire gets the armed deadline, not the current time")

	mock.Add(sec(10))
	assert.Equal(t, 2, s.RunDue())
	assert.Equal(t, []string{"a", "b", "c", "d"}, rec.keys())
	assert.Zero(t, s.Len())
	assert.Zero(t, s.RunDue())
}

func TestSchedulerTiesFireInArmingOrder(t *testing.T) {
	mock, s, rec := newMockScheduler()
	at := mock.Now().Add(sec(5))
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		s.Arm(k, at)
	}
	s.Arm("b", at) // re-arming counts as arming now: b goes to the back
	s.Arm("early", at.Add(-time.Nanosecond))
	mock.Add(sec(5))
	assert.Equal(t, 6, s.RunDue())
	assert.Equal(t, []string{"early", "a", "c", "d", "e", "b"}, rec.keys())
}

func TestSchedulerRearmMovesDeadline(t *testing.T) {
	mock, s, rec := newMockScheduler()
	start := mock.Now()
	s.Arm("k", start.Add(sec(10)))
	s.Arm("other", start.Add(sec(5)))
	s.Arm("k", start.Add(sec(1))) // earlier
	at, ok := s.Deadline("k")
	require.True(t, ok)
	assert.Equal(t, start.Add(sec(1)), at)
	assert.Equal(t, 2, s.Len(), "re-arm replaces, it does not add")
	next, ok := s.Next()
	require.True(t, ok)
	assert.Equal(t, start.Add(sec(1)), next)

	mock.Add(sec(1))
	assert.Equal(t, 1, s.RunDue())
	assert.Equal(t, []string{"k"}, rec.keys())

	s.Arm("other", start.Add(sec(20))) // later
	mock.Add(sec(10))
	assert.Zero(t, s.RunDue(), "k fired once; other moved past now")
	mock.Add(sec(10))
	assert.Equal(t, 1, s.RunDue())
	assert.Equal(t, []string{"k", "other"}, rec.keys())
}

func TestSchedulerCancel(t *testing.T) {
	mock, s, rec := newMockScheduler()
	start := mock.Now()
	assert.False(t, s.Cancel("nope"))
	for i, k := range []string{"a", "b", "c"} {
		s.Arm(k, start.Add(sec(i+1)))
	}
	assert.True(t, s.Cancel("b"))
	assert.False(t, s.Cancel("b"), "already cancelled")
	_, ok := s.Deadline("b")
	assert.False(t, ok)
	assert.Equal(t, 2, s.Len())
	assert.True(t, s.Cancel("a"), "cancel the earliest")
	next, _ := s.Next()
	assert.Equal(t, start.Add(sec(3)), next)

	mock.Add(sec(5))
	assert.Equal(t, 1, s.RunDue())
	assert.Equal(t, []string{"c"}, rec.keys())
	assert.False(t, s.Cancel("c"), "a fired deadline is no longer armed")
}

func TestSchedulerEmpty(t *testing.T) {
	_, s, _ := newMockScheduler()
	_, ok := s.Next()
	assert.False(t, ok)
	_, ok = s.Deadline("x")
	assert.False(t, ok)
	assert.Zero(t, s.Len())
	assert.Zero(t, s.RunDue())
}

func TestSchedulerPastDeadlineFiresOnNextRunDue(t *testing.T) {
	mock, s, rec := newMockScheduler()
	mock.Add(sec(100))
	s.Arm("past", mock.Now().Add(-sec(50)))
	s.Arm("now", mock.Now())
	assert.Equal(t, 2, s.RunDue(), "deadlines at or before now are due")
	assert.Equal(t, []string{"past", "now"}, rec.keys())
}

func TestSchedulerReentrantFire(t *testing.T) {
	mock := clock.NewMock()
	start := mock.Now()
	var s *Scheduler[string]
	var order []string
	s = NewScheduler(mock, func(key string, at time.Time) {
		order = append(order, key)
		switch {
		case key == "a" && len(order) == 1:
			// Already due, and earlier than c: runs in this RunDue, before c.
			s.Arm("a2", start.Add(sec(1)))
			// Cancel a pending due deadline: it must not fire.
			assert.True(t, s.Cancel("b"))
			// Re-arm itself in the future: not in this RunDue.
			s.Arm("a", mock.Now().Add(sec(10)))
			// Reads do not deadlock.
			assert.Equal(t, 3, s.Len())
			_, ok := s.Deadline("a")
			assert.True(t, ok)
		case key == "c":
			_, ok := s.Deadline("c")
			assert.False(t, ok, "the entry is removed before fire runs")
		}
	})
	s.Arm("a", start.Add(sec(1)))
	s.Arm("b", start.Add(sec(2)))
	s.Arm("c", start.Add(sec(3)))

	mock.Add(sec(5))
	assert.Equal(t, 3, s.RunDue(), "a, a2 and c fire; b was cancelled")
	assert.Equal(t, []string{"a", "a2", "c"}, order)
	at, ok := s.Deadline("a")
	require.True(t, ok)
	assert.Equal(t, start.Add(sec(15)), at)

	mock.Add(sec(10))
	assert.Equal(t, 1, s.RunDue())
	assert.Equal(t, []string{"a", "a2", "c", "a"}, order)
}

// countingClock counts the timers created through it.
type countingClock struct {
	clock.Clock
	timers atomic.Int64
}

func (c *countingClock) Timer(d time.Duration) *clock.Timer {
	c.timers.Add(1)
	return c.Clock.Timer(d)
}

func (c *countingClock) AfterFunc(d time.Duration, f func()) *clock.Timer {
	c.timers.Add(1)
	return c.Clock.AfterFunc(d, f)
}

func (c *countingClock) After(d time.Duration) <-chan time.Time {
	c.timers.Add(1)
	return c.Clock.After(d)
}

func (c *countingClock) Ticker(d time.Duration) *clock.Ticker {
	c.timers.Add(1)
	return c.Clock.Ticker(d)
}

func TestRunDueCreatesNoTimers(t *testing.T) {
	mock := clock.NewMock()
	clk := &countingClock{Clock: mock}
	fired := 0
	s := NewScheduler(clk, func(int, time.Time) { fired++ })
	for i := range 1000 {
		s.Arm(i, mock.Now().Add(time.Duration(i+1)*time.Millisecond))
	}
	s.Cancel(7)
	mock.Add(time.Second)
	assert.Equal(t, 999, s.RunDue())
	assert.Equal(t, 999, fired)
	assert.Zero(t, clk.timers.Load())
}

// nowClock is a clock whose Now is set by hand; it has no timers at all, so
// it also proves RunDue needs none. (A clock.Mock sleeps 1 ms per Add.)
type nowClock struct {
	clock.Clock // nil: any timer call panics
	now         time.Time
}

func (c *nowClock) Now() time.Time { return c.now }

// TestSchedulerMatchesModel runs random Arm/Cancel/advance sequences against
// a plain sorted-list model of the same rules.
func TestSchedulerMatchesModel(t *testing.T) {
	type armed struct {
		at  time.Time
		seq int
	}
	for seed := range uint64(50) {
		r := rand.New(rand.NewPCG(seed, 99))
		clk := &nowClock{now: time.Unix(0, 0)}
		var got []string
		s := NewScheduler(clk, func(k string, _ time.Time) { got = append(got, k) })
		model := map[string]armed{}
		var want []string
		seq := 0
		now := clk.now
		for range 300 {
			key := fmt.Sprintf("k%d", r.IntN(25))
			switch op := r.IntN(10); {
			case op < 6:
				at := now.Add(time.Duration(r.IntN(8)-1) * time.Second) // ties and past deadlines on purpose
				seq++
				model[key] = armed{at, seq}
				s.Arm(key, at)
			case op < 8:
				_, had := model[key]
				delete(model, key)
				require.Equal(t, had, s.Cancel(key))
			default:
				now = now.Add(time.Duration(r.IntN(4)) * time.Second)
				clk.now = now
				var due []string
				for k, a := range model {
					if !a.at.After(now) {
						due = append(due, k)
					}
				}
				slices.SortFunc(due, func(x, y string) int {
					a, b := model[x], model[y]
					if c := a.at.Compare(b.at); c != 0 {
						return c
					}
					return cmp.Compare(a.seq, b.seq)
				})
				for _, k := range due {
					delete(model, k)
				}
				want = append(want, due...)
				require.Equal(t, len(due), s.RunDue())
			}
			require.Equal(t, len(model), s.Len())
			for k, a := range model {
				at, ok := s.Deadline(k)
				require.True(t, ok)
				require.Equal(t, a.at, at)
			}
		}
		require.Equal(t, want, got, "seed %d", seed)
	}
}

// --- background loop -------------------------------------------------------

// loopGoroutines counts scheduler loop goroutines still alive.
func loopGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "timeouts.(*Scheduler[...]).loop(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// eventually spins (yielding, never sleeping) until cond holds, failing the
// test after the safety net.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(safetyNet)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

// noLoopLeak checks at cleanup that every loop this test started has exited.
func noLoopLeak(t *testing.T) {
	t.Helper()
	before := loopGoroutines()
	t.Cleanup(func() {
		eventually(t, "scheduler loops to exit", func() bool { return loopGoroutines() <= before })
	})
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(safetyNet):
		t.Fatal("timed out waiting for a fire")
		panic("unreachable")
	}
}

func TestStartStopOnMock(t *testing.T) {
	noLoopLeak(t)
	mock := clock.NewMock()
	start := mock.Now()
	fired := make(chan firing, 16)
	var s *Scheduler[string]
	s = NewScheduler(mock, func(k string, at time.Time) {
		if k == "g" {
			s.Arm("h", mock.Now().Add(sec(1))) // re-entrant, on the loop goroutine
		}
		fired <- firing{k, at}
	})
	s.Arm("a", start.Add(sec(1)))
	s.Arm("b", start.Add(sec(2)))
	s.Arm("c", start.Add(sec(2)))
	s.Start()
	s.Start() // no-op
	defer s.Stop()

	// Start armed the clock timer synchronously, so this Add reaches it.
	mock.Add(sec(1))
	assert.Equal(t, firing{"a", start.Add(sec(1))}, recv(t, fired))
	// The timer for b was re-armed before a's fire ran.
	mock.Add(sec(1))
	assert.Equal(t, "b", recv(t, fired).key)
	assert.Equal(t, "c", recv(t, fired).key)

	// An earlier deadline re-arms the timer inside Arm.
	s.Arm("d", mock.Now().Add(sec(10)))
	s.Arm("e", mock.Now().Add(sec(1)))
	mock.Add(sec(1))
	assert.Equal(t, "e", recv(t, fired).key)
	mock.Add(sec(9))
	assert.Equal(t, "d", recv(t, fired).key)

	// A deadline that is already due fires without moving time.
	s.Arm("f", mock.Now())
	assert.Equal(t, "f", recv(t, fired).key)

	// Arm from fire on the loop goroutine is armed before fire returns.
	s.Arm("g", mock.Now().Add(sec(1)))
	mock.Add(sec(1))
	assert.Equal(t, "g", recv(t, fired).key)
	mock.Add(sec(1))
	assert.Equal(t, "h", recv(t, fired).key)

	// Cancelling the earliest leaves at most a harmless early wake-up.
	s.Arm("x", mock.Now().Add(sec(1)))
	yAt := mock.Now().Add(sec(2))
	s.Arm("y", yAt)
	require.True(t, s.Cancel("x"))
	mock.Add(sec(1))
	// The early wake-up ran asynchronously; wait until it re-armed for y
	// before moving time again (see Start's doc on mocks).
	eventually(t, "the loop to re-arm for y", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.run.timerAt.Equal(yAt)
	})
	mock.Add(sec(1))
	assert.Equal(t, "y", recv(t, fired).key)

	// After Stop nothing fires by itself; deadlines stay armed for RunDue.
	s.Stop()
	s.Stop() // no-op
	s.Arm("z", mock.Now().Add(sec(1)))
	mock.Add(sec(1))
	assert.Empty(t, fired)
	assert.Equal(t, 1, s.Len())
	assert.Equal(t, 1, s.RunDue())
	assert.Equal(t, "z", recv(t, fired).key)

	// Restart picks up deadlines armed while stopped.
	s.Arm("r", mock.Now().Add(sec(3)))
	s.Start()
	mock.Add(sec(3))
	assert.Equal(t, "r", recv(t, fired).key)
}

func TestStopWithoutStart(t *testing.T) {
	_, s, _ := newMockScheduler()
	s.Stop()
	s.Stop()
}

func TestStartStopRealClock(t *testing.T) {
	noLoopLeak(t)
	clk := clock.New()
	type seen struct {
		key     string
		at, now time.Time
	}
	fired := make(chan seen, 16)
	s := NewScheduler(clk, func(k string, at time.Time) { fired <- seen{k, at, clk.Now()} })
	start := clk.Now()
	s.Arm("late", start.Add(5*time.Second))
	s.Start()
	defer s.Stop()

	// Arm wakes the loop early for an earlier deadline.
	s.Arm("early", start.Add(20*time.Millisecond))
	s.Arm("mid", start.Add(40*time.Millisecond))
	first := recv(t, fired)
	assert.Equal(t, "early", first.key)
	assert.False(t, first.now.Before(first.at), "fired at %v, before its deadline %v", first.now, first.at)
	assert.True(t, first.now.Before(start.Add(5*time.Second)), "did not wait for the late deadline")
	second := recv(t, fired)
	assert.Equal(t, "mid", second.key)
	assert.False(t, second.now.Before(second.at))

	require.True(t, s.Cancel("late"))
	s.Arm("again", clk.Now().Add(10*time.Millisecond))
	assert.Equal(t, "again", recv(t, fired).key)
	s.Stop()
	assert.Empty(t, fired)
}

func TestStartRunsDeadlinesDueAtStart(t *testing.T) {
	noLoopLeak(t)
	mock := clock.NewMock()
	fired := make(chan string, 4)
	s := NewScheduler(mock, func(k string, _ time.Time) { fired <- k })
	s.Arm("overdue", mock.Now())
	s.Start()
	defer s.Stop()
	assert.Equal(t, "overdue", recv(t, fired))
}

func TestSchedulerPeriodicRearmRealClock(t *testing.T) {
	noLoopLeak(t)
	clk := clock.New()
	const ticks = 20
	var n atomic.Int32
	done := make(chan struct{})
	var s *Scheduler[int]
	s = NewScheduler(clk, func(k int, at time.Time) {
		if n.Add(1) == ticks {
			close(done)
			return
		}
		s.Arm(k, at.Add(time.Millisecond)) // re-arm itself from the loop
	})
	s.Arm(1, clk.Now().Add(time.Millisecond))
	s.Start()
	defer s.Stop()
	recv(t, done)
	assert.Equal(t, int32(ticks), n.Load())
	assert.Zero(t, s.Len())
}

// TestSchedulerConcurrent hammers a started scheduler from several goroutines
// under the race detector: every key armed once must either fire exactly once
// or be cancelled, never both.
func TestSchedulerConcurrent(t *testing.T) {
	noLoopLeak(t)
	clk := clock.New()
	const workers, perWorker = 4, 300
	var fires [workers * perWorker]atomic.Int32
	s := NewScheduler(clk, func(k int, _ time.Time) { fires[k].Add(1) })
	s.Start()
	defer s.Stop()

	var cancelled [workers * perWorker]bool
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range perWorker {
				k := w*perWorker + i
				s.Arm(k, clk.Now().Add(time.Duration(r.IntN(3000))*time.Microsecond))
				if i%3 == 0 {
					cancelled[k] = s.Cancel(k)
				}
				if i%50 == 0 {
					s.RunDue() // concurrent with the loop's RunDue
					s.Next()
					s.Len()
				}
			}
		})
	}
	wg.Wait()
	eventually(t, "all deadlines to fire", func() bool { return s.Len() == 0 })
	s.Stop() // waits for a fire that may still be running
	for k := range fires {
		want := int32(1)
		if cancelled[k] {
			want = 0
		}
		require.Equal(t, want, fires[k].Load(), "key %d (cancelled=%v)", k, cancelled[k])
	}
}

func TestNewSchedulerNilArguments(t *testing.T) {
	s := NewScheduler[int](nil, nil)
	s.Arm(1, time.Time{}) // the zero time is long past
	assert.Equal(t, 1, s.RunDue())
}

// TestMain fails the run if any test left a scheduler loop running.
func TestMain(m *testing.M) {
	code := m.Run()
	deadline := time.Now().Add(safetyNet)
	for code == 0 && loopGoroutines() > 0 {
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "leak: %d scheduler loop goroutines still running\n", loopGoroutines())
			code = 1
		}
		runtime.Gosched()
	}
	os.Exit(code)
}
