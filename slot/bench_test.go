package slot

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"testing"

	"github.com/benbjohnson/clock"
	looplab "github.com/looplab/fsm"
)

// BenchmarkLooplabEvent is the baseline: raw looplab Event toggling between
// two states, no callbacks.
func BenchmarkLooplabEvent(b *testing.B) {
	f := looplab.NewFSM(string(NoConnect), looplab.Events{
		{Name: string(EvDetach), Src: []string{string(NoConnect)}, Dst: string(Detached)},
		{Name: string(EvResume), Src: []string{string(Detached)}, Dst: string(NoConnect)},
	}, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ev := string(EvDetach)
		if i%2 == 1 {
			ev = string(EvResume)
		}
		if err := f.Event(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLooplabEventParallel is the baseline for the parallel slot
// benchmark: how far raw looplab scales on this machine, each goroutine on
// its own machine.
func BenchmarkLooplabEventParallel(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		f := looplab.NewFSM(string(NoConnect), looplab.Events{
			{Name: string(EvDetach), Src: []string{string(NoConnect)}, Dst: string(Detached)},
			{Name: string(EvResume), Src: []string{string(Detached)}, Dst: string(NoConnect)},
		}, nil)
		ctx := context.Background()
		for i := 0; pb.Next(); i++ {
			ev := string(EvDetach)
			if i%2 == 1 {
				ev = string(EvResume)
			}
			if err := f.Event(ctx, ev); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

type nopDriver struct{}

func (nopDriver) Sync(Request) error        { return nil }
func (nopDriver) Close(ID, Session, string) {}

func benchRuntime(b *testing.B) *Runtime {
	b.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))
	rt, err := NewRuntime(Options{Clock: clock.New(), Driver: nopDriver{}, Logger: logger,
		Observers: []Observer{func(r Record) {
			if r.Seq == 0 {
				panic("record without sequence number")
			}
		}}})
	if err != nil {
		b.Fatal(err)
	}
	return rt
}

// toggle runs one detach or resume through the full slot path: lock,
// looplab, record, observer, slog at a level that discards.
func toggle(b *testing.B, s *Slot, i int) {
	var err error
	if i%2 == 0 {
		_, err = s.Detach("bench")
	} else {
		_, err = s.Resume("bench")
	}
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSlotTransition is the same toggle through a framework slot.
func BenchmarkSlotTransition(b *testing.B) {
	rt := benchRuntime(b)
	cfg := DefaultConfig()
	s, err := rt.NewSlot(1, "", &cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		toggle(b, s, i)
	}
}

// BenchmarkSlotTransitionParallel gives each goroutine its own slot: with
// no global lock, throughput should scale with cores.
func BenchmarkSlotTransitionParallel(b *testing.B) {
	rt := benchRuntime(b)
	cfg := DefaultConfig()
	next := make(chan ID, 1024)
	for i := 0; i < cap(next); i++ {
		next <- ID(i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		s, err := rt.NewSlot(<-next, "", &cfg)
		if err != nil {
			b.Error(err)
			return
		}
		for i := 0; pb.Next(); i++ {
			toggle(b, s, i)
		}
	})
}

// BenchmarkSlotMemory16k builds 16 384 slots and reports the heap they hold.
func BenchmarkSlotMemory16k(b *testing.B) {
	const n = 16384
	rt := benchRuntime(b)
	cfg := DefaultConfig()
	var perSlot float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		slots := make([]*Slot, n)
		for i := range slots {
			s, err := rt.NewSlot(ID(i), "127.0.0.1:6379", &cfg)
			if err != nil {
				b.Fatal(err)
			}
			slots[i] = s
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perSlot = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(slots)
	}
	b.ReportMetric(perSlot, "B/slot")
}
