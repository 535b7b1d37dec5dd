// Package faultproxy is a loopback TCP proxy that injects connection faults,
// for tests and the demo.
//
// A [Proxy] listens on a loopback address and relays every accepted
// connection to an upstream address, byte for byte, in both directions. On
// command it:
//
//   - [Proxy.Cut]s every current connection (new ones are still accepted);
//   - goes [Proxy.Down]: closes its listener, so new connections are refused
//     (ECONNREFUSED, exactly like a dead server), and cuts the current ones;
//     [Proxy.Up] listens again on the same address;
//   - [Proxy.Stall]s: every connection stays open but no byte, and no close,
//     passes in either direction, like a peer frozen with SIGSTOP or a black
//     hole. Bytes are not dropped: the proxy stops reading, so they wait in
//     the kernel's socket buffers and the senders feel back-pressure.
//     [Proxy.Unstall] lets them flow again in order;
//   - switches to another upstream for new connections with
//     [Proxy.SetUpstream].
//
// [Proxy.Close] stops everything and returns only when every goroutine the
// proxy started has ended.
//
// Why not Shopify's toxiproxy in-process: its "timeout" toxic, the only way
// it stalls, drops the bytes it holds, so a stream resumed by removing the
// toxic is silently corrupted (TCP never loses bytes; a Redis replication
// stream would desynchronise); it has no way to cut current connections
// while keeping the listener (Stop/Start re-binds, and the upstream can only
// change through a stop and restart); its Stop does not wait for its
// per-connection goroutines; and it would bring Prometheus, protobuf,
// zerolog, gorilla/mux and urfave/cli into this module for one test helper.
// The proxy here is about 400 lines with its own race- and leak-checked
// tests.
//
// Only loopback addresses are accepted, for listening and for upstreams.
package faultproxy
