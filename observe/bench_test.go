package observe

import (
	"bytes"
	"io"
	"log/slog"
	"strconv"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/slot"
)

type nopDriver struct{}

func (nopDriver) Sync(slot.Request) error             { return nil }
func (nopDriver) Close(slot.ID, slot.Session, string) {}
func (nopDriver) MetaSync(replica.MetaRequest) error  { return nil }
func (nopDriver) MetaClose(slot.Session, string)      {}

// benchSlot mirrors slot's BenchmarkSlotTransition set-up: one slot on a
// real clock, a logger that discards, and the given observers.
func benchSlot(b *testing.B, obs ...slot.Observer) *slot.Slot {
	b.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))
	rt, err := slot.NewRuntime(slot.Options{Clock: clock.New(), Driver: nopDriver{}, Logger: logger, Observers: obs})
	require.NoError(b, err)
	cfg := slot.DefaultConfig()
	s, err := rt.NewSlot(1, "", &cfg)
	require.NoError(b, err)
	return s
}

func toggle(b *testing.B, s *slot.Slot, i int) {
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

// BenchmarkSlotTransition is slot's benchmark of the same name (a detach or
// resume through the full slot path) with no observer, with the metrics
// observer, and with the alternative this package does not take: gauge and
// counter vectors updated on every transition. Compare with
//
//	go test -run '^$' -bench SlotTransition -count 6 -cpu 2 ./observe/ | benchstat -col /observer -
func BenchmarkSlotTransition(b *testing.B) {
	run := func(b *testing.B, obs ...slot.Observer) {
		s := benchSlot(b, obs...)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			toggle(b, s, i)
		}
	}
	b.Run("observer=none", func(b *testing.B) { run(b) })
	b.Run("observer=metrics", func(b *testing.B) { run(b, New().SlotObserver()) })
	b.Run("observer=gaugevec", func(b *testing.B) {
		state := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "s", Help: "h"}, []string{"shard", "state"})
		trans := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "t", Help: "h"}, []string{"shard", "event"})
		run(b, func(r slot.Record) {
			id := r.ID
			state.WithLabelValues(id, string(r.From)).Set(0)
			state.WithLabelValues(id, string(r.To)).Set(1)
			trans.WithLabelValues(id, string(r.Event)).Inc()
		})
	})
}

// bigInstance builds an instance with n slots, each with some transitions
// counted, and Metrics attached.
func bigInstance(tb testing.TB, n int) (*replica.Instance, *Metrics) {
	tb.Helper()
	m := New()
	in, err := replica.New(replica.Options{
		Slot:       slot.Options{Clock: clock.NewMock(), Driver: nopDriver{}, Observers: []slot.Observer{m.SlotObserver()}},
		Driver:     nopDriver{},
		Config:     replica.DefaultConfig(),
		SlotConfig: slot.DefaultConfig(),
		Observers:  []func(replica.Record){m.InstanceObserver()},
	})
	require.NoError(tb, err)
	for i := 0; i < n; i++ {
		s, err := in.AddSlot(slot.ID(i), "127.0.0.1:"+strconv.Itoa(7000+i%100))
		require.NoError(tb, err)
		_, err = s.Detach("t")
		require.NoError(tb, err)
		_, err = s.Resume("t")
		require.NoError(tb, err)
	}
	m.Attach(in)
	return in, m
}

// BenchmarkScrape16k is one full scrape of an instance with 16 384 slots:
// Gather (Collect, sort, check) and text encoding, as promhttp does it.
// Target: under 100 ms per op.
func BenchmarkScrape16kGather(b *testing.B) {
	_, m := bigInstance(b, 16384)
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	var size int
	b.ReportAllocs()
	for b.Loop() {
		mfs, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				b.Fatal(err)
			}
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(size), "bytes/scrape")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/scrape")
}

// BenchmarkScrape16k is one scrape of an instance with 16 384 slots the way
// Handler serves it (WriteText). Target: under 100 ms per op.
// BenchmarkScrape16kGather is the same through Registry.Gather, for
// comparison.
func BenchmarkScrape16k(b *testing.B) {
	_, m := bigInstance(b, 16384)
	var n countingWriter
	b.ReportAllocs()
	for b.Loop() {
		n = 0
		if err := m.WriteText(&n); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n), "bytes/scrape")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/scrape")
}

// countingWriter stands in for the connection: it counts what it is given.
type countingWriter int

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}
