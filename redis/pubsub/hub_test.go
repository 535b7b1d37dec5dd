package pubsub

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/redis/resp"
	"github.com/replsm/replsm/redis/server"
)

// serve runs a server whose handler is the hub plus PUBLISH and CLIENT,
// as a role wires it.
func serve(t *testing.T) (*Hub, string) {
	t.Helper()
	h := New(Options{})
	srv, err := server.Listen("127.0.0.1:0", func(c *server.Conn, args [][]byte) error {
		if ok, err := h.Command(c, args); ok {
			return err
		}
		switch strings.ToLower(string(args[0])) {
		case "publish":
			return c.WriteInteger(int64(h.Publish(args[1], args[2])))
		case "client":
			return server.HandleCLIENT(c, args, h.Subscribed)
		case "get":
			return c.WriteNull()
		}
		return c.WriteUnknownCommand(args)
	}, nil)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		h.Close()
	})
	return h, srv.Addr()
}

type client struct {
	t  *testing.T
	nc net.Conn
	rd *resp.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	return &client{t: t, nc: nc, rd: resp.NewReader(bufio.NewReader(nc))}
}

func (c *client) send(args ...string) {
	c.t.Helper()
	_, err := c.nc.Write(resp.AppendCommandStrings(nil, args...))
	require.NoError(c.t, err)
}

func (c *client) read() resp.Value {
	c.t.Helper()
	require.NoError(c.t, c.nc.SetReadDeadline(time.Now().Add(30*time.Second)))
	v, _, err := c.rd.ReadValue()
	require.NoError(c.t, err)
	return v
}

func (c *client) do(args ...string) resp.Value {
	c.t.Helper()
	c.send(args...)
	return c.read()
}

// push renders an array of bulk strings and integers as "a b 1".
func text(v resp.Value) string {
	if v.Kind != resp.KindArray {
		return v.String()
	}
	parts := make([]string, len(v.Array))
	for i, e := range v.Array {
		switch {
		case e.Kind == resp.KindInteger:
			parts[i] = strconv.FormatInt(e.Int, 10)
		case e.Null:
			parts[i] = "(nil)"
		default:
			parts[i] = string(e.Str)
		}
	}
	return strings.Join(parts, " ")
}

func TestSubscribePublishRedisShapes(t *testing.T) {
	_, addr := serve(t)
	sub, pub := dial(t, addr), dial(t, addr)

	sub.send("SUBSCRIBE", "__sentinel__:hello", "other")
	assert.Equal(t, "subscribe __sentinel__:hello 1", text(sub.read()))
	assert.Equal(t, "subscribe other 2", text(sub.read()))

	assert.Equal(t, int64(1), pub.do("PUBLISH", "__sentinel__:hello", "127.0.0.1,26379,abc,0").Int)
	assert.Equal(t, int64(0), pub.do("PUBLISH", "nobody", "x").Int)
	assert.Equal(t, "message __sentinel__:hello 127.0.0.1,26379,abc,0", text(sub.read()))

	// A subscribed connection accepts only the pub/sub subset.
	assert.Equal(t, "pong ", text(sub.do("PING")))
	assert.Equal(t, "pong hi", text(sub.do("PING", "hi")))
	got := sub.do("GET", "k")
	require.Equal(t, resp.KindError, got.Kind)
	assert.Contains(t, got.Text(), "Can't execute 'get'")

	sub.send("UNSUBSCRIBE", "other")
	assert.Equal(t, "unsubscribe other 1", text(sub.read()))
	sub.send("UNSUBSCRIBE")
	assert.Equal(t, "unsubscribe __sentinel__:hello 0", text(sub.read()))
	// Back in the normal context: GET is the role's again.
	assert.True(t, sub.do("GET", "k").Null)
	assert.Equal(t, "unsubscribe (nil) 0", text(sub.do("UNSUBSCRIBE")))
	assert.Equal(t, int64(0), pub.do("PUBLISH", "__sentinel__:hello", "x").Int)
}

func TestMessagesKeepPublishOrder(t *testing.T) {
	_, addr := serve(t)
	sub, pub := dial(t, addr), dial(t, addr)
	assert.Equal(t, "subscribe ch 1", text(sub.do("SUBSCRIBE", "ch")))
	const n = 200
	for i := 0; i < n; i++ {
		pub.send("PUBLISH", "ch", strings.Repeat("x", i))
	}
	for i := 0; i < n; i++ {
		assert.Equal(t, int64(1), pub.read().Int)
	}
	for i := 0; i < n; i++ {
		require.Equal(t, "message ch "+strings.Repeat("x", i), text(sub.read()))
	}
}

func TestClientKillTypePubsubAndNormal(t *testing.T) {
	h, addr := serve(t)
	sub, normal, admin := dial(t, addr), dial(t, addr), dial(t, addr)
	assert.Equal(t, "subscribe ch 1", text(sub.do("SUBSCRIBE", "ch")))
	assert.True(t, normal.do("GET", "k").Null)

	assert.Equal(t, int64(1), admin.do("CLIENT", "KILL", "TYPE", "pubsub").Int)
	assert.Equal(t, int64(1), admin.do("CLIENT", "KILL", "TYPE", "normal").Int) // SKIPME yes: not admin itself
	for _, c := range []*client{sub, normal} {
		require.NoError(t, c.nc.SetReadDeadline(time.Now().Add(30*time.Second)))
		_, _, err := c.rd.ReadValue()
		assert.Error(t, err, "killed connection must be closed")
	}
	require.Eventually(t, func() bool { return h.Stats().Subscribers == 0 }, 30*time.Second, 10*time.Millisecond)
	assert.Equal(t, int64(0), admin.do("PUBLISH", "ch", "x").Int)

	assert.Equal(t, "OK", admin.do("CLIENT", "SETNAME", "sentinel-1-cmd").Text())
	assert.Equal(t, "sentinel-1-cmd", string(admin.do("CLIENT", "GETNAME").Str))
	assert.Equal(t, resp.KindError, admin.do("CLIENT", "KILL", "TYPE", "bogus").Kind)
}

func TestSlowSubscriberIsDropped(t *testing.T) {
	s := &sub{wake: make(chan struct{}, 1), done: make(chan struct{})}
	assert.True(t, s.enqueue([2][]byte{[]byte("c"), []byte("12345")}, 6, 10))
	assert.False(t, s.enqueue([2][]byte{[]byte("c"), []byte("12345")}, 6, 10), "over MaxPending")
}

func TestPatternsRefusedAndWrongArgs(t *testing.T) {
	_, addr := serve(t)
	c := dial(t, addr)
	assert.Equal(t, resp.KindError, c.do("PSUBSCRIBE", "*").Kind)
	assert.Equal(t, resp.KindError, c.do("SUBSCRIBE").Kind)
}
