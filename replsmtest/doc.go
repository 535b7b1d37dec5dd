// Package replsmtest is a test kit for replsm and for servers that embed it,
// in the spirit of etcd raft's rafttest: a scripted peer on a mock clock, one
// call that advances the clock through every due deadline in order, an
// invariant checker, and an explorer that runs thousands of seeded random
// histories against a driver and shrinks any failure to a short script.
//
// # The pieces
//
//   - The scripted peer is sim's (sim.Sim, sim.Driver): it answers sync
//     requests, probes and meta handshakes per peer mode (ok, purged,
//     fullresync, silent, refuse, stall, busy, error, break) on a mock clock.
//   - Advance(clk, d, sources...) moves a mock clock by d, stopping at every
//     deadline of every source (slot.Runtime and host.Runtime are sources:
//     Next and RunDue) and running it at its own time; Settle runs what is
//     due now. The instance, its slots and the followers share one runtime
//     and so one heap: one source drives them all.
//   - Checker checks, after every step: at most one live session per slot
//     and sessions never reused; a reply changes a slot only under its live
//     session; per machine, records contiguous in sequence, each From the
//     previous To, every transition in the machine's spec (slot.Spec,
//     replica.Spec, follower.Spec); after an aborted transfer the next
//     request is a full sync (unless AtomicLoad); budgets within [0, Cap]
//     and at most Cap budgeted recoveries per stable period, plus one for
//     each time the machine came back with its budget spent; no Detached
//     slot sends a request, and no shard asks while the instance is not
//     Connected; each machine's state is its last record's To; a slot's
//     Stats agree with its records; exhaustion is reported once per
//     episode; slaveof to the master followed and repoint to the endpoint
//     followed make no record; WaitSynced callers return by their
//     deadline, and every waiter returns once healed; and liveness: once every
//     peer answers and keeps answering for Bound(p), the instance and every
//     shard that is not Detached are Connected, and a shard probing after
//     an unreached failure leaves Error within a probe interval (plus the
//     probe's answer) of its peer answering. Its methods are observers
//     (SlotRecord, InstanceRecord, FollowerRecord) and driver hooks (Sync,
//     Close), so it fits any harness.
//   - Harness runs script commands (the language of docs/simulate.md) on a
//     simulation wired to a Checker; Property is the explorer as a
//     pgregory.net/rapid property, drawing each step from the current state;
//     RunSeeds and Explore run N seeds, each its own rapid check, so every
//     failing seed is reported and shrunk on its own.
//
// A failure reports the seed, the broken invariants and the minimized
// history as a scenario file: `replsm simulate --script FILE` replays it, and
// it can go under testdata/scenarios as a regression once the bug is fixed.
// `make explore SEEDS=N` runs the explorer from the command line.
//
// # Testing your driver
//
// A driver under test sits between the machines and the scripted peer: Wrap
// gets the peer and returns the driver; the driver sends its requests "over
// the wire" by calling the peer (or a transport that does). Everything else
// (the histories, the checks, the shrinking) is the kit's:
//
//	func TestMyDriver(t *testing.T) {
//		replsmtest.Explore(t, 1, 500, replsmtest.Options{
//			Wrap: func(peer replsmtest.Driver) replsmtest.Driver {
//				return mydriver.New(mydriver.Config{Transport: peer})
//			},
//		})
//	}
//
// A driver that works on goroutines of its own (dials, reads, replies later)
// sets Options.Quiesce to a function that returns once it has nothing in
// flight; the harness calls it after every command.
//
// A failing seed replays alone with replsmtest.Explore(t, seed, 1, opts), or
// with `go test -run TestMyDriver -rapid.seed=S` under rapid.Check(t,
// replsmtest.Property(opts)).
//
// # The bound B
//
// Bound(p) = instance: meta timeout + max(connect backoff max, Error backoff
// max) × (1 + jitter) or the exhausted retry, whichever is longer; plus a
// shard: max(reply timeout, transfer idle timeout) + max(backoff max × (1 +
// jitter), exhausted retry) + busy poll + probe interval + transfer time;
// rounded up to a second, plus one. It assumes a transfer shorter than the
// transfer idle timeout (the scripted peer sends no data during one) and an
// ExhaustedRetry above zero (operator mode has no bound).
package replsmtest
