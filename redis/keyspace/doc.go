// Package keyspace is an in-memory Redis keyspace: 16 databases of strings
// (HyperLogLogs and bitmaps among them), lists, hashes, sets, sorted sets
// (geo sets among them) and streams with consumer groups, with per-key
// expiry, executing the commands a Redis 7.0 primary streams to its
// replicas and the common read commands clients send. COVERAGE.md, checked
// against the installed redis-server, says how each write command is met.
//
// It is the state a Redis-protocol embedding replicates. A replica applies
// its primary's stream:
//
//	ks := keyspace.New(clk)
//	ks.SetReplica(true)
//	db := 0 // the stream starts with SELECT
//	for each command args in the stream {
//		if _, err := ks.Apply(&db, args); err != nil { ... } // unknown command
//	}
//
// A primary executes client commands and streams what Redis would propagate:
//
//	res, err := ks.Exec(&db, args)
//	send(res.Reply)
//	for _, cmd := range res.Propagate { stream.Append(db, cmd) }
//
// Exec returns Redis's error replies (WRONGTYPE, syntax errors, ...) as
// replies; a Go error means the command is unknown or the database index is
// out of range. Result.Propagate carries the rewrites Redis 7.0 performs so
// that replicas converge: relative expiries become absolute (SET ... PXAT,
// PEXPIREAT), an expiry in the past becomes DEL, INCRBYFLOAT becomes
// SET ... KEEPTTL with the result, HINCRBYFLOAT becomes HSET, GETSET
// becomes SET, GETDEL becomes DEL, and a key found expired becomes a DEL
// ahead of the command. Commands that change nothing are not propagated.
//
// Time comes only from the injected clock. Expiry follows Redis 7.0: a key is
// expired strictly after its absolute unix-ms deadline. A primary deletes
// expired keys lazily when touched and in ActiveExpire; a replica (see
// SetReplica) never deletes by itself, hides expired keys from reads, lets
// the stream's writes see them, and keeps a key whose PEXPIREAT is already
// past until the primary's DEL arrives, exactly as a Redis replica does.
//
// For a full sync, Snapshot takes a consistent copy-on-write view in
// O(keys) that an RDB writer iterates while writes continue; Put loads
// values into a fresh keyspace and ReplaceWith swaps it in atomically once
// loading succeeded. Each iterates deterministically; Digest hashes the live
// content for tests.
//
// Replies that list members (SMEMBERS, HGETALL, KEYS, SCAN) are sorted by
// byte order rather than in Redis's hash-table order, so they are
// deterministic; SCAN's cursor is a position in a fixed hash order.
package keyspace
