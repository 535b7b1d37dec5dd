package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
)

// promtoolCheck lints an exposition with `promtool check metrics` (Debian
// package prometheus, installed by make deps).
func promtoolCheck(t *testing.T, text []byte) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool not installed: run `make deps` (Debian package prometheus)")
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics:\n%s", out)
}

func httpGet(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", url, res.Status, b)
	}
	return string(b), nil
}

// TestReplicaMetricsListen: `replsm replica --metrics-listen` against a
// real redis-server serves /metrics that promtool accepts, with the core's
// and the Redis embedding's series for the shard, and the status page.
func TestReplicaMetricsListen(t *testing.T) {
	p := redistest.Start(t, redistest.Options{Name: "primary"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, p.Client().Set(ctx, "k", "v", time.Hour).Err())

	rctx, stop := context.WithCancel(ctx)
	var stdout, stderr redistest.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(rctx, []string{"replica", "--shard", "0=" + p.Addr(), "--listen", "127.0.0.1:0",
			"--metrics-listen", "127.0.0.1:0", "--lag-probe", "100ms"}, &stdout, &stderr)
	}()
	urlRE := regexp.MustCompile(`msg="status page and metrics" url=(\S+)`)
	var base string
	redistest.RequireEventually(t, 20*time.Second, "status page address logged", func(context.Context) error {
		m := urlRE.FindStringSubmatch(stderr.String())
		if m == nil {
			return fmt.Errorf("stderr so far:\n%s", stderr.String())
		}
		base = m[1]
		return nil
	})
	var text string
	redistest.RequireEventually(t, 30*time.Second, "shard 0 Connected with a lag sample in /metrics", func(ctx context.Context) error {
		var err error
		if text, err = httpGet(ctx, base+"metrics"); err != nil {
			return err
		}
		for _, want := range []string{`replsm_slot_state{shard="0",state="Connected"} 1`, `replsm_redis_lag_bytes{shard="0"} 0`} {
			if !strings.Contains(text, want) {
				return fmt.Errorf("no %s yet", want)
			}
		}
		return nil
	})
	promtoolCheck(t, []byte(text))
	for _, want := range []string{
		`replsm_slot_full_syncs_total{shard="0"} 1`,
		`replsm_slot_transitions_total{event="db_sync_done",shard="0"} 1`,
		`replsm_slots{state="Connected"} 1`,
		`replsm_instance_state{state="Connected"} 1`,
		`replsm_link_up 1`,
		`replsm_redis_keys{shard="0"} 1`,
		`replsm_redis_lag_seconds{shard="0"} 0`,
		`replsm_redis_sync_in_progress{shard="0"} 0`,
		"replsm_redis_last_full_sync_bytes{shard=\"0\"} ",
		"replsm_redis_offset_bytes{shard=\"0\"} ",
		"go_goroutines ",
	} {
		assert.Contains(t, text, want)
	}

	page, err := httpGet(ctx, base)
	require.NoError(t, err)
	assert.Contains(t, page, "<title>replsm replica")
	js, err := httpGet(ctx, base+"static/app.js")
	require.NoError(t, err)
	assert.Contains(t, js, "EventSource")
	status, err := httpGet(ctx, base+"api/status")
	require.NoError(t, err)
	var doc struct {
		Shards []struct {
			ID    int    `json:"id"`
			State string `json:"state"`
		} `json:"shards"`
		Counts map[string]int `json:"counts"`
	}
	require.NoError(t, json.Unmarshal([]byte(status), &doc))
	require.Len(t, doc.Shards, 1)
	assert.Equal(t, "Connected", doc.Shards[0].State)
	assert.Equal(t, 1, doc.Counts["Connected/Connected"])
	mmd, err := httpGet(ctx, base+"api/chart.mmd")
	require.NoError(t, err)
	assert.Contains(t, mmd, "Connected ×1")

	stop()
	select {
	case code := <-done:
		assert.Equal(t, 0, code, stderr.String())
	case <-time.After(15 * time.Second):
		t.Fatal("replica did not stop")
	}
}

// TestPrimaryMetricsListen: `replsm primary --metrics-listen` with a real
// redis-server following it serves /metrics that promtool accepts, with the
// follower's state.
func TestPrimaryMetricsListen(t *testing.T) {
	port, err := redistest.FreePort()
	require.NoError(t, err)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pctx, stop := context.WithCancel(ctx)
	var stdout, stderr redistest.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(pctx, []string{"primary", "--listen", addr, "--metrics-listen", "127.0.0.1:0"}, &stdout, &stderr)
	}()
	urlRE := regexp.MustCompile(`metrics on (\S+)`)
	var url string
	redistest.RequireEventually(t, 20*time.Second, "metrics address printed", func(context.Context) error {
		m := urlRE.FindStringSubmatch(stdout.String())
		if m == nil {
			return fmt.Errorf("stdout so far:\n%s", stdout.String())
		}
		url = m[1]
		return nil
	})
	redistest.Start(t, redistest.Options{Name: "follower", Args: redistest.ReplicaOfArgs(port)})
	var text string
	redistest.RequireEventually(t, 30*time.Second, "the follower streaming in /metrics", func(ctx context.Context) error {
		var err error
		if text, err = httpGet(ctx, url); err != nil {
			return err
		}
		if !regexp.MustCompile(`replsm_follower_state\{follower="[^"]+",state="BinlogSync"\} 1`).MatchString(text) {
			return fmt.Errorf("no follower in BinlogSync yet")
		}
		return nil
	})
	promtoolCheck(t, []byte(text))
	assert.Contains(t, text, "replsm_primary_full_syncs_total 1")
	assert.Contains(t, text, "replsm_primary_followers 1")
	stop()
	select {
	case code := <-done:
		assert.Equal(t, 0, code, stderr.String())
	case <-time.After(15 * time.Second):
		t.Fatal("primary did not stop")
	}
}

func TestMetricsListenBadFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"replica", "--shard", "0=127.0.0.1:7000", "--metrics-listen", "nonsense"}, &stdout, &stderr)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr.String(), "--metrics-listen")
	stderr.Reset()
	code = run(context.Background(), []string{"replica", "--shard", "0=127.0.0.1:7000", "--lag-probe", "-1s"}, &stdout, &stderr)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr.String(), "--lag-probe")
	stderr.Reset()
	code = run(context.Background(), []string{"primary", "--listen", "127.0.0.1:0", "--metrics-listen", "nonsense"}, &stdout, &stderr)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr.String(), "--metrics-listen")
}

// TestDemoServesStatusPage: `replsm demo` prints the status page's address
// and serves it (and /metrics) while the demo runs.
func TestDemoServesStatusPage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr redistest.SyncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"demo", "--status-listen", "127.0.0.1:0"}, &stdout, &stderr) }()
	urlRE := regexp.MustCompile(`STATUS PAGE (\S+)`)
	var base string
	redistest.RequireEventually(t, 30*time.Second, "status page address printed", func(context.Context) error {
		m := urlRE.FindStringSubmatch(stdout.String())
		if m == nil {
			return fmt.Errorf("stdout so far:\n%s", stdout.String())
		}
		base = m[1]
		return nil
	})
	status, err := httpGet(ctx, base+"api/status")
	require.NoError(t, err)
	var doc struct {
		Shards []struct{ ID int } `json:"shards"`
	}
	require.NoError(t, json.Unmarshal([]byte(status), &doc))
	assert.Len(t, doc.Shards, 3)
	metrics, err := httpGet(ctx, base+"metrics")
	require.NoError(t, err)
	promtoolCheck(t, []byte(metrics))
	select {
	case code := <-done:
		assert.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	case <-ctx.Done():
		t.Fatal("demo did not end")
	}
}
