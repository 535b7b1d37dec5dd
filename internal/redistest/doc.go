// Package redistest holds helpers for tests that run real redis-server
// processes and compare Redis-compatible servers by content.
//
// It is test support: nothing in the framework's core imports it. Every helper
// talks to servers on the loopback interface only, and every wait or load loop
// is bounded both by a count and by a deadline.
//
// The pieces:
//
//   - [Start] launches a real redis-server (no persistence, diskless sync
//     without delay, its own temporary directory and log file) and returns a
//     [Server] that can be killed, frozen (SIGSTOP), thawed and restarted on
//     the same port. The test's cleanup always stops it. The processes are
//     internal/redisproc's; this package turns its errors into test
//     failures.
//   - [NewClient] builds a github.com/redis/go-redis/v9 client configured to
//     work against a minimal RESP2 server too: it tolerates "-ERR unknown
//     command" for HELLO and never sends CLIENT SETINFO.
//   - [Digest] hashes every key, type, value and TTL bucket of chosen
//     databases using only SCAN, TYPE, GET, LRANGE, HGETALL, SMEMBERS, ZRANGE
//     WITHSCORES and PEXPIRETIME (PTTL for TTLRemaining; plus SELECT), so the same function reads a real
//     primary and our own replica.
//   - [ReplicationInfo], [WaitReplicaUp] and [WaitCaughtUp] read and wait on
//     INFO replication.
//   - [FillAllTypes] writes a deterministic mix of every basic type, with
//     TTLs, across databases [FillDBs].
//   - [RunBenchmark] runs the real redis-benchmark as a bounded subprocess
//     (internal/redisproc's [redisproc.RunBenchmark]).
//   - [Eventually] and [RequireEventually] poll a condition with a deadline;
//     tests use them instead of sleeping.
//
// If redis-server is missing, [Start] fails the test (it never skips) and
// says how to install it: apt-get install -y redis-server redis-tools.
package redistest
