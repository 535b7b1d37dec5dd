package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The real run takes minutes (make bench-recovery); these tests check what
// it reads and how it judges, on canned input.

func writeLog(t *testing.T, lines ...string) string {
	p := filepath.Join(t.TempDir(), "log")
	require.NoError(t, os.WriteFile(p, []byte(strings.Join(lines, "")), 0o644))
	return p
}

func TestCountReplsm(t *testing.T) {
	p := writeLog(t,
		`time=T level=INFO msg=transition machine=slot id=slot/0 seq=2 event=send_try_sync from=TryConnect to=WaitReply session=2`+"\n",
		`time=T level=INFO msg=transition machine=slot id=slot/0 seq=9 event=send_db_sync from=TryDBSync to=WaitReply session=3`+"\n",
		`time=T level=INFO msg=transition machine=instance id=instance seq=2 event=send_meta from=Connect to=Connecting session=1`+"\n",
		`time=T level=INFO msg=transition machine=slot id=slot/0 seq=9 event=busy from=WaitReply to=TryConnect session=3 reason="primary busy: PING: -LOADING"`+"\n",
		`time=T level=INFO msg=transition machine=slot id=slot/0 seq=9 event=busy_full from=WaitReply to=TryDBSync session=4`+"\n",
		`time=T level=ERROR msg="slot recovery budget exhausted; retrying every 5m0s" id=slot/0`+"\n",
		`time=T level=INFO msg=transition machine=slot id=slot/0 seq=10 event=send_try_sync_but_not_quite`+"\n",
		`time=T level=INFO msg=transition machine=slot id=slot/0 seq=11 event=send_try_sync from=TryConnect`, // still being written
	)
	hs, ex, busy, err := countReplsm(p)
	require.NoError(t, err)
	assert.Equal(t, 2, hs)
	assert.Equal(t, 1, ex)
	assert.Equal(t, 2, busy)

	_, _, _, err = countReplsm(filepath.Join(t.TempDir(), "missing"))
	assert.Error(t, err)
}

func TestCountRedisHandshakes(t *testing.T) {
	p := writeLog(t,
		"123:S 01 Dec 2026 11:25:43.574 * Connecting to MASTER 127.0.0.1:6379\n",
		"123:S 01 Dec 2026 11:25:43.574 * MASTER <-> REPLICA sync started\n",
		"123:S 01 Dec 2026 11:25:43.574 # Error condition on socket for SYNC: Connection refused\n",
		"123:S 01 Dec 2026 11:25:44.580 * Connecting to MASTER 127.0.0.1:6379\n",
	)
	n, err := countLines(p, isRedisHandshake)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
}

func result() Result {
	return Result{
		Config: DefaultConfig(), RedisVersion: "7.0.15", Machine: "test",
		Scenarios: []Scenario{
			{Name: "outage", Handshakes: [nFollowers]int{5, 90}, Back: [nFollowers]time.Duration{800 * time.Millisecond, 900 * time.Millisecond}, Exhausted: 1},
			{Name: "loading", Handshakes: [nFollowers]int{30, 30}, Back: [nFollowers]time.Duration{time.Second, 500 * time.Millisecond}, Busy: 30, SawLoading: true},
		},
	}
}

func TestTargets(t *testing.T) {
	r := result()
	assert.Empty(t, r.Missed())
	md := r.Markdown()
	assert.Contains(t, md, "| outage | replsm replica | 5 | 0.80 s | yes (1 report) |")
	assert.Contains(t, md, "| outage | redis-server --replicaof | 90 | 0.90 s | — |")
	assert.Contains(t, md, "| loading | replsm replica | 30 (30 busy) | 1.00 s | no |")
	assert.Contains(t, md, "**met**")

	r.Scenarios[0].Handshakes[fOurs] = 13
	r.Scenarios[0].Back[fOurs] = -1
	r.Scenarios[1].Exhausted = 1
	r.Scenarios[1].SawLoading = false
	r.Scenarios[1].Back[fOurs] = 3500 * time.Millisecond
	missed := r.Missed()
	require.Len(t, missed, 5)
	assert.Contains(t, missed[0], "not back")
	assert.Contains(t, missed[1], "13 sync handshakes")
	assert.Contains(t, missed[2], "3.50 s")
	assert.Contains(t, missed[3], "exhausted")
	assert.Contains(t, missed[4], "-LOADING")
	assert.Contains(t, r.Markdown(), "**missed**")

	// The real replica's figures are reported, not judged.
	r = result()
	r.Scenarios[0].Handshakes[fReal] = 1000
	r.Scenarios[0].Back[fReal] = -1
	assert.Empty(t, r.Missed())
}

func TestConfig(t *testing.T) {
	c := DefaultConfig()
	require.NoError(t, c.Validate())
	assert.Equal(t, 300, c.keys())
	c.Loading = 0
	require.NoError(t, c.Validate(), "no loading scenario")
	for _, bad := range []func(*Config){
		func(c *Config) { c.Outage = 0 },
		func(c *Config) { c.Loading = -time.Second },
		func(c *Config) { c.KeyLoadDelay = 0 },
		func(c *Config) { c.Loading = time.Hour; c.KeyLoadDelay = 1 },
		func(c *Config) { c.MaxBack = 0 },
		func(c *Config) { c.MaxHandshakes = -1 },
	} {
		c := DefaultConfig()
		bad(&c)
		assert.Error(t, c.Validate())
	}
}

func TestRunUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"--outage", "0s"}, {"--nope"}, {"extra"}, {"--key-load-delay", "0"}} {
		var out, errb bytes.Buffer
		assert.Equal(t, 2, run(args, &out, &errb), "%v: %s", args, errb.String())
		assert.Empty(t, out.String())
	}
	var out, errb bytes.Buffer
	assert.Equal(t, 0, run([]string{"-h"}, &out, &errb))
}
