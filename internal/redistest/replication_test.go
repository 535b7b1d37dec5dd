package redistest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseInfo(t *testing.T) {
	info, err := ParseInfo("# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nslave0:ip=127.0.0.1,port=1,state=online\r\n\r\n")
	require.NoError(t, err)
	assert.Equal(t, "slave", info["role"])
	assert.Equal(t, "127.0.0.1", info["master_host"])
	assert.Equal(t, "ip=127.0.0.1,port=1,state=online", info["slave0"])

	_, err = ParseInfo("# Replication\r\n")
	assert.ErrorIs(t, err, ErrMalformedInfo)
}

// TestRealReplicaMatchesPrimary runs a real primary and a real --replicaof
// replica and proves the helpers against them: the link comes up, the replica
// catches up, and the digests of both are equal after FillAllTypes and a
// redis-benchmark load.
func TestRealReplicaMatchesPrimary(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	primary := Start(t, Options{Name: "primary"})
	replica := Start(t, Options{Name: "replica",
		Args: append(ReplicaOfArgs(primary.Port()), "--repl-timeout", "5")})
	pc, rc := primary.Client(), replica.Client()

	require.NoError(t, WaitReplicaUp(ctx, rc))
	info, err := ReplicationInfo(ctx, primary.Client())
	require.NoError(t, err)
	assert.Equal(t, "master", info["role"])
	assert.Equal(t, "1", info["connected_slaves"])

	require.NoError(t, FillAllTypes(ctx, pc, "fill", 300))
	require.NoError(t, WaitCaughtUp(ctx, pc, rc))
	pd, err := Digest(ctx, pc, FillDBs())
	require.NoError(t, err)
	rd, err := Digest(ctx, rc, FillDBs())
	require.NoError(t, err)
	require.Equal(t, pd.Digest, rd.Digest, "primary %v\nreplica %v\ndiff %v", pd, rd, pd.Diff(rd, 10))
	require.Positive(t, pd.DBs[0].WithTTL)
	t.Logf("after fill: %v", pd)

	res, err := RunBenchmark(ctx, primary.Addr(), 20_000, 8, 2_000)
	require.NoError(t, err)
	assert.Positive(t, res.RequestsPerSecond)
	require.NoError(t, WaitCaughtUp(ctx, pc, rc))
	pd2, err := Digest(ctx, pc, FillDBs())
	require.NoError(t, err)
	rd2, err := Digest(ctx, rc, FillDBs())
	require.NoError(t, err)
	require.Equal(t, pd2.Digest, rd2.Digest, "diff %v", pd2.Diff(rd2, 10))
	assert.NotEqual(t, pd.Digest, pd2.Digest)
	assert.Greater(t, pd2.DBs[0].Strings, pd.DBs[0].Strings)
	t.Logf("after benchmark (%.0f SET/s): %v", res.RequestsPerSecond, pd2)
}

func TestWaitReplicaUpTimesOut(t *testing.T) {
	// A replica of a port where nobody listens never gets its link up.
	port, err := FreePort()
	require.NoError(t, err)
	replica := Start(t, Options{Args: ReplicaOfArgs(port)})
	// Connect first, so that the short wait below is spent reading INFO and
	// not on a slow first dial and handshake (-race, a loaded machine).
	c := replica.Client()
	require.NoError(t, c.Ping(context.Background()).Err())
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = WaitReplicaUp(ctx, c)
	require.ErrorIs(t, err, ErrTimeout)
	assert.Contains(t, err.Error(), `master_link_status="down"`)
}
