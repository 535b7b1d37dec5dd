package replica

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/redis/keyspace"
)

// benchShard is a shard of n keys (strings of 64 bytes, every tenth key a
// 10-field hash) with a valid cursor, and the durable state around it.
func benchShard(b *testing.B, n int) (*durable, *shard) {
	b.Helper()
	clk := clock.New()
	d, err := openDurable(Config{StateDir: b.TempDir(), SnapshotInterval: time.Minute}, clk, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = d.st.Close() })
	ks := keyspace.New(clk)
	ks.SetReplica(true)
	val := []byte(strings.Repeat("v", 64))
	for i := 0; i < n; i++ {
		v := keyspace.Value{Type: keyspace.TypeString, Str: val}
		if i%10 == 0 {
			h := map[string][]byte{}
			for f := 0; f < 10; f++ {
				h[fmt.Sprintf("field-%d", f)] = val
			}
			v = keyspace.Value{Type: keyspace.TypeHash, Hash: h}
		}
		if err := ks.Put(0, fmt.Sprintf("key:%08d", i), v, keyspace.NoExpire); err != nil {
			b.Fatal(err)
		}
	}
	sh := &shard{id: 0, ks: ks, cur: Cursor{ReplID: strings.Repeat("a", replIDLen), Offset: 1}}
	d.shards = []*shard{sh}
	return d, sh
}

// BenchmarkReplicaSnapshot measures one durable snapshot of a shard: the
// copy-on-write capture on the session goroutine (take), then on the
// writer: RDB encoding, fsync, rename, directory fsync, and the cursor's
// bbolt transaction. bytes/snapshot is the RDB file's size.
func BenchmarkReplicaSnapshot(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			d, sh := benchShard(b, n)
			b.ReportAllocs()
			for b.Loop() {
				sh.cur.Offset++
				d.take(sh, true)
				job := sh.persist.pending
				sh.persist.pending = nil
				if err := d.write(sh, job); err != nil {
					b.Fatal(err)
				}
			}
			fi, err := os.Stat(filepath.Join(d.dir, sh.persist.file))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(fi.Size()), "bytes/snapshot")
		})
	}
}

// BenchmarkReplicaSnapshotTake measures only the capture, the part that
// runs between two stream values and so delays the stream.
func BenchmarkReplicaSnapshotTake(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			d, sh := benchShard(b, n)
			b.ReportAllocs()
			for b.Loop() {
				d.take(sh, true)
			}
		})
	}
}
