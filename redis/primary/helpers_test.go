package primary

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/redis/resp"
)

// epoch0 is the mock clock's start: a fixed wall time, so absolute expiry
// times in expected streams are constants.
var epoch0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

const testReplID = "0123456789abcdef0123456789abcdef01234567"

// newTestPrimary returns a listening primary on a mock clock set to epoch0
// with a fixed replication id; edit adjusts the config first.
func newTestPrimary(t *testing.T, edit func(*Config)) (*Primary, *clock.Mock) {
	t.Helper()
	clk := clock.NewMock()
	clk.Set(epoch0)
	cfg := DefaultConfig()
	cfg.ReplID = testReplID
	if edit != nil {
		edit(&cfg)
	}
	p, err := New(cfg, clk, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	require.NoError(t, p.Listen("127.0.0.1:0"))
	return p, clk
}

// streamBytes returns the whole backlog as a string.
func streamBytes(t *testing.T, p *Primary) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	b, err := p.bl.readAt(nil, p.bl.start(), int(p.bl.hist))
	require.NoError(t, err)
	return string(b)
}

// cmds encodes commands as a replication stream would carry them.
func cmds(commands ...[]string) string {
	var b []byte
	for _, c := range commands {
		b = resp.AppendCommandStrings(b, c...)
	}
	return string(b)
}

func run(t *testing.T, p *Primary, db *int, args ...string) resp.Value {
	t.Helper()
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	return p.exec(db, bs)
}

// peer is a hand-driven follower or client speaking raw RESP.
type peer struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
	rd *resp.Reader
}

func dialPeer(t *testing.T, addr string) *peer {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	// A deadline, not a sleep: a broken test fails instead of hanging.
	require.NoError(t, nc.SetDeadline(time.Now().Add(10*time.Second)))
	br := bufio.NewReader(nc)
	return &peer{t: t, nc: nc, br: br, rd: resp.NewReader(br)}
}

func (c *peer) send(args ...string) {
	c.t.Helper()
	_, err := c.nc.Write(resp.AppendCommandStrings(nil, args...))
	require.NoError(c.t, err)
}

// line reads one line, without its CRLF.
func (c *peer) line() string {
	c.t.Helper()
	s, err := c.br.ReadString('\n')
	require.NoError(c.t, err)
	return strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r")
}

func (c *peer) expectLine(want string) {
	c.t.Helper()
	require.Equal(c.t, want, c.line())
}

// handshake does what a Redis replica does before PSYNC.
func (c *peer) handshake(port int, capas ...string) {
	c.t.Helper()
	c.send("PING")
	c.expectLine("+PONG")
	c.send("REPLCONF", "listening-port", strconv.Itoa(port))
	c.expectLine("+OK")
	args := []string{"REPLCONF"}
	for _, capa := range capas {
		args = append(args, "capa", capa)
	}
	if len(capas) > 0 {
		c.send(args...)
		c.expectLine("+OK")
	}
}

// fullSync sends PSYNC ? -1 and reads +FULLRESYNC and a disk-style RDB. It
// returns the replication id, the offset and the RDB.
func (c *peer) fullSync() (string, int64, []byte) {
	c.t.Helper()
	c.send("PSYNC", "?", "-1")
	id, off := c.fullResyncLine()
	return id, off, c.rdb()
}

func (c *peer) fullResyncLine() (string, int64) {
	c.t.Helper()
	l := c.line()
	for l == "" { // keepalives before the reply
		l = c.line()
	}
	f := strings.Fields(l)
	require.Len(c.t, f, 3, "reply %q", l)
	require.Equal(c.t, "+FULLRESYNC", f[0])
	off, err := strconv.ParseInt(f[2], 10, 64)
	require.NoError(c.t, err)
	return f[1], off
}

func (c *peer) rdb() []byte {
	c.t.Helper()
	l := c.line()
	require.True(c.t, strings.HasPrefix(l, "$"), "preamble %q", l)
	n, err := strconv.Atoi(l[1:])
	require.NoError(c.t, err)
	b := make([]byte, n)
	_, err = io.ReadFull(c.br, b)
	require.NoError(c.t, err)
	return b
}

// read reads exactly n bytes of stream.
func (c *peer) read(n int) string {
	c.t.Helper()
	b := make([]byte, n)
	_, err := io.ReadFull(c.br, b)
	require.NoError(c.t, err)
	return string(b)
}

// expectStream reads len(want) bytes and compares them.
func (c *peer) expectStream(want string) {
	c.t.Helper()
	require.Equal(c.t, want, c.read(len(want)))
}

// drain reads until the primary closes the connection and returns what
// came before.
func (c *peer) drain() string {
	c.t.Helper()
	b, err := io.ReadAll(c.br)
	require.NoError(c.t, err)
	return string(b)
}

func (c *peer) expectEOF() {
	c.t.Helper()
	b, err := c.br.ReadByte()
	require.ErrorIs(c.t, err, io.EOF, "got %q", b)
}

// waitFor polls cond until it holds, for at most 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	redistest.RequireEventually(t, 10*time.Second, "waiting for "+what, func(context.Context) error {
		if cond() {
			return nil
		}
		return errors.New("not yet")
	})
}

func testClock() *clock.Mock {
	clk := clock.NewMock()
	clk.Set(epoch0)
	return clk
}
