package redistest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// minimalServer speaks just enough RESP2: PING and ECHO, and
// "-ERR unknown command" for everything else (HELLO and CLIENT included).
type minimalServer struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	seen []string
	conn []net.Conn
}

func startMinimalServer(t *testing.T) *minimalServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	m := &minimalServer{ln: ln}
	m.wg.Add(1)
	go m.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		m.mu.Lock()
		for _, c := range m.conn {
			_ = c.Close()
		}
		m.mu.Unlock()
		m.wg.Wait()
	})
	return m
}

func (m *minimalServer) serve() {
	defer m.wg.Done()
	for {
		c, err := m.ln.Accept()
		if err != nil {
			return
		}
		m.mu.Lock()
		m.conn = append(m.conn, c)
		m.mu.Unlock()
		m.wg.Add(1)
		go m.handle(c)
	}
}

func (m *minimalServer) handle(c net.Conn) {
	defer m.wg.Done()
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		name := strings.ToLower(args[0])
		m.mu.Lock()
		m.seen = append(m.seen, strings.ToLower(strings.Join(args, " ")))
		m.mu.Unlock()
		var reply string
		switch {
		case name == "ping":
			reply = "+PONG\r\n"
		case name == "echo" && len(args) == 2:
			reply = fmt.Sprintf("$%d\r\n%s\r\n", len(args[1]), args[1])
		default:
			reply = fmt.Sprintf("-ERR unknown command '%s', with args beginning with: \r\n", args[0])
		}
		if _, err := io.WriteString(c, reply); err != nil {
			return
		}
	}
}

func (m *minimalServer) commands() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.seen...)
}

// readCommand reads one RESP array of bulk strings.
func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return nil, fmt.Errorf("not an array: %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil || n < 1 {
		return nil, fmt.Errorf("bad array header %q", line)
	}
	args := make([]string, n)
	for i := range args {
		hdr, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(hdr, "$")))
		if err != nil {
			return nil, fmt.Errorf("bad bulk header %q", hdr)
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		args[i] = string(buf[:size])
	}
	return args, nil
}

func TestClientWorksAgainstMinimalServer(t *testing.T) {
	m := startMinimalServer(t)
	c := NewClient(m.ln.Addr().String(), 0)
	defer c.Close()
	ctx := context.Background()

	require.NoError(t, c.Ping(ctx).Err())
	got, err := c.Echo(ctx, "hi").Result()
	require.NoError(t, err)
	assert.Equal(t, "hi", got)

	cmds := m.commands()
	assert.Contains(t, cmds, "hello 2", "go-redis tries HELLO and must survive -ERR")
	for _, cmd := range cmds {
		assert.False(t, strings.HasPrefix(cmd, "client"), "unexpected %q", cmd)
	}
}

func TestClientAgainstRealServer(t *testing.T) {
	s := Start(t, Options{})
	ctx := context.Background()
	c := s.Client()
	require.NoError(t, c.Ping(ctx).Err())
	// RESP2, no library identity.
	list, err := c.ClientList(ctx).Result()
	require.NoError(t, err)
	assert.Contains(t, list, "resp=2")
	assert.NotContains(t, list, "lib-name=go-redis")

	c3 := s.ClientDB(3)
	require.NoError(t, c3.Set(ctx, "in3", "x", 0).Err())
	n, err := c.Exists(ctx, "in3").Result()
	require.NoError(t, err)
	assert.Zero(t, n)
}
