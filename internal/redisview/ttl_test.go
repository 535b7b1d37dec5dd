package redisview

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TTLDeadline hashes the absolute expiry read from the server: the same
// deadline gives the same token whenever it is read, even one a
// millisecond from a bucket edge.
func TestTTLTokenStableAcrossReads(t *testing.T) {
	opts := DigestOptions{}
	for _, deadline := range []int64{1_700_000_005_000, 1_700_000_009_999, 1_700_000_010_000} {
		for _, now := range []int64{deadline - 600_000, deadline - 1, deadline + 5_000} {
			assert.Equal(t, ttlToken(opts, deadline, 0), ttlToken(opts, deadline, now), "deadline %d read at %d", deadline, now)
		}
	}
	assert.Equal(t, "d170000000", ttlToken(opts, 1_700_000_009_999, 0))
	assert.Equal(t, "d170000001", ttlToken(opts, 1_700_000_010_000, 0))
	assert.Equal(t, "none", ttlToken(opts, -1, 0))
	assert.Equal(t, "r60", ttlToken(DigestOptions{TTL: TTLRemaining}, 600_000, 0))
	assert.Equal(t, "r60", ttlToken(DigestOptions{TTL: TTLRemaining}, 590_001, 0))
	assert.Equal(t, "r59", ttlToken(DigestOptions{TTL: TTLRemaining}, 590_000, 0))
	assert.Equal(t, "ttl", ttlToken(DigestOptions{TTL: TTLPresence}, 5, 0))
	assert.Equal(t, "d2", ttlToken(DigestOptions{Bucket: time.Second}, 2500, 1000))
}
