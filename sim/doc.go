// Package sim drives a replica.Instance and its slots (and, for the primary
// side, a follower.Set) on a mock clock with a scripted peer, so a fault
// scenario gives the same transition log every time, byte for byte. The
// datadriven scenario tests under testdata/scenarios and the
// `replsm simulate` command both run on it; docs/simulate.md describes the
// file format, the peer modes and every command, with an example of each.
//
// A scenario is in cockroachdb/datadriven's format: a command, a line
// "----", the output it produced (the transition records and the effects
// the machines asked for), a blank line; lines starting with # are
// comments. Arguments are key=value, or key=(several words):
//
//	# The primary never answers: reply timeout, Error, a backed-off recovery.
//	new slots=1
//	----
//	ok
//
//	# The primary accepts connections but never answers.
//	peer slot=1 mode=silent
//	----
//
//	# The request under session 2 waits.
//	slaveof addr=10.0.0.1:9221
//	----
//	[   0.000s] instance #1 slaveof NoConnect -> Connect reason="slaveof 10.0.0.1:9221"
//	[   0.000s] instance #2 send_meta Connect -> Connecting session=1
//	[   0.000s]   > meta session=1 master=10.0.0.1:9221
//	[   0.000s] instance #3 meta_ok Connecting -> Connected session=1
//	[   0.000s] slot/1 #1 start NoConnect -> TryConnect reason="link up"
//	[   0.000s] slot/1 #2 send_try_sync TryConnect -> WaitReply session=2
//	[   0.000s]   > sync slot/1 session=2 incremental
//
//	# reply_timeout at 10s: Error, attempt=1/5 with a backoff.
//	advance 10s
//	----
//	[  10.000s] slot/1 #3 reply_timeout WaitReply -> Error session=2 attempt=1/5 retry_in=936.114391ms reason="no reply in 10s"
//	[  10.000s]   > close slot/1 session=2 (no reply in 10s)
//
// Run executes such a file (or a plain script, one command per line) and
// writes it back with fresh outputs, so a scenario file replays to itself;
// Sim.Exec runs one command. Time moves only in advance: the clock steps to
// each due deadline and peer reply in turn, so every record carries the
// exact time its timer was due.
package sim
