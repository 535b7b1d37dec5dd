package primary

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBacklogWrapsAround(t *testing.T) {
	b := NewBacklog(8, 0)
	b.write([]byte("abcde"))
	assert.Equal(t, int64(0), b.start())
	b.write([]byte("fghij")) // wraps: positions 2..9 held
	assert.Equal(t, int64(10), b.end)
	assert.Equal(t, int64(2), b.start())
	assert.Equal(t, int64(8), b.hist)

	got, err := b.readAt(nil, 2, 100)
	require.NoError(t, err)
	assert.Equal(t, "cdefghij", string(got))
	got, err = b.readAt(nil, 7, 2)
	require.NoError(t, err)
	assert.Equal(t, "hi", string(got))
	got, err = b.readAt([]byte("x"), 10, 100)
	require.NoError(t, err)
	assert.Equal(t, "x", string(got), "at the end nothing is appended")

	_, err = b.readAt(nil, 1, 100)
	var purged errPurged
	require.ErrorAs(t, err, &purged)
	assert.Equal(t, errPurged{at: 1, start: 2}, purged)
	assert.Contains(t, err.Error(), "position 1")
	_, err = b.readAt(nil, 11, 100)
	assert.ErrorAs(t, err, &purged, "beyond the end")
}

func TestBacklogWriteLargerThanRing(t *testing.T) {
	b := NewBacklog(4, 3)
	b.write([]byte("0123456789"))
	assert.Equal(t, int64(13), b.end)
	assert.Equal(t, int64(9), b.start())
	got, err := b.readAt(nil, 9, 100)
	require.NoError(t, err)
	assert.Equal(t, "6789", string(got))
	b.write([]byte("ab"))
	got, err = b.readAt(nil, 11, 100)
	require.NoError(t, err)
	assert.Equal(t, "89ab", string(got))
}

func TestBacklogCoversEdges(t *testing.T) {
	b := NewBacklog(4, 100) // a fresh ring: nothing held, end 100
	assert.True(t, b.covers(100), "a follower exactly at the end misses nothing")
	assert.False(t, b.covers(99))
	assert.False(t, b.covers(101))
	b.write([]byte("abcdef"))
	assert.False(t, b.covers(101), "overwritten")
	assert.True(t, b.covers(102), "oldest byte held")
	assert.True(t, b.covers(106))
	assert.False(t, b.covers(107))

	b.reset(0)
	assert.True(t, b.covers(0))
	assert.False(t, b.covers(106))
	assert.Equal(t, int64(0), b.hist)
}

// TestBacklogMatchesModel checks the ring against the whole stream kept in
// a slice, over random writes of every size around the ring's.
func TestBacklogMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{1, 7, 64} {
		b := NewBacklog(size, 0)
		var stream []byte
		for i := 0; i < 2000; i++ {
			p := make([]byte, rng.IntN(2*size+2))
			for j := range p {
				p[j] = byte(rng.IntN(256))
			}
			b.write(p)
			stream = append(stream, p...)
			require.Equal(t, int64(len(stream)), b.end)
			require.Equal(t, min(int64(len(stream)), int64(size)), b.hist)
			r := b.start() + rng.Int64N(b.hist+1)
			max := 1 + rng.IntN(2*size)
			got, err := b.readAt([]byte{}, r, max)
			require.NoError(t, err)
			want := append([]byte{}, stream[r:min(int(r)+max, len(stream))]...)
			require.Equal(t, want, got, "size %d write %d read at %d", size, i, r)
		}
	}
}

// TestBacklogTruncate: truncate drops the newest bytes; before the oldest
// byte held it leaves an empty ring at that position.
func TestBacklogTruncate(t *testing.T) {
	b := NewBacklog(8, 100)
	b.write([]byte("abcdefghij")) // holds 102..110: "cdefghij"
	b.truncate(107)
	assert.Equal(t, int64(107), b.End())
	got, err := b.readAt(nil, 102, 64)
	require.NoError(t, err)
	assert.Equal(t, "cdefg", string(got))
	b.write([]byte("XY"))
	got, err = b.readAt(nil, 102, 64)
	require.NoError(t, err)
	assert.Equal(t, "cdefgXY", string(got))
	b.truncate(200) // beyond the end: nothing to drop
	assert.Equal(t, int64(109), b.End())
	b.truncate(101) // before the oldest byte held
	assert.Equal(t, int64(101), b.End())
	assert.Zero(t, b.Len())
}
