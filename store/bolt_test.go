package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

func TestBoltPersistsAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := OpenBolt(path, BoltOptions{})
	require.NoError(t, err)
	require.NoError(t, st.SaveCursors(map[string]Cursor{"slot/0": {ID: "r1", Offset: 42}}))
	for i := range 5 {
		_, err := st.AppendMilestone(ms(fmt.Sprintf("k%d", i), "shard_connected"))
		require.NoError(t, err)
	}
	require.NoError(t, st.AckMilestones([]uint64{4, 5})) // ack the newest ones
	require.NoError(t, st.Close())

	st, err = OpenBolt(path, BoltOptions{})
	require.NoError(t, err)
	defer st.Close()
	c, ok, err := st.LoadCursor("slot/0")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, Cursor{ID: "r1", Offset: 42}, c)
	n, err := st.PendingCount()
	require.NoError(t, err)
	assert.Equal(t, 3, n, "pending count is rebuilt at open")
	m, err := st.AppendMilestone(ms("k-new", "shard_connected"))
	require.NoError(t, err)
	assert.Equal(t, uint64(6), m.Seq, "seqs are never reused, even after acking the newest")
	again, err := st.AppendMilestone(ms("k1", "shard_connected"))
	require.NoError(t, err)
	assert.Equal(t, uint64(2), again.Seq, "idempotency index survives reopen")
}

func TestBoltReopenWritesNothing(t *testing.T) {
	path := makeStateFile(t)
	before := snapshot(t, path)
	st, err := OpenBolt(path, BoltOptions{})
	require.NoError(t, err)
	_, _, err = st.LoadCursor("slot/0")
	require.NoError(t, err)
	require.NoError(t, st.Close())
	assert.Equal(t, before, snapshot(t, path))
}

func TestBoltSchemaMarker(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := OpenBolt(path, BoltOptions{FileMode: 0o640})
	require.NoError(t, err)
	require.NoError(t, st.Close())
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm())

	db, err := bolt.Open(path, 0, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		require.NotNil(t, meta)
		assert.Equal(t, schemaFormat, string(meta.Get(keyFormat)))
		assert.Equal(t, SchemaVersion, binary.BigEndian.Uint64(meta.Get(keyVersion)))
		return nil
	}))
}

func TestBoltOptionsValidation(t *testing.T) {
	dir := t.TempDir()
	_, err := OpenBolt("", BoltOptions{})
	assert.ErrorIs(t, err, ErrInvalidInput)
	_, err = OpenBolt(filepath.Join(dir, "a.db"), BoltOptions{LockTimeout: -time.Second})
	assert.ErrorIs(t, err, ErrInvalidInput)
	_, err = OpenBolt(filepath.Join(dir, "a.db"), BoltOptions{FileMode: os.ModeDir | 0o700})
	assert.ErrorIs(t, err, ErrInvalidInput)
	assert.NoFileExists(t, filepath.Join(dir, "a.db"))
}

// makeStateFile writes a real multi-page state file and returns its path.
func makeStateFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := OpenBolt(path, BoltOptions{})
	require.NoError(t, err)
	batch := make([]Milestone, 300)
	for i := range batch {
		batch[i] = ms(fmt.Sprintf("slot/%d/full_sync_completed/session/%d", i%8, i), "full_sync_completed")
		batch[i].Attrs["detail"] = strings.Repeat("x", 100)
	}
	_, err = st.AppendMilestones(batch)
	require.NoError(t, err)
	require.NoError(t, st.SaveCursors(map[string]Cursor{"slot/0": {ID: "abc", Offset: 7}}))
	require.NoError(t, st.Close())
	return path
}

type fileState struct {
	sum   [32]byte
	size  int64
	mtime time.Time
}

func snapshot(t *testing.T, path string) fileState {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fileState{sum: sha256.Sum256(data), size: fi.Size(), mtime: fi.ModTime()}
}

// rawUpdate edits a state file with bbolt directly, behind the store's back.
func rawUpdate(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(fn))
	require.NoError(t, db.Close())
}

func TestBoltCorruptFilesAreRefusedUntouched(t *testing.T) {
	pageSize := os.Getpagesize()
	cases := map[string]func(t *testing.T, path string){
		"empty file": func(t *testing.T, path string) {
			require.NoError(t, os.Truncate(path, 0))
		},
		"truncated to 100 bytes": func(t *testing.T, path string) {
			require.NoError(t, os.Truncate(path, 100))
		},
		// bbolt preallocates: the file is longer than its data, and cutting
		// only the unused tail loses nothing. These cut into the data.
		"truncated to half its data": func(t *testing.T, path string) {
			require.NoError(t, os.Truncate(path, dataSize(t, path)/2))
		},
		"last data page cut off": func(t *testing.T, path string) {
			require.NoError(t, os.Truncate(path, dataSize(t, path)-int64(pageSize)))
		},
		"truncated to the two meta pages": func(t *testing.T, path string) {
			require.NoError(t, os.Truncate(path, int64(2*pageSize)))
		},
		"garbled meta pages": func(t *testing.T, path string) {
			garble(t, path, 0, 2*pageSize)
		},
		"garbled data pages": func(t *testing.T, path string) {
			fi, err := os.Stat(path)
			require.NoError(t, err)
			garble(t, path, int64(2*pageSize), int(fi.Size())-2*pageSize)
		},
		"not a bbolt file": func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, bytes.Repeat([]byte("hello world\n"), 2000), 0o600))
		},
		"bbolt file of another program": func(t *testing.T, path string) {
			require.NoError(t, os.Remove(path))
			rawUpdate(t, path, func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket([]byte("users"))
				if err != nil {
					return err
				}
				return b.Put([]byte("alice"), []byte("1"))
			})
		},
		"newer schema version": func(t *testing.T, path string) {
			rawUpdate(t, path, func(tx *bolt.Tx) error {
				return tx.Bucket(bucketMeta).Put(keyVersion, u64(SchemaVersion+1))
			})
		},
		"wrong schema marker": func(t *testing.T, path string) {
			rawUpdate(t, path, func(tx *bolt.Tx) error {
				return tx.Bucket(bucketMeta).Put(keyFormat, []byte("something/else"))
			})
		},
		"garbled milestone record": func(t *testing.T, path string) {
			rawUpdate(t, path, func(tx *bolt.Tx) error {
				return tx.Bucket(bucketMilestones).Put(u64(5), []byte("{not json"))
			})
		},
		"short cursor record": func(t *testing.T, path string) {
			rawUpdate(t, path, func(tx *bolt.Tx) error {
				return tx.Bucket(bucketCursors).Put([]byte("slot/0"), []byte{1, 2})
			})
		},
		"garbled extended cursor record": func(t *testing.T, path string) {
			rawUpdate(t, path, func(tx *bolt.Tx) error {
				return tx.Bucket(bucketCursors).Put([]byte("slot/0"), []byte{0, 0, 0, 0, 0, 0, 0, 1, cursorExtMarker, cursorExtFormat, 40, 'x'})
			})
		},
		"index out of step": func(t *testing.T, path string) {
			rawUpdate(t, path, func(tx *bolt.Tx) error {
				return tx.Bucket(bucketKeys).Delete([]byte("slot/0/full_sync_completed/session/0"))
			})
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			path := makeStateFile(t)
			damage(t, path)
			before := snapshot(t, path)

			st, err := OpenBolt(path, BoltOptions{})
			require.Error(t, err)
			assert.Nil(t, st)
			assert.ErrorIs(t, err, ErrCorruptStore)
			assert.Contains(t, err.Error(), path, "message names the file")
			assert.Contains(t, err.Error(), "move the file aside")
			assert.Contains(t, err.Error(), "full resync")
			t.Log(err)

			assert.Equal(t, before, snapshot(t, path), "file must not be modified")
		})
	}
}

// dataSize is the length bbolt's meta page claims (its high water mark).
func dataSize(t *testing.T, path string) int64 {
	t.Helper()
	db, err := bolt.Open(path, 0, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer db.Close()
	var n int64
	require.NoError(t, db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil }))
	return n
}

func TestBoltUnusedTailCutIsHarmless(t *testing.T) {
	path := makeStateFile(t)
	require.NoError(t, os.Truncate(path, dataSize(t, path)))
	st, err := OpenBolt(path, BoltOptions{})
	require.NoError(t, err)
	defer st.Close()
	n, err := st.PendingCount()
	require.NoError(t, err)
	assert.Equal(t, 300, n)
}

// garble overwrites n bytes at off with a fixed non-zero pattern.
func garble(t *testing.T, path string, off int64, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	buf := make([]byte, n)
	for i := range buf {
		buf[i] = byte(0xA5 ^ i)
	}
	_, err = f.WriteAt(buf, off)
	require.NoError(t, err)
}

func TestBoltEmptyButValidFileIsInitialized(t *testing.T) {
	// A crash between bbolt creating the file and our schema commit leaves
	// a valid bbolt file with no buckets; that is a fresh store, not damage.
	path := filepath.Join(t.TempDir(), "state.db")
	rawUpdate(t, path, func(*bolt.Tx) error { return nil })
	st, err := OpenBolt(path, BoltOptions{})
	require.NoError(t, err)
	defer st.Close()
	m, err := st.AppendMilestone(ms("k", "x"))
	require.NoError(t, err)
	assert.Equal(t, uint64(1), m.Seq)
}

func TestBoltSecondOpenFailsFastWithLockError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := OpenBolt(path, BoltOptions{})
	require.NoError(t, err)
	defer st.Close()

	// flock is per open file, so a second open in this process conflicts
	// exactly like another process would.
	done := make(chan error, 1)
	go func() {
		_, err := OpenBolt(path, BoltOptions{LockTimeout: 50 * time.Millisecond})
		done <- err
	}()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, ErrStoreLocked)
		assert.ErrorIs(t, err, ErrStoreUnavailable)
		assert.Contains(t, err.Error(), path)
		t.Log(err)
	case <-time.After(10 * time.Second):
		t.Fatal("second OpenBolt hangs instead of failing on the lock")
	}
}

func TestBoltUnavailablePaths(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	require.NoError(t, os.WriteFile(regular, []byte("x"), 0o600))
	for name, path := range map[string]string{
		"missing parent directory": filepath.Join(dir, "no", "such", "dir", "state.db"),
		"parent is a regular file": filepath.Join(regular, "state.db"),
		"path is a directory":      dir,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := OpenBolt(path, BoltOptions{})
			require.ErrorIs(t, err, ErrStoreUnavailable)
			assert.Contains(t, err.Error(), path)
			t.Log(err)
		})
	}
	assert.NoDirExists(t, filepath.Join(dir, "no"))
}
