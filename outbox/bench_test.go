package outbox

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/store"
)

// BenchmarkOutboxAppendBolt measures Outbox.Append on the real bbolt store
// with fsync on: the cost a replication machine pays per milestone.
func BenchmarkOutboxAppendBolt(b *testing.B) {
	st := openBolt(b, filepath.Join(b.TempDir(), "state.db"))
	defer st.Close()
	ob, err := New(st, FuncSink(func(context.Context, store.Milestone) error { return nil }), clock.NewMock(), Config{})
	require.NoError(b, err)
	i := 0
	for b.Loop() {
		if _, err := ob.Append(milestone(i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkReplay10k(b *testing.B)  { benchmarkReplay(b, 10_000) }
func BenchmarkReplay100k(b *testing.B) { benchmarkReplay(b, 100_000) }

// benchmarkReplay measures the start-up replay of n pending milestones from
// a real Bolt file into a counting sink, with the default BatchSize. The
// sink samples HeapInuse (peak-heap-B) and the live heap after the latest
// GC (peak-live-B) every 1000 deliveries; both should stay flat as n grows
// because only one batch is in memory at a time. base-heap-B is HeapInuse
// after a forced GC just before the replay; open-ms is OpenBolt's share
// (it validates the whole file).
func benchmarkReplay(b *testing.B, n int) {
	var peak, peakLive, base uint64
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var openTime time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "state.db")
		fillBolt(b, path, n)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base = max(base, ms.HeapInuse)
		b.StartTimer()

		t0 := time.Now()
		st := openBolt(b, path) // validates the whole file: part of a restart
		openTime += time.Since(t0)
		count := 0
		sink := FuncSink(func(context.Context, store.Milestone) error {
			count++
			if count%1000 == 0 {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
				metrics.Read(live) // heap marked live by the latest GC
				peakLive = max(peakLive, live[0].Value.Uint64())
			}
			return nil
		})
		ob, err := New(st, sink, clock.NewMock(), Config{})
		if err != nil {
			b.Fatal(err)
		}
		delivered, err := ob.DeliverPending(context.Background())
		if err != nil || delivered != n || count != n {
			b.Fatalf("delivered %d (sink saw %d) of %d: %v", delivered, count, n, err)
		}

		b.StopTimer()
		if left, _ := st.PendingCount(); left != 0 {
			b.Fatalf("%d left pending", left)
		}
		require.NoError(b, st.Close())
		b.StartTimer()
	}
	b.ReportMetric(float64(peak), "peak-heap-B")
	b.ReportMetric(float64(peakLive), "peak-live-B")
	b.ReportMetric(float64(base), "base-heap-B")
	b.ReportMetric(float64(openTime.Milliseconds())/float64(b.N), "open-ms")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/milestone")
}

// fillBolt writes n pending milestones in transactions of 10k.
func fillBolt(b *testing.B, path string, n int) {
	st := openBolt(b, path)
	defer st.Close()
	const chunk = 10_000
	batch := make([]store.Milestone, 0, chunk)
	for i := range n {
		m := milestone(i)
		m.At = time.Unix(int64(1700000000+i), 0)
		m.Attrs = map[string]string{"session": fmt.Sprint(i), "offset": fmt.Sprint(i * 4096)}
		batch = append(batch, m)
		if len(batch) == chunk || i == n-1 {
			if _, err := st.AppendMilestones(batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}
