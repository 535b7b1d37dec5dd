// Package demo is `make demo`: the Redis embedding under injected faults, in
// one process, on loopback.
//
// It starts N of replsm's Redis primaries and one replsm Redis replica that
// follows all of them (one shard per primary) through a fault proxy each,
// drives a bounded write load, and walks through the faults the framework
// exists for: a cut link, a link stalled past the keepalive timeout, a
// primary restarted without its backlog (a full sync), and a primary kept
// down past the retry cap (the shard exhausts and says so once, probes the
// endpoint instead of spending sync handshakes, and comes back by itself
// within a probe of the primary answering, no operator reset). A status line per second shows every shard;
// every transition is printed as it happens; the summary says, per shard,
// where it ended, how it got there, and whether the replica's digest equals
// its primary's. Run reports success only if every shard converged and every
// digest matches.
package demo
