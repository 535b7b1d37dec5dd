package primary

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPublishIsDeliveredAndStreamed: a PUBLISH reaches this primary's
// subscribers and goes into the stream (with the SELECT of its database),
// so that replicas deliver it to theirs, as Redis does.
func TestPublishIsDeliveredAndStreamed(t *testing.T) {
	p, _ := newTestPrimary(t, nil)
	sub, pub := dialPeer(t, p.Addr()), dialPeer(t, p.Addr())
	sub.send("SUBSCRIBE", "__sentinel__:hello")
	sub.expectLine("*3")
	sub.expectLine("$9")
	sub.expectLine("subscribe")
	sub.read(len("$18\r\n__sentinel__:hello\r\n:1\r\n"))

	pub.send("PUBLISH", "__sentinel__:hello", "hi")
	pub.expectLine(":1")
	assert.Equal(t, "*3\r\n$7\r\nmessage\r\n$18\r\n__sentinel__:hello\r\n$2\r\nhi\r\n", sub.read(len("*3\r\n$7\r\nmessage\r\n$18\r\n__sentinel__:hello\r\n$2\r\nhi\r\n")))
	assert.Equal(t, cmds([]string{"SELECT", "0"}, []string{"PUBLISH", "__sentinel__:hello", "hi"}), streamBytes(t, p))

	// A subscribed connection refuses anything else.
	sub.send("GET", "k")
	require.Contains(t, sub.line(), "Can't execute 'get'")
}

// TestSentinelTransaction runs Sentinel's reconfiguration of a primary that
// stays one (SLAVEOF NO ONE) as Sentinel sends it.
func TestSentinelTransaction(t *testing.T) {
	p, _ := newTestPrimary(t, nil)
	c, victim := dialPeer(t, p.Addr()), dialPeer(t, p.Addr())
	victim.send("PING")
	victim.expectLine("+PONG")
	for _, step := range [][]string{{"CLIENT", "SETNAME", "sentinel-1-cmd"}, {"MULTI"}} {
		c.send(step...)
		c.expectLine("+OK")
	}
	for _, step := range [][]string{{"SLAVEOF", "NO", "ONE"}, {"CONFIG", "REWRITE"}, {"CLIENT", "KILL", "TYPE", "normal"}, {"CLIENT", "KILL", "TYPE", "pubsub"}} {
		c.send(step...)
		c.expectLine("+QUEUED")
	}
	c.send("EXEC")
	assert.Equal(t, "*4\r\n+OK\r\n+OK\r\n:1\r\n:0\r\n", c.read(len("*4\r\n+OK\r\n+OK\r\n:1\r\n:0\r\n")))
	c.send("CLIENT", "GETNAME")
	c.expectLine("$14")
	c.expectLine("sentinel-1-cmd")
	victim.expectEOF()
}
