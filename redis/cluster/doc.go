// Package cluster lets the Redis replica follow a Redis Cluster: it finds
// the cluster's masters and the hash slots each owns, keeps that map
// current, and tells the replica which shards to add, re-point and remove.
//
// The pieces (docs/cluster.md has the design):
//
//   - [HashSlot]: a key's hash slot, CRC16-XMODEM of the key (or of its
//     {hash tag}) mod 16384, as Redis Cluster computes it.
//   - [Map]: the cluster's shards, each a master endpoint with its node ids
//     and slot ranges; [Map.Validate] refuses a map where a slot is claimed
//     twice or by no one. [Routes] is a Map turned into a slot → shard
//     table for the read path.
//   - [Query]/[Discover]: ask seed nodes CLUSTER SHARDS (Redis 7.0), or
//     CLUSTER SLOTS where SHARDS is unknown, and accept an answer only when
//     every seed that answers agrees and it validates.
//   - [Follower]: re-reads the map every Interval and when nudged (a
//     shard's link failed), matches the new shards with the ones followed
//     by node identity (a promoted replica continues its master's shard),
//     and applies the difference through a [Target]: re-point, add,
//     remove, new routes. A failed discovery is retried with backoff on the
//     injected clock and reported; the last good map stays in force.
//
// The package speaks RESP to cluster nodes but knows nothing of the
// replica's internals; the core stays Redis-free.
package cluster
