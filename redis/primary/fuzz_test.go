package primary

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/redis/resp"
)

// panicLog records the server's "handler panic" reports: the server
// recovers a panicking handler and only logs it, so a fuzz target has to
// look for the log line.
type panicLog struct {
	mu     sync.Mutex
	panics []string
}

func (h *panicLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *panicLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *panicLog) WithGroup(string) slog.Handler            { return h }
func (h *panicLog) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic") {
		var b strings.Builder
		b.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			b.WriteString(" " + a.String())
			return true
		})
		h.mu.Lock()
		h.panics = append(h.panics, b.String())
		h.mu.Unlock()
	}
	return nil
}

func (h *panicLog) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.panics
	h.panics = nil
	return p
}

// FuzzCommands sends hostile bytes to a listening primary as one client's
// requests (pipelined, then the write side closed), the way any client on
// its port could. No request may panic a handler, the primary keeps
// answering other clients, and everything it propagated to its stream is a
// well-formed sequence of commands a replica can parse.
func FuzzCommands(f *testing.F) {
	for _, s := range []string{
		"PING\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
		"SET a 1\r\nINCR a\r\nGET a\r\n",
		"MULTI\r\nSET a 1\r\nLPUSH l x y\r\nEXEC\r\n",
		"MULTI\r\nSELECT 3\r\nSET a 1\r\nSELECT 1\r\nDEL a\r\nEXEC\r\n",
		"MULTI\r\nMULTI\r\nEXEC\r\nDISCARD\r\n",
		"MULTI\r\nPSYNC ? -1\r\nEXEC\r\n",
		"REPLCONF listening-port 6380 capa eof capa psync2\r\n",
		"REPLCONF listening-port 99999\r\nREPLCONF ack\r\nREPLCONF\r\n",
		"PSYNC x y\r\nPSYNC ? -1 extra\r\n",
		"REPLCONF capa eof\r\nSET a b\r\nPSYNC ? -1\r\nREPLCONF ACK 0\r\n",
		"CONFIG GET save appendonly databases\r\nCONFIG SET x y\r\nCONFIG\r\n",
		"INFO replication\r\nROLE\r\nSYNC\r\nWATCH k\r\nEXEC\r\n",
		"SET k v EX 1\r\nPEXPIRE k 5\r\nHSET h f v\r\nSADD s a\r\nZADD z 1 m\r\n",
		"*1\r\n$-1\r\n*-1\r\n*0\r\n",
		"*2\r\n$3\r\nGET\r\n$100000\r\nab",
		"\"unbalanced\r\n",
	} {
		f.Add([]byte(s))
	}
	logs := &panicLog{}
	clk := clock.NewMock()
	clk.Set(epoch0)
	cfg := DefaultConfig()
	cfg.ReplID = testReplID
	cfg.Limits = resp.Limits{MaxBulkLen: 1 << 16, MaxArrayLen: 1 << 10, MaxLineLen: 1 << 12, MaxDepth: 8}
	p, err := New(cfg, clk, slog.New(logs))
	require.NoError(f, err)
	f.Cleanup(func() { require.NoError(f, p.Close()) })
	require.NoError(f, p.Listen("127.0.0.1:0"))

	f.Fuzz(func(t *testing.T, data []byte) {
		p.mu.Lock()
		from := p.bl.end
		p.mu.Unlock()

		nc, err := net.Dial("tcp", p.Addr())
		require.NoError(t, err)
		defer nc.Close()
		// A deadline, not a sleep: a request that hangs the primary fails.
		require.NoError(t, nc.SetDeadline(time.Now().Add(10*time.Second)))
		_, err = nc.Write(data)
		require.NoError(t, err)
		require.NoError(t, nc.(*net.TCPConn).CloseWrite())
		_, err = io.Copy(io.Discard, nc)
		require.NoError(t, err, "the primary must answer and close, not hang")

		assert.Empty(t, logs.take(), "a handler panicked")
		ping(t, p.Addr())

		p.mu.Lock()
		var stream []byte
		if from >= p.bl.start() && p.bl.end > from {
			stream, err = p.bl.readAt(nil, from, int(p.bl.end-from))
		}
		p.mu.Unlock()
		require.NoError(t, err)
		rd := resp.NewReader(bufio.NewReader(bytes.NewReader(stream)))
		for {
			args, _, err := rd.ReadCommand()
			if err == io.EOF {
				break
			}
			require.NoError(t, err, "the propagated stream must parse: %q", stream)
			require.NotEmpty(t, args)
		}
	})
}

// ping checks the primary still answers a fresh client.
func ping(t *testing.T, addr string) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = nc.Write([]byte("PING\r\n"))
	require.NoError(t, err)
	line, err := bufio.NewReader(nc).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "+PONG\r\n", line)
}
