// Package pubsub is the pub/sub subset both Redis roles serve: SUBSCRIBE,
// UNSUBSCRIBE and PUBLISH, in RESP2, as Redis Sentinel uses them (a
// "__sentinel__:hello" subscription on every monitored node, and hellos
// published to the primary that reach the replicas through the
// replication stream).
//
// A Hub holds the subscriptions of one server. A role's Handler gives it
// every request first (Hub.Command): it answers SUBSCRIBE and UNSUBSCRIBE,
// and on a subscribed connection PING and a refusal of anything else, as
// Redis does. PUBLISH is the role's: it calls Hub.Publish (a primary also
// streams the PUBLISH to its replicas; a replica calls Publish for the
// PUBLISH commands it reads from its primary's stream).
//
// Messages go out as Redis's push arrays ("message", channel, payload),
// written by one goroutine per subscribed connection through
// server.Conn.Push, so a publisher never waits for a slow subscriber. A
// subscriber whose undelivered messages exceed Options.MaxPending bytes is
// disconnected, as Redis's client-output-buffer-limit for pubsub does.
// Patterns (PSUBSCRIBE) are not supported.
package pubsub
