// Package sim drives a replica.Instance and its slots on a mock clock with a
// scripted peer, so a fault scenario gives the same transition log every
// time, byte for byte. The datadriven scenario tests under testdata/ and the
// `replsm simulate` command both run on it.
//
// A script is one command per line (see Sim.Exec for the list):
//
//	new slots=3 seed=7
//	meta mode=ok
//	peer slot=all mode=ok
//	slaveof addr=10.0.0.1:9221
//	peer slot=2 mode=silent
//	fail slot=2 reason="connection reset"
//	advance 30s
//	info
//
// Time moves only in advance: the clock steps to each due deadline in turn,
// so every record carries the exact time its timer was due.
package sim
