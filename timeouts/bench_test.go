package timeouts

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
)

// BenchmarkSchedulerMock100k: one op arms 100 000 keys with distinct
// deadlines on a clock.Mock, advances the mock past all of them with one Add,
// and fires them all with RunDue. Compare its ns/timer with
// BenchmarkNaiveMockTimers1k.
func BenchmarkSchedulerMock100k(b *testing.B) {
	const n = 100_000
	b.ReportAllocs()
	for b.Loop() {
		mock := clock.NewMock()
		fired := 0
		s := NewScheduler(mock, func(int, time.Time) { fired++ })
		start := mock.Now()
		for i := range n {
			s.Arm(i, start.Add(time.Duration(i+1)*time.Millisecond))
		}
		mock.Add(n * time.Millisecond)
		if got := s.RunDue(); got != n || fired != n || s.Len() != 0 {
			b.Fatalf("RunDue fired %d (callback saw %d, %d left), want %d", got, fired, s.Len(), n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/timer")
}

// BenchmarkNaiveMockTimers1k is the baseline the scheduler replaces: one
// clock.Mock AfterFunc timer per key. One op arms 1 000 of them, advances past
// all, and waits until every callback has run. The mock sleeps 1 ms of real
// time per fired timer, so this is slow by design.
func BenchmarkNaiveMockTimers1k(b *testing.B) {
	const n = 1_000
	b.ReportAllocs()
	for b.Loop() {
		mock := clock.NewMock()
		var fired atomic.Int64
		var wg sync.WaitGroup
		wg.Add(n)
		for i := range n {
			mock.AfterFunc(time.Duration(i+1)*time.Millisecond, func() {
				fired.Add(1)
				wg.Done()
			})
		}
		mock.Add(n * time.Millisecond)
		wg.Wait() // AfterFunc callbacks run in goroutines that may outlive Add
		if got := fired.Load(); got != n {
			b.Fatalf("fired %d, want %d", got, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/timer")
}

// BenchmarkSchedulerRearm measures moving one of 100 000 armed deadlines, the
// common operation when a slot's timeout is pushed back on every message.
func BenchmarkSchedulerRearm(b *testing.B) {
	const n = 100_000
	mock := clock.NewMock()
	s := NewScheduler(mock, func(int, time.Time) {})
	start := mock.Now()
	for i := range n {
		s.Arm(i, start.Add(time.Duration(i+1)*time.Millisecond))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Arm(i%n, start.Add(time.Duration(n+i)*time.Millisecond))
		i++
	}
}
