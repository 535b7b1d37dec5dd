// Package slot is the replica-side replication machine of one shard, and the
// primary side's view of its followers.
//
// A Slot moves through NoConnect, TryConnect/TryDBSync, WaitReply,
// WaitDBSync, Connected, Error and Detached as DESIGN.md's table says. Its
// state, live session id, retry budget, counters and single armed deadline
// change together under one mutex; nothing is shared between slots on the
// transition path. What a transition decides — send a sync request, close a
// session, report exhaustion, hand records to observers and log/slog — runs
// after the mutex is released, in the order it was decided, so a Driver or an
// Observer may call straight back into the slot.
//
// Every session-bearing reply carries the session id it answers. A reply for
// any other session changes nothing: it is dropped, counted and reported as
// ErrStaleSession. Error is never a dead end: the slot recovers to NoConnect
// after a backoff (timeouts.Backoff, jitter drawn from a per-slot stream) as
// long as its budget lasts, escalates to a full sync after FullSyncAfter
// failed incremental attempts, and when the budget is gone says so (ERROR
// log, Stats.Exhaustions, Options.OnExhausted) and waits for Reset.
//
// Time comes from the Runtime's clock and all timers live in one
// timeouts.Scheduler. Tests use a *clock.Mock, advance it, and call
// Runtime.Scheduler().RunDue(); servers call Runtime.Start.
//
//	rt, _ := slot.NewRuntime(slot.Options{Clock: clock.New(), Driver: myDriver})
//	cfg := slot.DefaultConfig()
//	s, _ := rt.NewSlot(3, "10.0.0.7:6379", &cfg)
//	s.LinkUp()                    // -> TryConnect -> WaitReply, Driver.Sync called
//	s.SyncOK(req.Session)         // the primary's reply -> Connected
//	s.Data(req.Session)           // keeps the keepalive timer quiet
//
// Followers and Snapshots are the primary side: one follower machine per
// follower (NotSync -> DBSync -> BinlogSync -> Removed) and one snapshot
// shared by concurrent full-sync requests.
package slot
