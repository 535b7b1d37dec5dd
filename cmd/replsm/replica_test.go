package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
)

func TestReplicaFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"no shards", []string{"--listen", "127.0.0.1:0"}, "no shards"},
		{"shard and cluster", []string{"--shard", "0=127.0.0.1:7000", "--cluster", "127.0.0.1:7001"}, "--shard and --cluster exclude each other"},
		{"cluster and state dir", []string{"--cluster", "127.0.0.1:7001", "--state-dir", "/tmp"}, "--cluster with --state-dir"},
		{"shard without =", []string{"--shard", "127.0.0.1:7000"}, "want ID=HOST:PORT"},
		{"shard id not a number", []string{"--shard", "a=127.0.0.1:7000"}, `shard id "a"`},
		{"negative shard id", []string{"--shard", "-1=127.0.0.1:7000"}, "not a non-negative integer"},
		{"shard address without port", []string{"--shard", "0=127.0.0.1"}, "missing port"},
		{"shard address bad port", []string{"--shard", "0=127.0.0.1:99999"}, "bad port"},
		{"shard address empty host", []string{"--shard", "0=:7000"}, "empty host"},
		{"duplicate shard id", []string{"--shard", "0=127.0.0.1:7000", "--shard", "0=127.0.0.1:7001"}, "duplicate shard id 0"},
		{"bad listen", []string{"--shard", "0=127.0.0.1:7000", "--listen", "nonsense"}, "--listen"},
		{"zero cap", []string{"--shard", "0=127.0.0.1:7000", "--cap", "0"}, "--cap must be >= 1"},
		{"zero keepalive", []string{"--shard", "0=127.0.0.1:7000", "--keepalive", "0s"}, "must be > 0"},
		{"negative exhausted retry", []string{"--shard", "0=127.0.0.1:7000", "--exhausted-retry", "-1s"}, "--exhausted-retry must be >= 0"},
		{"zero probe interval", []string{"--shard", "0=127.0.0.1:7000", "--probe-interval", "0s"}, "--probe-interval must be > 0"},
		{"negative busy poll", []string{"--shard", "0=127.0.0.1:7000", "--busy-poll", "-5ms"}, "--busy-poll must be > 0"},
		{"negative seed", []string{"--shard", "0=127.0.0.1:7000", "--seed", "-1"}, "invalid value"},
		{"bad duration", []string{"--shard", "0=127.0.0.1:7000", "--reply-timeout", "soon"}, "invalid value"},
		{"extra argument", []string{"--shard", "0=127.0.0.1:7000", "extra"}, `unexpected argument "extra"`},
		{"unknown flag", []string{"--nope"}, "flag provided but not defined"},
		{"notify url scheme", []string{"--shard", "0=127.0.0.1:7000", "--notify-url", "ftp://x/y"}, "--notify-url"},
		{"notify url without host", []string{"--shard", "0=127.0.0.1:7000", "--notify-url", "http://"}, "has no host"},
		{"notify url unparsable", []string{"--shard", "0=127.0.0.1:7000", "--notify-url", "http://[::1"}, "--notify-url"},
		{"zero snapshot interval", []string{"--shard", "0=127.0.0.1:7000", "--snapshot-interval", "0s"}, "--snapshot-interval must be > 0"},
		{"keepalive below the primary's ping", []string{"--shard", "0=127.0.0.1:7000", "--keepalive", "2s"}, "must be longer than the primaries' ping period"},
		{"keepalive equal to the ping", []string{"--shard", "0=127.0.0.1:7000", "--keepalive", "5s", "--primary-ping-period", "5s"}, "--primary-ping-period 5s"},
		{"read timeout below keepalive", []string{"--shard", "0=127.0.0.1:7000", "--read-timeout", "15s"}, "--read-timeout 15s is below --keepalive 20s"},
		{"two shards one primary", []string{"--shard", "0=127.0.0.1:7000", "--shard", "3=127.0.0.1:7000"}, "shards 0 and 3 both follow 127.0.0.1:7000"},
		{"negative snapshot bytes", []string{"--shard", "0=127.0.0.1:7000", "--snapshot-bytes", "-1"}, "--snapshot-bytes must be >= 0"},
		{"negative stream spool", []string{"--shard", "0=127.0.0.1:7000", "--max-stream-spool", "-1"}, "--max-stream-spool and --max-value >= 0"},
		{"negative max value", []string{"--shard", "0=127.0.0.1:7000", "--max-value", "-1"}, "--max-value >= 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"replica"}, tt.args...), &stdout, &stderr)
			assert.Equal(t, 2, code, stderr.String())
			assert.Contains(t, stderr.String(), tt.msg)
		})
	}
}

func TestReplicaListenBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"replica", "--shard", "0=127.0.0.1:1", "--listen", ln.Addr().String()}, &stdout, &stderr)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr.String(), "listen on "+ln.Addr().String())
}

// TestReplicaRunsUntilCancelled: an unreachable primary is not a startup
// error; the command serves reads, warns, logs the shard's transitions and
// exits 0 when its context ends.
func TestReplicaRunsUntilCancelled(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadAddr := dead.Addr().String()
	require.NoError(t, dead.Close()) // nothing listens there now

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout bytes.Buffer
	var stderr redistest.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"replica", "--shard", "0=" + deadAddr, "--listen", "127.0.0.1:0", "--cap", "1", "--keepalive", "2s", "--primary-ping-period", "1s"}, &stdout, &stderr)
	}()
	addrRE := regexp.MustCompile(`msg="replica serving reads" addr=(\S+)`)
	var addr string
	redistest.RequireEventually(t, 30*time.Second, "serving", func(context.Context) error {
		m := addrRE.FindStringSubmatch(stderr.String())
		if m == nil {
			return fmt.Errorf("stderr so far:\n%s", stderr.String())
		}
		addr = m[1]
		return nil
	})
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, err = fmt.Fprint(c, "PING\r\n")
	require.NoError(t, err)
	reply := make([]byte, 7)
	_, err = c.Read(reply)
	require.NoError(t, err)
	assert.Equal(t, "+PONG\r\n", string(reply))
	require.NoError(t, c.Close())

	redistest.RequireEventually(t, 30*time.Second, "exhaustion logged", func(context.Context) error {
		if !strings.Contains(stderr.String(), "slot recovery budget exhausted") {
			return fmt.Errorf("stderr so far:\n%s", stderr.String())
		}
		return nil
	})
	cancel()
	select {
	case code := <-done:
		assert.Equal(t, 0, code, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("replica did not stop after its context ended")
	}
	out := stderr.String()
	assert.Contains(t, out, "shard endpoint unreachable")
	assert.Contains(t, out, "msg=transition machine=slot id=slot/0")
	assert.Contains(t, out, "connection refused")
}
