package keyspace

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/redis/resp/resptest"
)

// TestGeoAgainstRealRedis: points added with GEOADD on redis-server reach
// the keyspace as the ZADD a primary propagates; every search, store and
// read then answers as redis-server does, stored scores (geohashes and
// distances) bit for bit.
func TestGeoAgainstRealRedis(t *testing.T) {
	srv := resptest.Start(t, resptest.Options{})
	cli := srv.Dial(t)
	ks := New(clock.New())
	db := 0
	do := func(cmd ...string) {
		t.Helper()
		want, err := cli.Do(cmd...)
		require.NoError(t, err, "%q", cmd)
		args := make([][]byte, len(cmd))
		for i, a := range cmd {
			args[i] = []byte(a)
		}
		got, err := ks.Apply(&db, args)
		require.NoError(t, err, "%q", cmd)
		name := strings.ToLower(cmd[0])
		if name == "georadius_ro" || name == "georadiusbymember_ro" || name == "geosearch" {
			// Unsorted results come in Redis's box order; compare as sets.
			if !strings.Contains(strings.ToLower(strings.Join(cmd, " ")), "asc") && !strings.Contains(strings.ToLower(strings.Join(cmd, " ")), "desc") && !strings.Contains(strings.ToLower(strings.Join(cmd, " ")), "count") {
				want, got = sortArray(want), sortArray(got)
			}
		}
		require.True(t, want.Equal(got), "%q:\nredis:    %v\nkeyspace: %v", cmd, want, got)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		lon := 13 + rng.Float64()*4
		lat := 36 + rng.Float64()*3
		m := fmt.Sprintf("p%d", i)
		_, err := cli.Do("GEOADD", "pts", fmt.Sprintf("%.6f", lon), fmt.Sprintf("%.6f", lat), m)
		require.NoError(t, err)
		score, err := cli.Do("ZSCORE", "pts", m)
		require.NoError(t, err)
		_, err = ks.Apply(&db, [][]byte{[]byte("ZADD"), []byte("pts"), score.Str, []byte(m)})
		require.NoError(t, err)
	}
	do("ZRANGE", "pts", "0", "-1", "WITHSCORES")
	for _, c := range [][]string{
		{"GEOSEARCHSTORE", "d1", "pts", "FROMLONLAT", "15", "37.5", "BYRADIUS", "100", "km"}, {"ZRANGE", "d1", "0", "-1", "WITHSCORES"},
		{"GEOSEARCHSTORE", "d2", "pts", "FROMMEMBER", "p7", "BYBOX", "150", "80", "km", "STOREDIST"}, {"ZRANGE", "d2", "0", "-1", "WITHSCORES"},
		{"GEOSEARCHSTORE", "d3", "pts", "FROMLONLAT", "15", "37.5", "BYRADIUS", "60", "mi", "DESC", "COUNT", "5", "STOREDIST"}, {"ZRANGE", "d3", "0", "-1", "WITHSCORES"},
		{"GEORADIUS", "pts", "14", "37", "50000", "m", "STORE", "d4"}, {"ZRANGE", "d4", "0", "-1", "WITHSCORES"},
		{"GEORADIUS", "pts", "14", "37", "90", "km", "ASC", "COUNT", "10", "STOREDIST", "d5"}, {"ZRANGE", "d5", "0", "-1", "WITHSCORES"},
		{"GEORADIUSBYMEMBER", "pts", "p3", "200000", "ft", "STORE", "d6"}, {"ZRANGE", "d6", "0", "-1", "WITHSCORES"},
		{"GEOSEARCHSTORE", "d1", "pts", "FROMLONLAT", "100", "10", "BYRADIUS", "1", "km"}, {"EXISTS", "d1"},
		{"GEOSEARCHSTORE", "d1", "nopts", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km"},
		{"GEOSEARCH", "pts", "FROMLONLAT", "15", "37.5", "BYRADIUS", "30", "km", "ASC", "WITHDIST", "WITHCOORD", "WITHHASH"},
		{"GEOSEARCH", "pts", "FROMMEMBER", "p1", "BYBOX", "40", "40", "km"},
		{"GEORADIUS_RO", "pts", "15", "37", "20", "km", "WITHDIST", "DESC"},
		{"GEORADIUSBYMEMBER_RO", "pts", "p2", "25", "km"},
		{"GEOPOS", "pts", "p0", "p299", "nope"}, {"GEODIST", "pts", "p0", "p1"}, {"GEODIST", "pts", "p0", "p1", "km"},
		{"GEODIST", "pts", "p0", "nope"}, {"GEODIST", "pts", "p0", "p1", "parsec"},
		{"GEOSEARCH", "pts", "FROMMEMBER", "nope", "BYRADIUS", "1", "km"}, {"GEOSEARCH", "pts", "BYRADIUS", "1", "km"},
		{"GEOSEARCH", "pts", "FROMLONLAT", "15", "37", "BYRADIUS", "-1", "km"}, {"GEOSEARCH", "pts", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "yd"},
		{"GEORADIUS", "pts", "200", "37", "1", "km"}, {"GEOSEARCH", "pts", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "COUNT", "0"},
		{"GEOSEARCH", "pts", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "ANY"},
	} {
		do(c...)
	}
	assert.NotEmpty(t, ks.Digest())
}
