// Package replica is the instance-level replication machine of a replica
// server and the owner of its shards (slots).
//
// The instance moves NoConnect → Connect → Connecting → Connected as the
// meta handshake goes, and only when it is Connected do its slots start.
// A lost link returns it to Connect (every slot to NoConnect); a fatal
// mismatch sends it to Error, which — like a slot's Error — recovers on a
// backed-off timer with a capped budget, then at the slow ExhaustedRetry
// cadence; RemoveMaster ("slaveof no one") returns it to NoConnect from
// anywhere. SlaveOf to the master already followed changes nothing; to
// another master, RemoveMaster and Reset refill every shard's budget. The link is up when the instance is
// Connected and every slot that is not Detached is Connected.
//
// Both deployment shapes fit: one master serving every shard (a Pika-style
// meta handshake, then per-shard syncs over it), and one endpoint per shard
// (each slot carries its own endpoint; the meta step only checks them).
//
// An embedding implements Driver (meta handshake) and slot.Driver (per-slot
// sync requests) — the bytes on the wire — and reports what its peers say
// through MetaOK/Fatal/LinkLost and the slots' SyncOK/DBSyncStarted/... calls.
// Info returns the status as data; the embedding renders it (the Redis one
// prints INFO replication). The instance and its slots share one
// slot.Runtime: one clock, one deadline heap, one session counter.
package replica
