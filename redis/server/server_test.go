package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/replsm/replsm/internal/redistest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// echoHandler knows PING, ECHO, SELECT, DB (returns c.DB), FAIL (returns an
// error), PANIC and HELLO-less everything else.
func echoHandler(c *Conn, args [][]byte) error {
	switch strings.ToUpper(string(args[0])) {
	case "PING":
		if len(args) > 1 {
			return c.WriteBulk(args[1])
		}
		return c.WriteSimpleString("PONG")
	case "ECHO":
		if len(args) != 2 {
			return c.WriteError(WrongArgs(args[0]))
		}
		return c.WriteBulk(args[1])
	case "SELECT":
		n, err := strconv.Atoi(string(args[1]))
		if err != nil {
			return c.WriteError("ERR value is not an integer or out of range")
		}
		c.DB = n
		return c.WriteOK()
	case "DB":
		return c.WriteInteger(int64(c.DB))
	case "FAIL":
		_ = c.WriteError("ERR going away")
		return errors.New("fail requested")
	case "PANIC":
		panic("boom")
	}
	return c.WriteUnknownCommand(args)
}

func listen(t *testing.T, h Handler) *Server {
	t.Helper()
	s, err := Listen("127.0.0.1:0", h, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func dial(t *testing.T, s *Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	require.NoError(t, nc.SetDeadline(time.Now().Add(5*time.Second)))
	return nc, bufio.NewReader(nc)
}

func send(t *testing.T, nc net.Conn, s string) {
	t.Helper()
	_, err := io.WriteString(nc, s)
	require.NoError(t, err)
}

// readN reads exactly len(want) bytes and compares.
func expect(t *testing.T, br *bufio.Reader, want string) {
	t.Helper()
	got := make([]byte, len(want))
	_, err := io.ReadFull(br, got)
	require.NoError(t, err, "reading %q", want)
	assert.Equal(t, want, string(got))
}

func expectEOF(t *testing.T, br *bufio.Reader) {
	t.Helper()
	b, err := br.ReadByte()
	require.ErrorIs(t, err, io.EOF, "got byte %q", b)
}

func TestPipelinedArraysAndInline(t *testing.T) {
	s := listen(t, echoHandler)
	nc, br := dial(t, s)
	send(t, nc, "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\nPING hello\r\n\r\necho \"x y\"\n")
	expect(t, br, "+PONG\r\n$4\r\na\r\nb\r\n$5\r\nhello\r\n$3\r\nx y\r\n")
}

func TestDBIsPerConnection(t *testing.T) {
	s := listen(t, echoHandler)
	a, abr := dial(t, s)
	b, bbr := dial(t, s)
	send(t, a, "SELECT 3\r\nDB\r\n")
	expect(t, abr, "+OK\r\n:3\r\n")
	send(t, b, "DB\r\n")
	expect(t, bbr, ":0\r\n")
}

func TestQuitClosesAfterOK(t *testing.T) {
	s := listen(t, echoHandler)
	nc, br := dial(t, s)
	send(t, nc, "quit\r\nPING\r\n")
	expect(t, br, "+OK\r\n")
	expectEOF(t, br)
}

func TestUnknownCommand(t *testing.T) {
	s := listen(t, echoHandler)
	nc, br := dial(t, s)
	send(t, nc, "NOPE a b\r\n")
	expect(t, br, "-ERR unknown command 'NOPE', with args beginning with: 'a' 'b' \r\n")
	send(t, nc, "*1\r\n$4\r\nnope\r\n")
	expect(t, br, "-ERR unknown command 'nope', with args beginning with: \r\n")
}

func TestUnknownCommandClipsLongInput(t *testing.T) {
	long := strings.Repeat("x", 300)
	msg := UnknownCommand([][]byte{[]byte(long), []byte(long), []byte(long)})
	assert.Equal(t, "ERR unknown command '"+long[:128]+"', with args beginning with: '"+long[:128]+"' ", msg)
	msg = UnknownCommand([][]byte{[]byte("x"), []byte("ab"), []byte(long)})
	assert.Equal(t, "ERR unknown command 'x', with args beginning with: 'ab' '"+long[:123]+"' ", msg)
	assert.Equal(t, "ERR unknown command '', with args beginning with: ", UnknownCommand(nil))
	assert.Equal(t, "ERR wrong number of arguments for 'echo' command", WrongArgs([]byte("ECHO")))
}

func TestProtocolErrorsAnswerAndClose(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"bad multibulk length", "*x\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"not a bulk", "*1\r\n:1\r\n", "-ERR Protocol error: expected '$', got ':'"},
		{"unbalanced quotes", "SET \"a\n", "-ERR Protocol error: unbalanced quotes"},
		{"bulk too long", "*1\r\n$999999999999\r\n", "-ERR Protocol error: invalid bulk length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := listen(t, echoHandler)
			nc, br := dial(t, s)
			send(t, nc, "PING\r\n"+tt.in)
			expect(t, br, "+PONG\r\n")
			line, err := br.ReadString('\n')
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(line, tt.want), "got %q", line)
			expectEOF(t, br)
		})
	}
}

func TestLimitsApply(t *testing.T) {
	s, err := ListenOptions("127.0.0.1:0", echoHandler, Options{Limits: resptestLimits()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	nc, br := dial(t, s)
	send(t, nc, "*1\r\n$20\r\n")
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	assert.Contains(t, line, "-ERR Protocol error: invalid bulk length")
	expectEOF(t, br)
}

func TestHandlerErrorFlushesThenCloses(t *testing.T) {
	s := listen(t, echoHandler)
	nc, br := dial(t, s)
	send(t, nc, "PING\r\nFAIL\r\nPING\r\n")
	expect(t, br, "+PONG\r\n-ERR going away\r\n")
	expectEOF(t, br)
}

func TestHandlerPanicClosesOnlyThatConnection(t *testing.T) {
	s := listen(t, echoHandler)
	nc, br := dial(t, s)
	send(t, nc, "PANIC\r\n")
	expectEOF(t, br)
	nc2, br2 := dial(t, s)
	send(t, nc2, "PING\r\n")
	expect(t, br2, "+PONG\r\n")
}

func TestHijackHandsOverBufferedBytes(t *testing.T) {
	got := make(chan string, 1)
	h := func(c *Conn, args [][]byte) error {
		if string(args[0]) != "SYNC" {
			return echoHandler(c, args)
		}
		_ = c.WriteSimpleString("HIJACKING")
		nc, br, err := c.Hijack()
		if err != nil {
			return err
		}
		defer nc.Close()
		_, _, err = c.Hijack()
		assert.ErrorIs(t, err, ErrHijacked)
		assert.ErrorIs(t, c.WriteOK(), ErrHijacked)
		assert.ErrorIs(t, c.Flush(), ErrHijacked)
		line, err := br.ReadString('\n') // pipelined with SYNC
		if err != nil {
			return err
		}
		got <- line
		_, err = io.WriteString(nc, "raw bytes\n")
		return err
	}
	s := listen(t, h)
	nc, br := dial(t, s)
	send(t, nc, "PING\r\nSYNC\r\nafter\n")
	expect(t, br, "+PONG\r\n+HIJACKING\r\nraw bytes\n")
	assert.Equal(t, "after\n", <-got)
	expectEOF(t, br)
}

func TestCloseEndsHijackedSessionsAndIdleConns(t *testing.T) {
	var sessions atomic.Int32
	h := func(c *Conn, args [][]byte) error {
		if string(args[0]) != "SYNC" {
			return echoHandler(c, args)
		}
		nc, br, err := c.Hijack()
		if err != nil {
			return err
		}
		sessions.Add(1)
		// A session that only ends when its connection is closed.
		_, err = io.Copy(io.Discard, br)
		_ = nc.Close()
		return err
	}
	s, err := Listen("127.0.0.1:0", h, nil)
	require.NoError(t, err)
	idle, ibr := dial(t, s)
	send(t, idle, "PING\r\n")
	expect(t, ibr, "+PONG\r\n")
	sess, sbr := dial(t, s)
	send(t, sess, "SYNC\r\n")
	redistest.RequireEventually(t, 5*time.Second, "session start", func(context.Context) error {
		if sessions.Load() == 0 {
			return errors.New("no session yet")
		}
		return nil
	})
	require.NoError(t, s.Close())
	expectEOF(t, ibr)
	expectEOF(t, sbr)
	require.NoError(t, s.Close(), "second Close")
	_, err = net.DialTimeout("tcp", s.Addr(), time.Second)
	assert.Error(t, err, "listener still open")
}

func TestGoRedisDefaultClientWorks(t *testing.T) {
	// A default go-redis client sends HELLO 3 and CLIENT SETINFO on connect;
	// the unknown-command replies must leave it on RESP2 and working.
	s := listen(t, echoHandler)
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, c.Ping(ctx).Err())
	v, err := c.Echo(ctx, "hi").Result()
	require.NoError(t, err)
	assert.Equal(t, "hi", v)
	err = c.Do(ctx, "nope").Err()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unknown command 'nope'")
}

func TestListenErrors(t *testing.T) {
	_, err := Listen("127.0.0.1:0", nil, nil)
	assert.ErrorIs(t, err, ErrNilHandler)
	s := listen(t, echoHandler)
	_, err = Listen(s.Addr(), echoHandler, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "listen "+s.Addr())
}
