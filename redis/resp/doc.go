// Package resp reads and writes RESP2, the Redis wire protocol, with the
// byte-exact accounting that replication needs.
//
// A Reader wraps a *bufio.Reader and returns one value per call together with
// the number of bytes that value occupied on the wire. Replication offsets are
// sums of those counts, so a replica that adds up every n it is given tracks
// its primary's offset exactly:
//
//	r := resp.NewReader(bufio.NewReader(conn))
//	for {
//		v, n, err := r.ReadValue()
//		if err != nil {
//			return err // io.EOF, io.ErrUnexpectedEOF, a net error, or ErrProtocol
//		}
//		offset += n
//		if v.Kind == resp.KindKeepalive {
//			continue // a bare "\n" a primary sends while it prepares an RDB
//		}
//		...
//	}
//
// A server reads client requests with ReadCommand, which accepts both RESP
// arrays of bulk strings (what every client library and a primary's stream
// send) and inline commands (a space-separated line, as typed into telnet).
//
// Every length a peer announces is checked against Limits before anything is
// allocated for it, and a bulk payload is allocated as its bytes arrive, so a
// hostile length cannot make the reader reserve memory the peer never sends.
// Malformed input yields an error wrapping ErrProtocol that names the problem
// and quotes the offending bytes. After any error the Reader's position in the
// stream is unknown and the connection should be dropped.
//
// The writing side comes in two forms. The Append functions (AppendCommand,
// AppendBulk, ...) encode into a caller-owned byte slice; a primary uses
// AppendCommand to build its replication stream, where len of the result is
// the exact offset increment. Writer wraps an io.Writer and issues exactly one
// Write per value; pass a *bufio.Writer to batch.
package resp
