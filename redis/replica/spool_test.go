package replica

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSpoolConcurrentReaderSeesWritesInOrder: a reader keeping up with a
// writer across the memory part and the file gets every byte in order,
// then io.EOF; memory held stays within the bound; Close removes the file.
func TestSpoolConcurrentReaderSeesWritesInOrder(t *testing.T) {
	dir := t.TempDir()
	sp := newSpool("test", dir, 100_000, 0)
	want := make([]byte, 3_000_000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	got := make(chan []byte, 1)
	go func() {
		b, err := io.ReadAll(sp)
		assert.NoError(t, err)
		got <- b
	}()
	for off := 0; off < len(want); {
		n := min(1+rng.IntN(70_000), len(want)-off)
		_, err := sp.Write(want[off : off+n])
		require.NoError(t, err)
		off += n
	}
	sp.finish(nil)
	assert.True(t, bytes.Equal(want, <-got), "bytes read back in order")
	assert.LessOrEqual(t, sp.peak(), int64(100_000))
	path := sp.filePath()
	require.FileExists(t, path)
	require.NoError(t, sp.Close())
	assert.NoFileExists(t, path)
	_, err := sp.Read(make([]byte, 1))
	assert.ErrorIs(t, err, errSpoolClosed)
}

// TestSpoolCeilingAndEndError: a write past max fails with ErrSpoolFull and
// writes nothing; finish(err) hands err to the reader after the data.
func TestSpoolCeilingAndEndError(t *testing.T) {
	sp := newSpool("stream", t.TempDir(), 4, 10)
	_, err := sp.Write([]byte("0123456789"))
	require.NoError(t, err)
	_, err = sp.Write([]byte("x"))
	require.ErrorIs(t, err, ErrSpoolFull)
	assert.Contains(t, err.Error(), "the stream would pass 10 bytes (10 received)")
	boom := errors.New("boom")
	sp.finish(boom)
	b, err := io.ReadAll(sp)
	assert.Equal(t, "0123456789", string(b))
	assert.ErrorIs(t, err, boom)
	require.NoError(t, sp.Close())
	ents, _ := os.ReadDir(sp.dir)
	assert.Empty(t, ents)
}
