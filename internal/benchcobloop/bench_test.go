package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestMain checks that a run leaves no goroutine behind (writer, sampler,
// our replica's sessions, process waiters, clients).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestRunSmallScenario runs the machinery on a tiny dataset and a short
// load: both followers sync, catch up and match the primary. No figure is
// checked: on a small dataset nobody loops.
func TestRunSmallScenario(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ZSets, cfg.ZMembers, cfg.Strings = 2, 2000, 500
	cfg.Rate, cfg.LoadFor, cfg.Keyspace = 200, 2*time.Second, 100
	cfg.SettleTimeout = time.Minute
	cfg.Progress = testWriter{t}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, cfg)
	require.NoError(t, err)
	require.Len(t, res.Followers, 2)
	for _, f := range res.Followers {
		assert.True(t, f.CaughtUp, f.Name)
		assert.Equal(t, "equal", f.Digest, f.Name)
		assert.GreaterOrEqual(t, f.FullSyncs, int64(1), f.Name)
		assert.Positive(t, f.Writes, f.Name)
	}
	assert.EqualValues(t, 2+500, res.Keys)
	md := res.Markdown()
	assert.Contains(t, md, "| replsm replica | ")
	assert.Contains(t, md, "client-output-buffer-limit replica 24mb 16mb 2")
}

func TestMissedTargets(t *testing.T) {
	res := Result{Config: DefaultConfig(), SoftLimit: 16 << 20, Followers: []Follower{
		{Name: followerStock, FullSyncs: 9, Drops: 8, PeakBuffer: 25 << 20},
		{Name: followerReplsm, FullSyncs: 1, PeakBuffer: 7 << 20, CaughtUp: true, Digest: "equal"},
	}}
	assert.Empty(t, res.Missed(), "the stock replica's loop is not a target")
	res.Followers[1].FullSyncs, res.Followers[1].PeakBuffer, res.Followers[1].Digest = 3, 16<<20, "DIFFERENT"
	missed := strings.Join(res.Missed(), "\n")
	assert.Contains(t, missed, "replsm made 3 full syncs, want 1")
	assert.Contains(t, missed, "peaked at 16777216 bytes, soft limit 16777216")
	assert.Contains(t, missed, "digest: DIFFERENT")
}

func TestConfigAndFlags(t *testing.T) {
	soft, err := softLimit("normal 0 0 0 slave 25165824 16777216 2 pubsub 33554432 8388608 60")
	require.NoError(t, err)
	assert.Equal(t, int64(16<<20), soft)
	_, err = softLimit("normal 0 0 0")
	assert.Error(t, err)
	for _, bad := range []string{"24mb 16mb", ""} {
		c := DefaultConfig()
		c.Limit = bad
		assert.Error(t, c.Validate(), bad)
	}
	c := DefaultConfig()
	c.Rate = 0
	assert.Error(t, c.Validate())

	var stdout, stderr bytes.Buffer
	assert.Equal(t, 2, run([]string{"-rate", "0"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "must be > 0")
	assert.Equal(t, 2, run([]string{"extra"}, &stdout, &stderr))
	assert.Equal(t, 0, run([]string{"-h"}, &stdout, &stderr))
}
