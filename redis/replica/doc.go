// Package replica is the Redis replica role built on replsm's machines: a
// Replica follows one real Redis primary per shard (the shards of a sharded
// deployment, keys disjoint across them) and serves reads of their union
// over RESP, so redis-cli and client libraries work against it.
//
// The core decides, this package speaks Redis. Each shard is a slot.Slot of
// one core.Instance; the slot says when to ask for a sync, when a reply or
// the data is late, when to back off, recover, escalate to a full sync or
// give up. The Replica carries out its requests (slot.Driver) and reports
// what the primary answered:
//
//	slot asks Sync(session)         dial, PING, REPLCONF listening-port,
//	                                REPLCONF capa eof capa psync2,
//	                                PSYNC <replid> <offset+1> (or ? -1)
//	+CONTINUE [<newid>]          -> slot.SyncOK, then the stream
//	+FULLRESYNC <id> <offset>    -> slot.DBSyncStarted, RDB payload spooled
//	                                at wire speed (slot.Data as bytes
//	                                arrive) and loaded into a new keyspace
//	                                meanwhile, the stream after it spooled
//	                                until the load is in, swapped in whole,
//	                                cursor = (id, offset), slot.DBSyncDone,
//	                                spooled stream applied, then live
//	-LOADING, -MASTERDOWN,
//	-NOMASTERLINK (busy)         -> slot.Busy(session, reason): asked again
//	                                after BusyPoll, no budget spent
//	-ERR, -NOAUTH, EOF, bad RDB, bad RESP, unknown command,
//	read timeout                 -> slot.Fail(session, reason)
//	refused, no route, dial
//	timeout                      -> slot.FailUnreached(session, reason)
//	slot leaves the session      -> Close(session): the connection closes
//	slot in Error probes         -> Probe: connect + PING, any reply is an
//	                                answer (slot.ProbeResult)
//
// The stream is applied command by command to the shard's keyspace with a
// Redis replica's offset accounting (every byte counts; MULTI/EXEC applies
// atomically and moves the offset only at EXEC; REPLCONF GETACK is answered
// with the offset before its own bytes), and REPLCONF ACK <offset> goes back
// every AckPeriod. After a full sync the ACK is repeated every
// StreamStartAckPeriod until the stream's first bytes arrive: a diskless
// Redis 7.0 primary starts streaming only on an ACK that comes after it
// reaped its fork child, and the one sent at the end mark is often early.
// The shard's Cursor (replication id, offset, selected
// database) only advances past data that was applied, so a PSYNC after any
// failure asks for exactly what is missing; a half-loaded RDB is never
// visible.
//
// The instance's meta step checks every endpoint that answers is really a
// primary (ROLE, falling back to INFO replication): one that says it is a
// replica is a fatal topology mismatch. An unreachable endpoint does not
// hold the instance back; its own slot fails and recovers. A shard that
// spends its recovery budget says so once (Config.OnExhausted, INFO,
// REPLSM.INFO) and keeps going: it probes an unreachable primary about once
// a second and is back within a probe of it answering, and retries at the
// slow ExhaustedRetry cadence otherwise. REPLSM.RESET <id> (Replica.Reset)
// refills the budget at once.
//
// Surviving restarts (Config.StateDir). The keyspace lives in memory, so a
// saved cursor alone would let a restarted replica continue on top of an
// empty keyspace. Cursor and data are made durable together, as Redis does
// with its RDB: between two stream values (every SnapshotInterval of
// streaming with writes, every SnapshotBytes of stream, after every full
// sync and at Close) a copy-on-write snapshot of the shard is taken, written
// as an RDB with the cursor in its repl-id/repl-offset aux fields (temporary
// file, fsync, rename, directory fsync), and only then is the cursor
// {replication id, offset, database, file} recorded in the bbolt store
// replsm.db. At start each shard loads its snapshot and cursor and PSYNCs
// from there: +CONTINUE when the primary's backlog covers the gap,
// +FULLRESYNC otherwise. A missing, corrupt or mismatching snapshot makes
// that shard start empty (a full sync) and the log says why; a corrupt or
// unreadable store file, or an unusable directory, makes New fail with a
// message naming the file and what to do, and nothing is overwritten.
//
// Milestones (Config.Notify). The slot and instance machines journal
// their records under their locks; milestone.Journal turns the ones that
// matter (shard connected, full sync completed with its offset, shard
// exhausted, instance error and recovery) into milestones appended to the
// same store, and an outbox.Outbox delivers them afterwards, in order, at
// least once, with backoff and a circuit breaker; milestones a crashed run
// left undelivered are replayed at Start. INFO replsm and Info show the
// backlog, the breaker and a warning above the backlog threshold.
//
// Crash tests stop a child process at the points that matter with
// internal/failpoint (REPLSM_FAILPOINTS); unarmed, the points cost nothing.
//
// A full sync never stops reading the socket, so a primary's output buffer
// for the replica stays small under a write load (docs/fullsync.md): the
// spools hold SpoolMemory in memory and the rest in a file in SpoolDir,
// bounded by MaxPayload and MaxStreamSpool (ErrSpoolFull).
//
// Goroutines: one per live session plus its ticker (ACKs, read timeout)
// and, during a full sync, its loader and stream receiver,
// one per meta step, at most one reachability probe per shard, the read server's, the snapshot writer and the
// outbox's deliverer. Close stops them all and waits.
// A session of a shard starts only after the previous one has exited, so a
// shard's keyspace and cursor have one writer at a time. All timers run on
// the injected clock.
//
// The read port answers GET, MGET, EXISTS, TYPE, TTL, PTTL, STRLEN, LRANGE,
// LLEN, HGET, HGETALL, SMEMBERS, SCARD, ZRANGE [WITHSCORES], ZSCORE, DBSIZE,
// KEYS, SCAN and the keyspace's other reads, plus SELECT, PING, ROLE,
// INFO [replication|keyspace|replsm] and:
//
//	REPLSM.SHARD <id>|ALL   scope this connection's reads (and ROLE, INFO)
//	                        to one shard, or back to the union
//	REPLSM.RESET <id>       operator reset of a shard in Error
//	REPLICAOF host port     re-point the shard in scope at another primary (SLAVEOF too);
//	                        the primary already followed is a no-op; on a promoted
//	                        shard it is a demotion that continues the shard's own history
//	REPLICAOF NO ONE        promote the shard in scope to a writable primary in place,
//	                        keeping the stream it applied (PSYNC2, docs/failover.md)
//	REPLSM.REPLICAOF <id> host port|NO ONE
//	                        the same for a named shard
//	REPLSM.INFO             the core's instance and slot status, and the
//	                        milestone outbox's backlog and breaker
//
// For Redis Sentinel it also serves SUBSCRIBE/UNSUBSCRIBE/PUBLISH
// (redis/pubsub; a PUBLISH read from the replication stream is delivered to
// this replica's subscribers), CLIENT SETNAME/GETNAME/KILL, CONFIG REWRITE
// (+OK) and MULTI ... EXEC, whose commands run one after the other.
// A shard named in Config.Sentinel follows whichever primary the sentinels
// name (sentinel.go, docs/sentinel.md): it holds off a primary being failed
// over from +try-failover, and re-points on +switch-master once the
// announced node's ROLE says master. INFO reports slave_priority 0
// (Config.ReplicaPriority), so Sentinel never promotes it.
//
// Writes answer "-READONLY You can't write against a read only replica.".
//
// Following a Redis Cluster (docs/cluster.md): the Replica is the Target of
// a redis/cluster Follower, which adds, re-points and removes shards at
// runtime (AddShard, RepointShard, RemoveShard) and installs the slot
// routes (SetRoutes); unscoped reads then go to the shard owning the key's
// hash slot, with CROSSSLOT across slots and CLUSTER SLOTS/SHARDS/KEYSLOT/
// INFO answered from what is followed.
package replica
