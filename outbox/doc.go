// Package outbox delivers milestones (store.Milestone: full sync completed,
// shard exhausted, instance error, ...) to a receiver at least once, even
// across crashes: the pattern Neon's storage controller uses for its import
// notifications (persist, replay un-acked notifications at start, acks,
// backoff, circuit breaker, idempotency).
//
// The flow:
//
//  1. Append writes the milestone durably into a store.Store (fsync with
//     store.Bolt) and wakes the deliverer. It never calls the receiver, so
//     the replication machines can emit milestones right where the
//     transition happens.
//  2. The deliverer (Start) first replays every milestone left pending by
//     earlier runs, then delivers new ones, strictly in creation order and
//     BatchSize at a time, so a large backlog costs one batch of memory.
//  3. A Sink accepting a milestone (nil error) acks it: the store deletes
//     it (one transaction per batch). If the process dies after delivery
//     but before the ack, the milestone is delivered again after restart.
//     Every milestone carries a stable Key (HTTPSink sends it as the
//     Idempotency-Key header) so receivers can drop duplicates.
//  4. A failure holds back later milestones (head of line) and is retried
//     after Config.Backoff, growing per consecutive failure. After
//     BreakerFailures in a row the circuit breaker opens (WARN "breaker
//     open"), waits BreakerCooldown, then sends one probe (half-open);
//     success closes it and the backlog drains, failure re-opens it.
//     Nothing is dropped.
//  5. A backlog above BacklogWarn logs a warning once per crossing and is
//     visible in Stats.
//
// All waiting uses the injected clock, so tests drive it with clock.NewMock.
// DeliverPending runs one delivery pass synchronously, for tests and for
// embeddings that schedule delivery themselves.
//
//	st, _ := store.OpenBolt(path, store.BoltOptions{})
//	sink, _ := outbox.NewHTTPSink("https://control-plane/milestones", nil)
//	ob, _ := outbox.New(st, sink, clock.New(), outbox.DefaultConfig())
//	ob.Start()
//	defer ob.Stop()
//	ob.Append(store.Milestone{Key: "slot/3/full_sync_completed/session/7", Kind: "full_sync_completed", Slot: "slot/3"})
package outbox
