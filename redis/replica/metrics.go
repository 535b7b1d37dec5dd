package replica

import (
	"crypto/rand"
	"encoding/hex"
	"maps"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/replsm/replsm/observe"
	"github.com/replsm/replsm/outbox"
	"github.com/replsm/replsm/slot"
)

// Metrics are the core's metrics of this replica's instance and shards
// (package observe) with the Redis embedding's per-shard ones added.
// Serve them with observe.Handler(reg, r.Metrics()), with r.Collector()
// registered in reg.
func (r *Replica) Metrics() *observe.Metrics { return r.metrics }

// Config is the configuration the replica runs with (after New's
// defaults), for a live statechart's timer labels.
func (r *Replica) Config() Config {
	c := r.cfg
	c.Shards = maps.Clone(c.Shards)
	return c
}

// Feed is the replica's last transitions, for the status page.
func (r *Replica) Feed() *observe.Feed { return r.feed }

// redisShardMetrics are the per-shard metrics only this embedding knows,
// in the order shardValues fills them.
var redisShardMetrics = []observe.ShardMetric{
	{Name: "redis_offset_bytes", Help: "Replication offset the shard's data stands at (slave_repl_offset).", Type: prometheus.GaugeValue},
	{Name: "redis_lag_bytes", Help: "Primary offset at the last lag probe minus the shard offset; -1 without a sample (LagProbeInterval 0) or while not Connected.", Type: prometheus.GaugeValue},
	{Name: "redis_lag_seconds", Help: "How long ago the primary was at the first offset the shard has not reached (0 when caught up with the last probe); -1 without a sample.", Type: prometheus.GaugeValue},
	{Name: "redis_applied_commands_total", Help: "Write commands applied from the replication stream.", Type: prometheus.CounterValue},
	{Name: "redis_sessions_total", Help: "Connections made to the shard's primary.", Type: prometheus.CounterValue},
	{Name: "redis_keys", Help: "Keys in the shard's keyspace, all databases.", Type: prometheus.GaugeValue},
	{Name: "redis_last_full_sync_duration_seconds", Help: "How long the last full sync's transfer and load took.", Type: prometheus.GaugeValue},
	{Name: "redis_last_full_sync_bytes", Help: "Size of the last full sync's snapshot payload.", Type: prometheus.GaugeValue},
	{Name: "redis_sync_in_progress", Help: "1 while a snapshot transfer is in progress.", Type: prometheus.GaugeValue},
	{Name: "redis_sync_total_bytes", Help: "Size of the snapshot being transferred (-1 when EOF-marked, 0 when none).", Type: prometheus.GaugeValue},
	{Name: "redis_sync_read_bytes", Help: "Bytes of the snapshot being transferred read so far.", Type: prometheus.GaugeValue},
	{Name: "redis_last_io_seconds", Help: "Seconds since the last byte from the shard's primary (-1: never).", Type: prometheus.GaugeValue},
}

func (r *Replica) addShardMetrics() error {
	return r.metrics.AddShardMetrics(redisShardMetrics, r.shardValues)
}

// shardValues fills redisShardMetrics' values for one shard, read now.
func (r *Replica) shardValues(st slot.Status, out []float64) bool {
	sh, ok := r.lookup(st.ID)
	if !ok {
		return false
	}
	now := r.clk.Now()
	cur := sh.cursor()
	o := &sh.obs
	out[0] = float64(cur.Offset)
	if b, s, ok := o.lag.lag(cur.Offset, now); ok && st.State == slot.Connected {
		out[1], out[2] = float64(b), s
	} else {
		out[1], out[2] = -1, -1
	}
	out[3] = float64(sh.applied.Load())
	out[4] = float64(sh.sessions.Load())
	out[5] = float64(sh.ks.Len())
	out[6] = float64(o.lastFullDur.Load()) / 1e9
	out[7] = float64(o.lastFullBytes.Load())
	active, total, read := o.transferProgress()
	out[8] = b2f(active)
	out[9], out[10] = float64(total), float64(read)
	out[11] = -1
	if t := sh.lastIO.Load(); t != 0 {
		out[11] = float64(now.UnixNano()-t) / 1e9
	}
	return true
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// onSlotRecord notes when a shard's link went down and came up (INFO's
// master_link_down_since_seconds).
func (r *Replica) onSlotRecord(rec slot.Record) {
	n, err := strconv.Atoi(strings.TrimPrefix(rec.ID, "slot/"))
	if err != nil {
		return
	}
	sh, ok := r.lookup(slot.ID(n))
	if !ok {
		return
	}
	switch {
	case rec.To == slot.Connected && rec.From != slot.Connected:
		sh.obs.upSince.Store(rec.Time.UnixNano())
	case rec.From == slot.Connected && rec.To != slot.Connected:
		sh.obs.downSince.Store(rec.Time.UnixNano())
		sh.obs.lag.reset()
	}
}

// Collector is a prometheus.Collector for what the replica has beyond its
// shards: the milestone outbox (nothing without Config.Notify).
func (r *Replica) Collector() prometheus.Collector { return outboxCollector{r} }

var (
	descOutboxPending   = prometheus.NewDesc("replsm_outbox_pending", "Milestones stored and not yet delivered.", nil, nil)
	descOutboxDelivered = prometheus.NewDesc("replsm_outbox_delivered_total", "Milestones the sink accepted.", nil, nil)
	descOutboxRetries   = prometheus.NewDesc("replsm_outbox_failed_deliveries_total", "Failed delivery attempts (each one is retried).", nil, nil)
	descOutboxConsec    = prometheus.NewDesc("replsm_outbox_consecutive_failures", "Failed delivery attempts since the last success.", nil, nil)
	descOutboxBreaker   = prometheus.NewDesc("replsm_outbox_breaker_state", "1 for the circuit breaker's state, 0 for the others.", []string{"state"}, nil)
	descOutboxWarning   = prometheus.NewDesc("replsm_outbox_backlog_warning", "1 while pending milestones are above the warning threshold.", nil, nil)
)

type outboxCollector struct{ r *Replica }

func (c outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOutboxPending, descOutboxDelivered, descOutboxRetries, descOutboxConsec, descOutboxBreaker, descOutboxWarning} {
		ch <- d
	}
}

func (c outboxCollector) Collect(ch chan<- prometheus.Metric) {
	if c.r.notify == nil {
		return
	}
	st := c.r.notify.ob.Stats()
	ch <- prometheus.MustNewConstMetric(descOutboxPending, prometheus.GaugeValue, float64(st.Pending))
	ch <- prometheus.MustNewConstMetric(descOutboxDelivered, prometheus.CounterValue, float64(st.Delivered))
	ch <- prometheus.MustNewConstMetric(descOutboxRetries, prometheus.CounterValue, float64(st.Failures))
	ch <- prometheus.MustNewConstMetric(descOutboxConsec, prometheus.GaugeValue, float64(st.ConsecutiveFailures))
	for _, s := range []outbox.BreakerState{outbox.BreakerClosed, outbox.BreakerOpen, outbox.BreakerHalfOpen} {
		ch <- prometheus.MustNewConstMetric(descOutboxBreaker, prometheus.GaugeValue, b2f(st.Breaker == s), s.String())
	}
	ch <- prometheus.MustNewConstMetric(descOutboxWarning, prometheus.GaugeValue, b2f(st.BacklogWarning))
}

// newRunID is a random 40-hex-digit id for INFO server's run_id, as Redis
// draws one per process start.
func newRunID() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Lag is how far shard id is behind its primary, from the lag probe (see
// Config.LagProbeInterval); ok is false without a sample or while the
// shard is not Connected.
func (r *Replica) Lag(id slot.ID) (bytes int64, seconds float64, ok bool) {
	sh, found := r.lookup(id)
	if !found || sh.slot.State() != slot.Connected {
		return 0, 0, false
	}
	return sh.obs.lag.lag(sh.cursor().Offset, r.clk.Now())
}
