// Package rdb loads and writes Redis RDB snapshots and frames their transfer
// during a full sync.
//
// Decoding and encoding are done by github.com/hdt3213/rdb (pinned at
// v1.3.2); this package adds what replication needs around it.
//
// Loading. LoadBytes (or Load for an io.Reader) builds a new keyspace from an
// RDB, so a failed or partial load never touches live data; a replica swaps
// the result in with keyspace.ReplaceWith. Every encoding Redis 7.0 writes is
// accepted (listpack, ziplist, intset, quicklist, LZF-compressed strings),
// with per-key expiry. The trailing CRC-64 (Jones) is verified unless it is
// all zeros, as Redis does. Before the decoder runs, the file's framing is
// walked and every length checked against the bytes that remain: the decoder
// allocates what a length announces, and a forged length would otherwise
// exhaust memory, which Go cannot recover from. Corruption or truncation
// yields an error wrapping ErrCorrupt; content this package cannot
// represent (streams, modules) wraps ErrUnsupported.
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
