package observe

import (
	"bytes"
	"io"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/slot"
)

func testInstance(t *testing.T, n int) (*replica.Instance, *Metrics, *clock.Mock, *Feed) {
	t.Helper()
	m := New()
	feed := NewFeed(4)
	clk := clock.NewMock()
	in, err := replica.New(replica.Options{
		Slot:       slot.Options{Clock: clk, Driver: nopDriver{}, Observers: []slot.Observer{m.SlotObserver(), feed.SlotObserver()}},
		Driver:     nopDriver{},
		Config:     replica.DefaultConfig(),
		SlotConfig: slot.DefaultConfig(),
		Observers:  []func(replica.Record){m.InstanceObserver(), feed.InstanceObserver()},
	})
	require.NoError(t, err)
	for i := 0; i < n; i++ {
		_, err := in.AddSlot(slot.ID(i), "")
		require.NoError(t, err)
	}
	m.Attach(in)
	return in, m, clk, feed
}

func parseText(t *testing.T, text []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(text))
	require.NoError(t, err, "%s", text)
	return mfs
}

// sample finds the value of the series of family name with the given labels.
func sample(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	mf, ok := mfs[name]
	require.True(t, ok, "no family %s", name)
	for _, m := range mf.Metric {
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			match = match && found
		}
		if match {
			switch {
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Untyped != nil:
				return m.Untyped.GetValue()
			}
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

func TestMetricsReadStatusAtScrape(t *testing.T) {
	in, m, clk, _ := testInstance(t, 3)
	s1, err := in.Slot(1)
	require.NoError(t, err)
	_, err = s1.Detach("op")
	require.NoError(t, err)
	clk.Add(5 * time.Second)
	var buf bytes.Buffer
	require.NoError(t, m.WriteText(&buf))
	mfs := parseText(t, buf.Bytes())

	assert.Equal(t, 1.0, sample(t, mfs, "replsm_slot_state", "shard", "1", "state", "Detached"))
	assert.Equal(t, 0.0, sample(t, mfs, "replsm_slot_state", "shard", "1", "state", "NoConnect"))
	assert.Equal(t, 1.0, sample(t, mfs, "replsm_slot_state", "shard", "0", "state", "NoConnect"))
	assert.Equal(t, 5.0, sample(t, mfs, "replsm_slot_state_seconds", "shard", "1"))
	assert.Equal(t, 1.0, sample(t, mfs, "replsm_slot_transitions_total", "shard", "1", "event", "detach"))
	assert.Equal(t, 2.0, sample(t, mfs, "replsm_slots", "state", "NoConnect"))
	assert.Equal(t, 1.0, sample(t, mfs, "replsm_slots", "state", "Detached"))
	assert.Equal(t, 1.0, sample(t, mfs, "replsm_instance_state", "state", "NoConnect"))
	assert.Equal(t, float64(slot.DefaultConfig().RecoveryCap), sample(t, mfs, "replsm_slot_budget_remaining", "shard", "2"))
	for name, mf := range mfs {
		if strings.HasSuffix(name, "_total") {
			assert.Equal(t, dto.MetricType_COUNTER, mf.GetType(), name)
		}
	}

	_, err = in.SlaveOf("10.0.0.1:1")
	require.NoError(t, err)
	buf.Reset()
	require.NoError(t, m.WriteText(&buf))
	mfs = parseText(t, buf.Bytes())
	assert.Equal(t, 1.0, sample(t, mfs, "replsm_instance_transitions_total", "event", "slaveof"))
}

// TestWriteTextMatchesCollect: the fast writer and the Collector give the
// same families, series and values.
func TestWriteTextMatchesCollect(t *testing.T) {
	in, m, _, _ := testInstance(t, 4)
	s, err := in.Slot(2)
	require.NoError(t, err)
	_, err = s.Detach("op")
	require.NoError(t, err)
	require.NoError(t, m.AddShardMetrics([]ShardMetric{
		{Name: "test_offset_bytes", Help: "an offset", Type: prometheus.GaugeValue},
		{Name: "test_things_total", Help: "things", Type: prometheus.CounterValue},
	}, func(st slot.Status, out []float64) bool {
		if st.ID == 3 {
			return false
		}
		out[0], out[1] = float64(st.ID)*10, float64(st.ID)+0.5
		return true
	}))
	var direct bytes.Buffer
	require.NoError(t, m.WriteText(&direct))
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m))
	gathered, err := reg.Gather()
	require.NoError(t, err)
	var viaReg bytes.Buffer
	for _, mf := range gathered {
		_, err := expfmt.MetricFamilyToText(&viaReg, mf)
		require.NoError(t, err)
	}
	assert.Equal(t, sortedLines(viaReg.String()), sortedLines(direct.String()))
	mfs := parseText(t, direct.Bytes())
	assert.Equal(t, 20.0, sample(t, mfs, "replsm_test_offset_bytes", "shard", "2"))
	assert.Len(t, mfs["replsm_test_offset_bytes"].Metric, 3, "shard 3 reported no values")
	promtoolCheck(t, direct.Bytes())
}

func sortedLines(s string) []string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	sort.Strings(l)
	return l
}

// promtoolCheck runs `promtool check metrics` (Debian package prometheus)
// on an exposition.
func promtoolCheck(t *testing.T, text []byte) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (make deps installs the prometheus package)")
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics:\n%s", out)
}

func TestAddShardMetricsRejects(t *testing.T) {
	m := New()
	vals := func(slot.Status, []float64) bool { return true }
	assert.ErrorIs(t, m.AddShardMetrics(nil, nil), ErrInvalidMetric)
	assert.ErrorIs(t, m.AddShardMetrics([]ShardMetric{{Name: "x"}}, vals), ErrInvalidMetric)
	assert.ErrorIs(t, m.AddShardMetrics([]ShardMetric{{Name: "bad name", Help: "h", Type: prometheus.GaugeValue}}, vals), ErrInvalidMetric)
	assert.ErrorIs(t, m.AddShardMetrics([]ShardMetric{{Name: "x", Help: "h", Type: prometheus.UntypedValue}}, vals), ErrInvalidMetric)
	assert.ErrorIs(t, m.AddShardMetrics([]ShardMetric{{Name: "slot_state", Help: "h", Type: prometheus.GaugeValue}}, vals), ErrDuplicateMetric)
	require.NoError(t, m.AddShardMetrics([]ShardMetric{{Name: "x", Help: "h", Type: prometheus.GaugeValue}}, vals))
	assert.ErrorIs(t, m.AddShardMetrics([]ShardMetric{{Name: "x", Help: "h", Type: prometheus.GaugeValue}}, vals), ErrDuplicateMetric)
}

func TestRemovedSlotForgotten(t *testing.T) {
	in, m, _, _ := testInstance(t, 2)
	s, _ := in.Slot(1)
	_, err := s.Detach("op")
	require.NoError(t, err)
	require.NoError(t, in.RemoveSlot(1))
	var buf bytes.Buffer
	require.NoError(t, m.WriteText(&buf))
	assert.NotContains(t, buf.String(), `shard="1"`)
	assert.Nil(t, m.bySlot.load(1))
}

func TestFeed(t *testing.T) {
	in, _, _, feed := testInstance(t, 1)
	ch, cancel := feed.Subscribe(16)
	s, _ := in.Slot(0)
	for i := 0; i < 3; i++ {
		_, err := s.Detach("op")
		require.NoError(t, err)
		_, err = s.Resume("op")
		require.NoError(t, err)
	}
	recent := feed.Recent()
	require.Len(t, recent, 4, "keeps the last 4")
	assert.Equal(t, uint64(3), recent[0].Seq)
	assert.Equal(t, uint64(6), recent[3].Seq)
	assert.Equal(t, "resume", recent[3].Event)
	assert.Equal(t, "slot/0", recent[3].ID)
	first := <-ch
	assert.Equal(t, "detach", first.Event)
	cancel()
	cancel() // idempotent
	_, err := s.Detach("op")
	require.NoError(t, err)
}

func TestCounterTable(t *testing.T) {
	for _, tt := range []struct {
		in string
		n  int
		ok bool
	}{{"slot/0", 0, true}, {"slot/16383", 16383, true}, {"slot/", 0, false}, {"slot/x", 0, false}, {"instance", 0, false}, {"slot/1234567890", 0, false}} {
		n, ok := parseSlotID(tt.in)
		assert.Equal(t, tt.ok, ok, tt.in)
		assert.Equal(t, tt.n, n, tt.in)
	}
	tb := counterTable{width: 2}
	a := tb.get("slot/5")
	assert.Same(t, a, tb.get("slot/5"))
	assert.Same(t, a, tb.load(5))
	big := tb.get("slot/2000000") // beyond the dense slice
	assert.Same(t, big, tb.load(2000000))
	assert.Nil(t, tb.load(6))
	tb.prune(map[slot.ID]bool{2000000: true})
	assert.Nil(t, tb.load(5))
	assert.Same(t, big, tb.load(2000000))
	tb.prune(map[slot.ID]bool{})
	assert.Nil(t, tb.load(2000000))
}

// TestScrapeWhileAddingMetrics: scrapes and AddShardMetrics may race.
func TestScrapeWhileAddingMetrics(t *testing.T) {
	_, m, _, _ := testInstance(t, 2)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 20; i++ {
			_ = m.AddShardMetrics([]ShardMetric{{Name: "x" + strconv.Itoa(i), Help: "h", Type: prometheus.GaugeValue}},
				func(slot.Status, []float64) bool { return true })
		}
	}()
	for i := 0; i < 20; i++ {
		require.NoError(t, m.WriteText(io.Discard))
	}
	<-done
}
