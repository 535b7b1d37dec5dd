package redisview

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestTTLTokenStableAcrossReads(t *testing.T) {
	opts := DigestOptions{}
	deadline := int64(1_700_000_005_000) // mid-bucket for 10 s buckets
	for _, lag := range []int64{0, 1, 300, 800, 2000} {
		now := deadline - 600_000 + lag
		assert.Equal(t, ttlToken(opts, 600_000, deadline-600_000), ttlToken(opts, deadline-now, now), "lag %d ms", lag)
	}
	assert.Equal(t, "none", ttlToken(opts, -1, 0))
	assert.Equal(t, "r60", ttlToken(DigestOptions{TTL: TTLRemaining}, 600_000, 0))
	assert.Equal(t, "r60", ttlToken(DigestOptions{TTL: TTLRemaining}, 590_001, 0))
	assert.Equal(t, "r59", ttlToken(DigestOptions{TTL: TTLRemaining}, 590_000, 0))
	assert.Equal(t, "ttl", ttlToken(DigestOptions{TTL: TTLPresence}, 5, 0))
	assert.Equal(t, "d2", ttlToken(DigestOptions{Bucket: time.Second}, 1500, 1000))
}
