package server

import (
	"fmt"
	"strings"
	"testing"
)

// A transaction queues up to MaxQueued commands; one more is refused, and
// from then on the transaction is failed, so EXEC would discard it.
func TestTxQueueIsBounded(t *testing.T) {
	tx := &Tx{}
	s := listen(t, func(c *Conn, args [][]byte) error {
		if strings.EqualFold(string(args[0]), "state") {
			return c.WriteSimpleString(fmt.Sprintf("%d %v", len(tx.Cmds), tx.Failed))
		}
		return tx.Queue(c, args)
	})
	nc, br := dial(t, s)
	var b strings.Builder
	for i := 0; i <= MaxQueued; i++ {
		b.WriteString("SET k v\r\n")
	}
	send(t, nc, b.String())
	for i := 0; i < MaxQueued; i++ {
		expect(t, br, "+QUEUED\r\n")
	}
	expect(t, br, fmt.Sprintf("-ERR too many commands in one transaction (at most %d)\r\n", MaxQueued))
	send(t, nc, "STATE\r\n")
	expect(t, br, fmt.Sprintf("+%d true\r\n", MaxQueued))
}

func TestTxRefuse(t *testing.T) {
	tx := &Tx{}
	s := listen(t, func(c *Conn, args [][]byte) error { return tx.Refuse(c, "ERR no") })
	nc, br := dial(t, s)
	send(t, nc, "MULTI\r\n")
	expect(t, br, "-ERR no\r\n")
}
