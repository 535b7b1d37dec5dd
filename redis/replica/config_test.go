package replica

import (
	"os"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/slot"
)

func TestConfigValidate(t *testing.T) {
	good := func() Config {
		cfg := DefaultConfig()
		cfg.Shards = map[slot.ID]string{0: "127.0.0.1:7000"}
		cfg.ListenAddr = "127.0.0.1:0"
		return cfg
	}
	require.NoError(t, good().Validate())
	tests := []struct {
		name   string
		change func(*Config)
		msg    string
	}{
		{"no shards", func(c *Config) { c.Shards = nil }, "no shards"},
		{"negative id", func(c *Config) { c.Shards = map[slot.ID]string{-1: "127.0.0.1:1"} }, "negative"},
		{"no port", func(c *Config) { c.Shards[0] = "127.0.0.1" }, "missing port"},
		{"empty host", func(c *Config) { c.Shards[0] = ":7000" }, "empty host"},
		{"bad port", func(c *Config) { c.Shards[0] = "127.0.0.1:70000" }, "bad port"},
		{"no listen", func(c *Config) { c.ListenAddr = "" }, "ListenAddr"},
		{"listening port", func(c *Config) { c.ListeningPort = -1 }, "ListeningPort"},
		{"ack period", func(c *Config) { c.AckPeriod = 0 }, "AckPeriod"},
		{"dial timeout", func(c *Config) { c.DialTimeout = -time.Second }, "DialTimeout"},
		{"read timeout", func(c *Config) { c.ReadTimeout = 0 }, "ReadTimeout"},
		{"dial vs meta timeout", func(c *Config) { c.DialTimeout = c.Instance.MetaTimeout }, "shorter than Instance.MetaTimeout"},
		{"slot config", func(c *Config) { c.SlotConfig.KeepaliveTimeout = 0 }, "KeepaliveTimeout"},
		{"instance config", func(c *Config) { c.Instance.RecoveryCap = 0 }, "RecoveryCap"},
		{"snapshot interval with state dir", func(c *Config) { c.StateDir, c.SnapshotInterval = "/tmp", 0 }, "SnapshotInterval must be > 0"},
		{"negative snapshot bytes", func(c *Config) { c.SnapshotBytes = -1 }, "SnapshotBytes must be >= 0"},
		{"negative replica priority", func(c *Config) { c.ReplicaPriority = -1 }, "ReplicaPriority must be >= 0"},
		{"sentinel without sentinels", func(c *Config) {
			c.Sentinel = &SentinelConfig{Masters: map[slot.ID]string{0: "m"}}
		}, "needs Sentinels and Masters"},
		{"sentinel shard not in shards", func(c *Config) {
			c.Sentinel = &SentinelConfig{Sentinels: []string{"127.0.0.1:26379"}, Masters: map[slot.ID]string{1: "m"}}
		}, "not in Shards"},
		{"sentinel bad address", func(c *Config) {
			c.Sentinel = &SentinelConfig{Sentinels: []string{"127.0.0.1"}, Masters: map[slot.ID]string{0: "m"}}
		}, "missing port"},
		{"sentinel name twice", func(c *Config) {
			c.Shards[1] = "127.0.0.1:7001"
			c.Sentinel = &SentinelConfig{Sentinels: []string{"127.0.0.1:26379"}, Masters: map[slot.ID]string{0: "m", 1: "m"}}
		}, "both follow sentinel name"},
		{"sentinel negative hold", func(c *Config) {
			c.Sentinel = &SentinelConfig{Sentinels: []string{"127.0.0.1:26379"}, Masters: map[slot.ID]string{0: "m"}, FailoverHold: -1}
		}, "FailoverHold"},
		{"negative spool ceiling", func(c *Config) { c.MaxStreamSpool = -1 }, "MaxPayload, SpoolMemory and MaxStreamSpool must be >= 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good()
			tt.change(&cfg)
			err := cfg.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.msg)
			_, err = New(cfg, clock.New())
			assert.Error(t, err)
		})
	}
	_, err := New(good(), nil)
	assert.ErrorIs(t, err, ErrInvalidConfig)
}

func TestStartFailsOnBusyAddress(t *testing.T) {
	a := startReplica(t, testConfig(t, map[slot.ID]string{0: "127.0.0.1:1"}))
	cfg := testConfig(t, map[slot.ID]string{0: "127.0.0.1:1"})
	cfg.ListenAddr = a.Addr()
	b, err := New(cfg, clock.New())
	require.NoError(t, err)
	err = b.Start()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "listen on "+a.Addr())
	require.NoError(t, b.Close())
}

func TestUnknownShard(t *testing.T) {
	r, err := New(testConfig(t, map[slot.ID]string{3: "127.0.0.1:1"}), clock.New())
	require.NoError(t, err)
	defer r.Close()
	_, err = r.Cursor(4)
	assert.ErrorIs(t, err, ErrUnknownShard)
	_, err = r.Stats(4)
	assert.ErrorIs(t, err, ErrUnknownShard)
	assert.ErrorIs(t, r.Reset(4, "x"), ErrUnknownShard)
	assert.Error(t, r.Reset(3, "x"), "a shard that is not in Error cannot be reset")
	assert.Equal(t, []slot.ID{3}, r.ShardIDs())
	assert.Equal(t, "", r.Addr())
}

func TestConfigSpoolDefaults(t *testing.T) {
	var c Config
	assert.Equal(t, os.TempDir(), c.spoolDir())
	assert.Equal(t, DefaultSpoolMemory, c.spoolMemory())
	c.StateDir = "/state"
	assert.Equal(t, "/state", c.spoolDir(), "the state dir when there is one")
	c.SpoolDir, c.SpoolMemory = "/spool", 5
	assert.Equal(t, "/spool", c.spoolDir())
	assert.Equal(t, int64(5), c.spoolMemory())
	assert.Equal(t, DefaultMaxStreamSpool, DefaultConfig().MaxStreamSpool)
}
