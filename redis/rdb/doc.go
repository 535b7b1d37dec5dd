// Package rdb loads and writes Redis RDB snapshots and frames their transfer
// during a full sync.
//
// Encoding is done by github.com/hdt3213/rdb (pinned at v1.3.2); decoding
// is this package's own streaming decoder; this package adds what
// replication needs around both.
//
// Loading. Load (or LoadWith, with LoadOptions; LoadBytes for a payload in
// memory) builds a new keyspace from an RDB read as a stream: one read
// buffer, the CRC-64 (Jones) computed as the bytes pass, and each value
// allocated only as its bytes arrive, so memory is the keyspace being built
// and not the file. A failed or partial load never touches live data; a
// replica swaps the result in with keyspace.ReplaceWith. Every encoding
// Redis 7.0 writes is accepted (listpack, ziplist, intset, zipmap,
// quicklist, LZF-compressed strings, streams), with per-key expiry. The
// trailing checksum is verified unless it is all zeros, as Redis does.
// No declared length is trusted for memory: a string, encoded collection
// or LZF expansion longer than LoadOptions.MaxValue (default 512 MB,
// Redis's own string limit) fails with ErrValueTooLarge before anything is
// allocated for it, shorter ones grow with the bytes actually received,
// and collection counts preallocate at most a small constant. Corruption or
// truncation yields an error wrapping ErrCorrupt; content this package
// cannot represent (modules, hash field TTLs) wraps ErrUnsupported. See
// docs/fullsync.md ("Loading").
//
//	payload, _, err := rdb.ReadPayload(br, maxRDB)
//	fresh, info, err := rdb.LoadBytes(payload, clk)
//	fresh.SetReplica(true)
//	live.ReplaceWith(fresh)
//
// Writing. Write serializes a keyspace.Snapshot, taken in O(keys) while
// writes continue, as an RDB that redis-server 7.0 loads and redis-check-rdb
// accepts. The encoder emits version 11, which 7.0 rejects; Write rewrites
// the header to version 10 and recomputes the checksum as the bytes stream
// out, so nothing is buffered whole.
//
//	var buf bytes.Buffer
//	err := rdb.Write(&buf, ks.Snapshot(), replID, offset)
//	err = rdb.WritePayload(conn, buf.Bytes(), mark) // mark "" for disk-based
//
// Transfer framing. ReadPayload and WritePayload implement both forms a
// primary uses after +FULLRESYNC: "$<len>\r\n" followed by exactly len bytes,
// and the diskless "$EOF:<40 chars>\r\n" + RDB + the same 40 chars, with the
// bare "\n" keepalives a primary sends while it prepares the snapshot.
package rdb
