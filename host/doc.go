// Package host is the machinery every replsm machine shares, written once:
// the per-machine lock, the fsm.Machine, the mailbox that hands records and
// effects out after the lock in order, the single armed deadline in the
// runtime's one deadline heap, and the Error policy (backoff while the
// recovery budget lasts, exhaustion reported once per episode, a slow retry
// cadence after it, reachability probes for failures that never reached the
// peer).
//
// The shard machine (slot), the instance machine (replica) and the
// primary's follower machine (follower) each embed a Host and add only what
// is theirs: their states, their events and their effects. A machine
// decides under its lock and acts after it: Entered runs under the lock and
// queues effects with Queue; UnlockAndFlush releases the lock and then, per
// transition, journals the record, logs it, tells the observers, and carries
// out the effects, in that order: durable before visible, no I/O under any
// lock. The "The machine host" section of docs/DESIGN.md has the design.
//
// Usage, inside a machine package:
//
//	type Thing struct {
//		host.Host[State, Event]
//		...
//	}
//	t.Init(rt, def, "thing/1", t, &kind) // t implements host.Owner
//	t.Mu.Lock()
//	t.Fire(EvGo, "because")
//	t.UnlockAndFlush()
package host
