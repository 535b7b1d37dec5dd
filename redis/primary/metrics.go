package primary

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/replsm/replsm/follower"
)

// Collector is a prometheus.Collector for the primary: its offset, its
// replication counters and, per connected follower (label follower, its
// "ip:port"; bounded by the followers connected now), the follower
// machine's state, acked offset and lag.
func (p *Primary) Collector() prometheus.Collector { return collector{p} }

type collector struct{ p *Primary }

var (
	descOffset       = prometheus.NewDesc("replsm_primary_offset_bytes", "The primary's replication offset (master_repl_offset).", nil, nil)
	descFollowers    = prometheus.NewDesc("replsm_primary_followers", "Followers connected now.", nil, nil)
	descFullSyncs    = prometheus.NewDesc("replsm_primary_full_syncs_total", "PSYNCs answered with +FULLRESYNC.", nil, nil)
	descPartialSyncs = prometheus.NewDesc("replsm_primary_partial_syncs_total", "PSYNCs answered with +CONTINUE.", nil, nil)
	descResumed      = prometheus.NewDesc("replsm_primary_resumed_bytes_total", "Backlog bytes sent to followers that resumed.", nil, nil)
	descSnapStarted  = prometheus.NewDesc("replsm_primary_snapshots_started_total", "Snapshots built for full syncs.", nil, nil)
	descSnapJoined   = prometheus.NewDesc("replsm_primary_snapshots_joined_total", "Full syncs that shared a snapshot already being built.", nil, nil)
	descStaleAcks    = prometheus.NewDesc("replsm_primary_stale_acks_total", "ACKs dropped because their session was no longer live.", nil, nil)
	descFellBehind   = prometheus.NewDesc("replsm_primary_fell_behind_total", "Followers dropped because the stream they needed had left the backlog.", nil, nil)
	descFState       = prometheus.NewDesc("replsm_follower_state", "1 for the state the follower machine is in, 0 for the others.", []string{"follower", "state"}, nil)
	descFAcked       = prometheus.NewDesc("replsm_follower_acked_offset_bytes", "Last offset the follower acknowledged.", []string{"follower"}, nil)
	descFLag         = prometheus.NewDesc("replsm_follower_lag_bytes", "Primary offset minus the follower's acknowledged offset.", []string{"follower"}, nil)
)

var followerStates = []follower.State{follower.NotSync, follower.DBSync, follower.BinlogSync}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOffset, descFollowers, descFullSyncs, descPartialSyncs, descResumed, descSnapStarted,
		descSnapJoined, descStaleAcks, descFellBehind, descFState, descFAcked, descFLag} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	off := c.p.Offset()
	st := c.p.Stats()
	fs := c.p.Followers()
	g := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	n := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	g(descOffset, float64(off))
	g(descFollowers, float64(len(fs)))
	n(descFullSyncs, st.FullSyncs)
	n(descPartialSyncs, st.PartialSyncs)
	n(descResumed, st.ResumedBytes)
	n(descSnapStarted, st.SnapshotsStarted)
	n(descSnapJoined, st.SnapshotsJoined)
	n(descStaleAcks, st.StaleAcks)
	n(descFellBehind, st.FellBehind)
	for _, f := range fs {
		for _, s := range followerStates {
			v := 0.0
			if f.State == s {
				v = 1
			}
			g(descFState, v, f.ID, string(s))
		}
		g(descFAcked, float64(f.AckedOffset), f.ID)
		g(descFLag, float64(max(off-f.AckedOffset, 0)), f.ID)
	}
}
