// Package primary is a Redis-protocol primary built on replsm's primary-side
// machines: real redis-server replicas (and replsm's own Redis replica)
// follow it exactly as they follow a Redis 7.0 primary.
//
// # Serving
//
// A Primary serves RESP clients (redis/server) and executes their commands
// on an in-memory keyspace (redis/keyspace): strings, lists, hashes, sets
// and sorted sets with TTLs, SELECT, FLUSHDB, SCAN, MULTI/EXEC, plus INFO
// replication and ROLE in Redis's own field names. Writes are propagated as
// Redis 7.0 propagates them: relative expiries become absolute (SET ... EX
// streams as SET ... PXAT, EXPIRE as PEXPIREAT), GETSET as SET, a command
// that changed nothing is not streamed, a SELECT precedes any command whose
// database differs from the stream's, and one call that propagates several
// commands (a write plus the DEL of the expired key it found, a
// transaction) is wrapped in MULTI ... EXEC. Keys whose TTL passes are
// deleted by an active expire cycle and streamed as DEL.
//
// For Redis Sentinel it also serves SUBSCRIBE/UNSUBSCRIBE/PUBLISH
// (redis/pubsub; a PUBLISH is delivered here and streamed to the
// followers), CLIENT SETNAME/GETNAME/KILL, CONFIG REWRITE (+OK) and
// REPLICAOF NO ONE (+OK), also queued in MULTI, where a transaction
// holding one of them runs command by command at EXEC.
//
// # The stream
//
// The primary keeps a 40-character replication id, a byte offset, and a
// ring backlog (Config.BacklogSize) of the exact bytes streamed. Each
// keyspace command and the append of what it propagated happen together
// under one mutex, so the stream's order is the order of the changes and a
// snapshot taken under the same mutex stands exactly for its offset. A
// lower-case "ping" goes into the stream every Config.PingPeriod while
// followers are connected.
//
// # Followers
//
// A follower's connection is an ordinary client until PSYNC: PING and
// REPLCONF listening-port/ip-address/capa are answered there. PSYNC hijacks
// the connection (server.Conn.Hijack) and starts a session, tracked by a
// follower.Set machine (NotSync -> DBSync -> BinlogSync -> Removed):
//
//   - PSYNC <our id> <offset> with offset-1 still in the backlog gets
//     "+CONTINUE <id>" and the missed bytes, then the live stream
//     (NotSync -> BinlogSync).
//
//   - Anything else gets "+FULLRESYNC <id> <offset>", an RDB v10 snapshot
//     ("$<len>\r\n" framing, or "$EOF:<mark>" with Config.DisklessEOF to a
//     follower that said capa eof, after which the stream waits for its
//     first ACK), then the stream from that offset (NotSync -> DBSync; the
//     first REPLCONF ACK moves it to BinlogSync). Full syncs that arrive
//     while a snapshot is being built share it (follower.Snapshots): one build,
//     one id and offset for all of them. Bare "\n" keepalives go out while
//     they wait.
//
//   - The old SYNC is a full sync whose "$<len>" payload comes without a
//     +FULLRESYNC line.
//
//   - After Promote (a replica's history, docs/failover.md) the id it
//     followed is the second id (master_replid2): PSYNC with it continues up
//     to second_repl_offset, and a follower ahead of that gets a full sync.
//
// Every session streams straight from the backlog; a follower that falls
// further behind than the backlog is disconnected and comes back with a
// full sync. REPLCONF ACK <offset> is never answered; it is handed to the
// follower machine under the session it arrived on, and an ACK from a
// replaced session is dropped and counted (Stats.StaleAcks). A follower that
// stops acking for Config.ReplTimeout, or does not finish its full sync in
// that long, is removed by its machine and its connection closed. The
// follower machine's transitions are logged like every replsm machine's.
//
// # Operating and testing
//
// Offset, ReplID, Followers (per-follower state and acked offset: a
// benchmark's lag is Offset() - AckedOffset), Stats and Digest report;
// DisconnectFollower cuts one follower's connection as a network fault
// would; ForgetHistory simulates a restart without replication state (new
// id, offset 0, empty backlog, followers dropped), after which returning
// followers get a full sync. Time comes from the injected clock.Clock.
//
//	p, err := primary.New(primary.DefaultConfig(), clock.New(), logger)
//	if err != nil { ... }
//	defer p.Close()
//	if err := p.Listen("127.0.0.1:7000"); err != nil { ... }
//	// redis-server --port 7001 --replicaof 127.0.0.1 7000 now follows p.
package primary
