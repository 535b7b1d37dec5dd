package main

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
)

func TestPrimaryBadFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"primary", "--nosuch"}, "flag provided but not defined: -nosuch"},
		{[]string{"primary", "--backlog", "lots"}, `--backlog: invalid size "lots"`},
		{[]string{"primary", "--backlog", "0"}, `--backlog: invalid size "0"`},
		{[]string{"primary", "--ping", "0s"}, "PingPeriod must be > 0"},
		{[]string{"primary", "--repl-timeout", "soon"}, `invalid value "soon" for flag -repl-timeout`},
		{[]string{"primary", "extra"}, `unexpected argument "extra"`},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tt.args, &stdout, &stderr)
		assert.Equal(t, 2, code, "%q", tt.args)
		assert.Contains(t, stderr.String(), tt.msg, "%q", tt.args)
	}
}

func TestPrimaryListenFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"primary", "--listen", ln.Addr().String()}, &stdout, &stderr)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr.String(), "replsm primary: server: listen "+ln.Addr().String())
}

func TestPrimaryServesUntilCancelled(t *testing.T) {
	port, err := redistest.FreePort()
	require.NoError(t, err)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr redistest.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"primary", "--listen", addr, "--backlog", "64kb", "--ping", "1s"}, &stdout, &stderr)
	}()

	c := redistest.NewClient(addr, 0)
	defer c.Close()
	redistest.RequireEventually(t, 30*time.Second, "primary answers", func(ctx context.Context) error {
		return c.Set(ctx, "k", "v", 0).Err()
	})
	v, err := c.Get(context.Background(), "k").Result()
	require.NoError(t, err)
	assert.Equal(t, "v", v)
	info, err := redistest.ReplicationInfo(context.Background(), c)
	require.NoError(t, err)
	assert.Equal(t, "65536", info["repl_backlog_size"])

	cancel()
	select {
	case code := <-done:
		assert.Equal(t, 0, code, "stderr: %s", stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("primary did not stop")
	}
	assert.True(t, strings.HasPrefix(stdout.String(), "primary listening on "+addr), stdout.String())
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int{"1": 1, "1b": 1, "1k": 1000, "1kb": 1024, "2MB": 2 << 20, "1g": 1e9, "1gb": 1 << 30} {
		got, err := parseSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "mb", "-1", "1tb", "1.5mb", "99999999999gb"} {
		_, err := parseSize(in)
		assert.Error(t, err, in)
	}
}
