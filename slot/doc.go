// Package slot is the replica-side replication machine of one shard.
//
// A Slot moves through NoConnect, TryConnect/TryDBSync, WaitReply,
// WaitDBSync, Connected, Error and Detached as docs/DESIGN.md's table says.
// Its state, live session, retry budget, counters and single armed deadline
// change together under one mutex (its host.Host); nothing is shared
// between slots on the transition path. What a transition decides — send a
// sync request, close a session, probe an endpoint, report exhaustion, hand
// records to the journal, observers and log/slog — runs after the mutex is
// released, in the order it was decided, so a Driver or an Observer may call
// straight back into the slot.
//
// Every reply carries the session it answers; a reply for any other session
// changes nothing and returns ErrStaleSession. Error is never a dead end:
// the slot recovers after a backoff while its budget lasts, escalates to a
// full sync after FullSyncAfter failed incremental attempts, and when the
// budget is gone says so once (ERROR log, Stats.Exhaustions,
// Options.OnExhausted) and keeps trying every ExhaustedRetry. After a
// failure that never reached the primary, a Driver that is also a Prober is
// asked for cheap reachability probes, and the first that answers recovers
// the slot at once. A primary that answers "busy" (Busy) is asked again
// after BusyPoll without spending budget.
//
// Time comes from the Runtime's clock and every timer lives in the
// runtime's one deadline heap. Tests use a *clock.Mock, advance it, and call
// Runtime.RunDue; servers call Runtime.Start.
//
//	rt, _ := slot.NewRuntime(slot.Options{Clock: clock.New(), Driver: myDriver})
//	cfg := slot.DefaultConfig()
//	s, _ := rt.NewSlot(3, "10.0.0.7:6379", &cfg)
//	s.LinkUp()                    // -> TryConnect -> WaitReply, Driver.Sync called
//	s.SyncOK(req.Session)         // the primary's reply -> Connected
//	s.Data(req.Session)           // keeps the keepalive timer quiet
//
// The primary side (followers, shared snapshots) is package follower.
package slot
