package observe

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/slot"
)

// Namespace prefixes every metric this package exports.
const Namespace = "replsm"

// ShardLabel is the label that names a shard (its slot id, "3").
const ShardLabel = "shard"

// ErrDuplicateMetric is returned by AddShardMetrics for a name already
// exported (by this package or an earlier AddShardMetrics).
var ErrDuplicateMetric = errors.New("observe: duplicate metric name")

// ErrInvalidMetric is returned by AddShardMetrics for a metric without a
// valid name or help, or a values function that is nil.
var ErrInvalidMetric = errors.New("observe: invalid metric")

// eventIndex numbers the events of a spec, so per-event counters are a
// fixed array indexed without a map on the hot path beyond one lookup.
type eventIndex[E ~string] struct {
	names []E
	index map[E]int
}

func newEventIndex[E ~string](events []E) eventIndex[E] {
	ix := eventIndex[E]{index: map[E]int{}}
	for _, e := range events {
		if _, dup := ix.index[e]; dup {
			continue
		}
		ix.index[e] = len(ix.names)
		ix.names = append(ix.names, e)
	}
	return ix
}

// slotEvents counts one slot's transitions by event. The last element
// counts events the spec does not name (none today; a later spec change
// must not grow the label set without bound).
type slotEvents struct {
	n []atomic.Uint64
}

// ShardMetric is a per-shard metric an embedding adds with
// AddShardMetrics: name without the namespace ("redis_offset_bytes"
// becomes replsm_redis_offset_bytes), help text, and whether it is a gauge
// or a counter.
type ShardMetric struct {
	Name string
	Help string
	Type prometheus.ValueType
}

// ShardValues fills out (one value per ShardMetric, in order) for the
// shard st describes and reports whether the shard has values at all (a
// shard the embedding does not know is skipped). It runs at scrape time,
// once per shard, without any slot lock held.
type ShardValues func(st slot.Status, out []float64) bool

type extraSet struct {
	names  []string
	descs  []*prometheus.Desc
	types  []prometheus.ValueType
	values ShardValues
}

// Metrics is a prometheus.Collector for one replica.Instance and its
// slots. Everything but transition counts is read from the instance's
// Status at scrape time, so a transition costs the metrics nothing but
// the per-event counter its observer bumps (SlotObserver,
// InstanceObserver).
//
// Labels are bounded: shard (one per configured slot), state (the spec's
// states) and event (the spec's events).
type Metrics struct {
	mu   sync.RWMutex
	inst *replica.Instance

	slotEv slotEvIndex
	instEv eventIndex[replica.Event]
	// bySlot holds each slot's event counters; entries of slots no longer
	// in the instance are dropped at scrape.
	bySlot  counterTable
	instEvN []atomic.Uint64
	slotSts []slot.State
	instSts []replica.State
	extras  []extraSet
	names   map[string]bool
	help    map[string]string // short name -> help, for WriteText
	d       descs
}

type slotEvIndex = eventIndex[slot.Event]

type descs struct {
	slotState, slotStateSeconds, slotTransitions, slotFailures, slotRecoveries,
	slotExhaustions, slotProbes, slotFullSyncs, slotPartialSyncs, slotBusy,
	slotStale, slotJournalErr, slotBudget, slotCap, slotExhausted, slotFullDue,
	slots, instState, instStateSeconds, instTransitions, instBudget, instCap,
	instExhausted, linkUp *prometheus.Desc
}

// New returns Metrics for the slot and instance machines of this build.
// Attach the instance once it exists; until then a scrape reports only
// the transition counters seen so far.
func New() *Metrics {
	m := &Metrics{names: map[string]bool{}, help: map[string]string{}}
	sspec := slot.Spec(slot.DefaultConfig())
	for _, st := range sspec.States {
		m.slotSts = append(m.slotSts, st.Name)
	}
	var sev []slot.Event
	for _, t := range sspec.Transitions {
		sev = append(sev, t.Event)
	}
	m.slotEv = newEventIndex(sev)
	m.bySlot.width = len(m.slotEv.names) + 1
	ispec := replica.Spec(replica.DefaultConfig())
	for _, st := range ispec.States {
		m.instSts = append(m.instSts, st.Name)
	}
	var iev []replica.Event
	for _, t := range ispec.Transitions {
		iev = append(iev, t.Event)
	}
	m.instEv = newEventIndex(iev)
	m.instEvN = make([]atomic.Uint64, len(m.instEv.names)+1)

	sh := []string{ShardLabel}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		m.names[name] = true
		m.help[name] = help
		return prometheus.NewDesc(Namespace+"_"+name, help, labels, nil)
	}
	m.d = descs{
		slotState:        desc("slot_state", "1 for the state the shard's slot machine is in, 0 for the others.", ShardLabel, "state"),
		slotStateSeconds: desc("slot_state_seconds", "How long the shard has been in its current state.", sh...),
		slotTransitions:  desc("slot_transitions_total", "Transitions of the shard's slot machine, by event.", ShardLabel, "event"),
		slotFailures:     desc("slot_failures_total", "Entries of the shard into Error.", sh...),
		slotRecoveries:   desc("slot_recoveries_total", "Recoveries of the shard from Error to NoConnect.", sh...),
		slotExhaustions:  desc("slot_exhaustions_total", "Times the shard ran out of its recovery budget.", sh...),
		slotProbes:       desc("slot_probes_total", "Reachability probes asked for while the shard was in Error.", sh...),
		slotFullSyncs:    desc("slot_full_syncs_total", "Full syncs (snapshots) the shard completed.", sh...),
		slotPartialSyncs: desc("slot_partial_syncs_total", "Incremental syncs the primary accepted for the shard.", sh...),
		slotBusy:         desc("slot_busy_retries_total", "Busy replies (-LOADING, -MASTERDOWN) the shard answered by asking again.", sh...),
		slotStale:        desc("slot_stale_dropped_total", "Replies and data for a session that was no longer live, dropped.", sh...),
		slotJournalErr:   desc("slot_journal_errors_total", "Records the journal failed to persist.", sh...),
		slotBudget:       desc("slot_budget_remaining", "Recovery attempts the shard has left in its current stable period.", sh...),
		slotCap:          desc("slot_budget_cap", "Recovery attempts per stable period.", sh...),
		slotExhausted:    desc("slot_exhausted", "1 while the shard's recovery budget is spent (slow cadence), else 0.", sh...),
		slotFullDue:      desc("slot_full_sync_due", "1 when the shard's next sync request is a full sync.", sh...),
		slots:            desc("slots", "Shards in each state of the slot machine.", "state"),
		instState:        desc("instance_state", "1 for the state the instance machine is in, 0 for the others.", "state"),
		instStateSeconds: desc("instance_state_seconds", "How long the instance has been in its current state."),
		instTransitions:  desc("instance_transitions_total", "Transitions of the instance machine, by event.", "event"),
		instBudget:       desc("instance_budget_remaining", "Recovery attempts the instance has left in its current stable period."),
		instCap:          desc("instance_budget_cap", "Instance recovery attempts per stable period."),
		instExhausted:    desc("instance_exhausted", "1 while the instance's recovery budget is spent, else 0."),
		linkUp:           desc("link_up", "1 when the instance is Connected and every shard not Detached is Connected."),
	}
	return m
}

// Attach makes m report in. Call it once, after replica.New.
func (m *Metrics) Attach(in *replica.Instance) {
	m.mu.Lock()
	m.inst = in
	m.mu.Unlock()
}

// SlotObserver counts shard transitions by event; put it in
// slot.Options.Observers.
func (m *Metrics) SlotObserver() slot.Observer { return m.observeSlot }

func (m *Metrics) observeSlot(r slot.Record) {
	c := m.bySlot.get(r.ID)
	i, ok := m.slotEv.index[r.Event]
	if !ok {
		i = len(m.slotEv.names)
	}
	c.n[i].Add(1)
}

// InstanceObserver counts instance transitions by event; put it in
// replica.Options.Observers.
func (m *Metrics) InstanceObserver() func(replica.Record) {
	return func(r replica.Record) {
		i, ok := m.instEv.index[r.Event]
		if !ok {
			i = len(m.instEv.names)
		}
		m.instEvN[i].Add(1)
	}
}

// AddShardMetrics adds per-shard metrics an embedding knows and the core
// does not (offsets, lag, transfer progress). values is called once per
// shard per scrape. The metrics carry the shard label only.
func (m *Metrics) AddShardMetrics(metrics []ShardMetric, values ShardValues) error {
	if values == nil {
		return fmt.Errorf("%w: nil values function", ErrInvalidMetric)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	set := extraSet{values: values}
	seen := map[string]bool{}
	for _, sm := range metrics {
		switch {
		case sm.Name == "" || sm.Help == "":
			return fmt.Errorf("%w: %q needs a name and help", ErrInvalidMetric, sm.Name)
		case sm.Type != prometheus.GaugeValue && sm.Type != prometheus.CounterValue:
			return fmt.Errorf("%w: %q must be a gauge or a counter", ErrInvalidMetric, sm.Name)
		case m.names[sm.Name] || seen[sm.Name]:
			return fmt.Errorf("%w: %s_%s", ErrDuplicateMetric, Namespace, sm.Name)
		}
		seen[sm.Name] = true
		if !metricName.MatchString(sm.Name) {
			return fmt.Errorf("%w: %q is not a Prometheus metric name ([a-zA-Z_][a-zA-Z0-9_]*)", ErrInvalidMetric, sm.Name)
		}
		d := prometheus.NewDesc(Namespace+"_"+sm.Name, sm.Help, []string{ShardLabel}, nil)
		set.descs = append(set.descs, d)
		set.names = append(set.names, sm.Name)
		set.types = append(set.types, sm.Type)
	}
	for _, sm := range metrics {
		m.names[sm.Name] = true
		m.help[sm.Name] = sm.Help
	}
	m.extras = append(m.extras, set)
	return nil
}

// metricName is the classic metric name syntax, without colons (those are
// for recording rules). WriteText writes names unquoted, so it must hold.
var metricName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.d.slotState, m.d.slotStateSeconds, m.d.slotTransitions, m.d.slotFailures,
		m.d.slotRecoveries, m.d.slotExhaustions, m.d.slotProbes, m.d.slotFullSyncs, m.d.slotPartialSyncs, m.d.slotBusy,
		m.d.slotStale, m.d.slotJournalErr, m.d.slotBudget, m.d.slotCap, m.d.slotExhausted, m.d.slotFullDue, m.d.slots,
		m.d.instState, m.d.instStateSeconds, m.d.instTransitions, m.d.instBudget, m.d.instCap, m.d.instExhausted, m.d.linkUp} {
		ch <- d
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, e := range m.extras {
		for _, d := range e.descs {
			ch <- d
		}
	}
}

// Collect implements prometheus.Collector: one Info of the instance, read
// now.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.RLock()
	inst, extras := m.inst, m.extras
	m.mu.RUnlock()
	m.collectInstanceEvents(ch)
	if inst == nil {
		return
	}
	info := inst.Info()
	m.collectInstance(ch, info)
	counts := make(map[slot.State]int, len(m.slotSts))
	live := make(map[slot.ID]bool, len(info.Slots))
	bufs := make([][]float64, len(extras))
	for i, e := range extras {
		bufs[i] = make([]float64, len(e.descs))
	}
	for i := range info.Slots {
		st := &info.Slots[i]
		counts[st.State]++
		id := strconv.Itoa(int(st.ID))
		live[st.ID] = true
		m.collectSlot(ch, st, id)
		for k, e := range extras {
			out := bufs[k]
			clear(out)
			if !e.values(*st, out) {
				continue
			}
			for j, d := range e.descs {
				ch <- prometheus.MustNewConstMetric(d, e.types[j], out[j], id)
			}
		}
	}
	for _, s := range m.slotSts {
		ch <- prometheus.MustNewConstMetric(m.d.slots, prometheus.GaugeValue, float64(counts[s]), string(s))
	}
	// Forget the counters of slots removed since (bounded by what is
	// configured, not by what ever was).
	m.bySlot.prune(live)
}

func (m *Metrics) collectInstanceEvents(ch chan<- prometheus.Metric) {
	for i, e := range m.instEv.names {
		if n := m.instEvN[i].Load(); n > 0 {
			ch <- prometheus.MustNewConstMetric(m.d.instTransitions, prometheus.CounterValue, float64(n), string(e))
		}
	}
	if n := m.instEvN[len(m.instEv.names)].Load(); n > 0 {
		ch <- prometheus.MustNewConstMetric(m.d.instTransitions, prometheus.CounterValue, float64(n), "other")
	}
}

func (m *Metrics) collectInstance(ch chan<- prometheus.Metric, info replica.Info) {
	for _, s := range m.instSts {
		ch <- prometheus.MustNewConstMetric(m.d.instState, prometheus.GaugeValue, b2f(info.State == s), string(s))
	}
	ch <- prometheus.MustNewConstMetric(m.d.instStateSeconds, prometheus.GaugeValue, info.InState.Seconds())
	ch <- prometheus.MustNewConstMetric(m.d.instBudget, prometheus.GaugeValue, float64(info.AttemptsLeft))
	ch <- prometheus.MustNewConstMetric(m.d.instCap, prometheus.GaugeValue, float64(info.Cap))
	ch <- prometheus.MustNewConstMetric(m.d.instExhausted, prometheus.GaugeValue, b2f(info.Exhausted))
	ch <- prometheus.MustNewConstMetric(m.d.linkUp, prometheus.GaugeValue, b2f(info.LinkUp))
}

func (m *Metrics) collectSlot(ch chan<- prometheus.Metric, st *slot.Status, id string) {
	for _, s := range m.slotSts {
		ch <- prometheus.MustNewConstMetric(m.d.slotState, prometheus.GaugeValue, b2f(st.State == s), id, string(s))
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, id)
	}
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), id)
	}
	gauge(m.d.slotStateSeconds, st.InState.Seconds())
	s := st.Stats
	counter(m.d.slotFailures, s.Failures)
	counter(m.d.slotRecoveries, s.Recoveries)
	counter(m.d.slotExhaustions, s.Exhaustions)
	counter(m.d.slotProbes, s.Probes)
	counter(m.d.slotFullSyncs, s.FullSyncs)
	counter(m.d.slotPartialSyncs, s.PartialSyncs)
	counter(m.d.slotBusy, s.BusyRetries)
	counter(m.d.slotStale, s.StaleDropped)
	counter(m.d.slotJournalErr, s.JournalErrors)
	gauge(m.d.slotBudget, float64(st.AttemptsLeft))
	gauge(m.d.slotCap, float64(st.Cap))
	gauge(m.d.slotExhausted, b2f(st.Exhausted))
	gauge(m.d.slotFullDue, b2f(st.FullSyncDue))
	if c := m.bySlot.load(st.ID); c != nil {
		for i, e := range m.slotEv.names {
			if n := c.n[i].Load(); n > 0 {
				ch <- prometheus.MustNewConstMetric(m.d.slotTransitions, prometheus.CounterValue, float64(n), id, string(e))
			}
		}
		if n := c.n[len(m.slotEv.names)].Load(); n > 0 {
			ch <- prometheus.MustNewConstMetric(m.d.slotTransitions, prometheus.CounterValue, float64(n), id, "other")
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
