// Package server is the small RESP TCP server both Redis roles use: the
// primary for its client and replication port, the replica for its read port.
//
// A Server accepts connections on a loopback address and runs one goroutine
// per connection. That goroutine reads requests with resp.Reader.ReadCommand
// (RESP arrays of bulk strings and inline commands, bounded by resp.Limits)
// and hands each one to the Handler together with the connection's *Conn:
//
//	srv, err := server.Listen("127.0.0.1:0", func(c *server.Conn, args [][]byte) error {
//		switch strings.ToUpper(string(args[0])) {
//		case "PING":
//			return c.WriteSimpleString("PONG")
//		case "SELECT":
//			... c.DB = n; return c.WriteOK()
//		}
//		return c.WriteUnknownCommand(args)
//	}, logger)
//	defer srv.Close()
//
// The server itself answers only QUIT (+OK, then close). Everything else,
// unknown commands included, is the Handler's: WriteUnknownCommand writes
// Redis's "-ERR unknown command '<name>', with args beginning with: ..." so
// clients that probe with HELLO or CLIENT SETINFO keep working.
//
// Replies are buffered and flushed once no further pipelined request is
// already waiting in the read buffer, so a pipeline of N requests costs one
// write, as with Redis. A Handler that returns an error ends the connection
// after its buffered replies are flushed. Malformed input gets
// "-ERR Protocol error: <what>" and the connection is closed; a panic in a
// Handler is recovered, logged with its stack, and closes only that
// connection.
//
// Hijack hands the raw net.Conn and its *bufio.Reader (which may already
// hold pipelined bytes) to the caller, typically a replication session after
// PSYNC. The Handler may keep running the session in its own goroutine; when
// it returns, the server neither reads from nor closes the hijacked
// connection. Until then Server.Close still closes it, so a session running
// inside its Handler always ends when the server closes.
//
// Out-of-band replies (pub/sub messages) go through Conn.Push from another
// goroutine: a connection's writers share one lock, which the connection
// goroutine holds while a Handler runs, so a push never lands inside a
// reply. Conn.OnClose registers clean-up for when a connection ends.
// Server.Kill closes the connections a filter picks (CLIENT KILL);
// HandleCLIENT, HandleAdmin and RunQueued are the administrative commands
// both roles answer alike (CLIENT, CONFIG REWRITE, EXEC of a transaction
// run command by command).
//
// Close stops accepting, closes every connection and waits for every
// goroutine the server started, Handlers included.
package server
