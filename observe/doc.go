// Package observe is what an operator sees of a running replica without
// reading its log: Prometheus metrics for an instance and its shards
// (Metrics), and the last transitions as they happen (Feed), for the status
// page. It reads the core's status data and records only; it knows nothing
// of any wire protocol, so every embedding gets the same metrics and adds
// its own per-shard ones with Metrics.AddShardMetrics.
//
// The metrics are read from Instance.Info at scrape time; the only work a
// transition does for them is one per-event counter increment in
// SlotObserver (see BenchmarkSlotTransition in this package: the observer
// costs a few percent of a transition, where updating gauge vectors per
// transition would cost more than the transition itself).
package observe
