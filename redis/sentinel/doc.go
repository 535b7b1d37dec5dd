// Package sentinel is the client side of Redis Sentinel for replsm: it asks
// sentinels which node is the primary of a monitored name
// (SENTINEL GET-MASTER-ADDR-BY-NAME, sentinels asked in turn) and keeps a
// pub/sub link to every sentinel for the events a follower acts on:
//
//	+switch-master <name> <old-ip> <old-port> <new-ip> <new-port>
//	                      a failover ended; the new primary is named
//	+try-failover master <name> <ip> <port>
//	                      a sentinel starts failing the primary over
//	-failover-abort-*     that attempt ended without a new primary
//
// A Watcher runs one goroutine per sentinel: dial, SUBSCRIBE, then ask the
// sentinel for every watched name (so an announcement missed while the
// link was down is caught up), PING on the link every PingInterval and
// drop it after three silent ones, and on any failure reconnect after a
// backoff (doubling, capped, on the injected clock). Sentinels that are
// down or answer nonsense are logged and retried; nothing here panics or
// gives up. What an event means for a replica — check the announced node's
// ROLE, re-point — is the caller's (redis/replica's sentinel follower).
// Events carry the sentinel that sent them, so the caller's log can say
// which sentinel said what (docs/sentinel.md).
package sentinel
