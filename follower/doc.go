// Package follower is the primary side of replication: one machine per
// follower of one shard (NotSync -> DBSync -> BinlogSync, Removed at the
// end), and Snapshots, which lets concurrent full-sync requests for one
// shard share one snapshot.
//
// A primary embedding makes a Set per shard on a host.Runtime (one deadline
// heap for the whole process), Adds a follower when one connects, reports
// what it says (FullSyncRequested, Continue, Progress during a transfer,
// Ack) and closes it with Close. The machine's effects go through the
// Driver: when a follower is removed by a timeout, or replaced by a newer
// connection, Driver.Close is asked to close that connection. Why: the
// "Primary side" section of docs/DESIGN.md.
package follower
