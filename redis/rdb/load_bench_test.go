package rdb

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/replsm/replsm/redis/keyspace"
)

// BenchmarkLoad loads one RDB per op: the file named by REPLSM_BENCH_RDB
// (make bench-fullsync PROFILE=dir saves a real primary's as dir/dump.rdb),
// or else 200k 100-byte strings written by Write. Profile it with
// -cpuprofile / -memprofile (docs/fullsync.md).
func BenchmarkLoad(b *testing.B) {
	var data []byte
	if path := os.Getenv("REPLSM_BENCH_RDB"); path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			b.Fatal(err)
		}
	} else {
		ks := keyspace.New(mockClock())
		val := bytes.Repeat([]byte("v"), 100)
		for i := range 200_000 {
			if err := ks.Put(0, fmt.Sprintf("key:%d", i), keyspace.Value{Type: keyspace.TypeString, Str: val}, keyspace.NoExpire); err != nil {
				b.Fatal(err)
			}
		}
		data = writeRDB(b, ks, "", 0)
	}
	clk := mockClock()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Load(bytes.NewReader(data), clk); err != nil {
			b.Fatal(err)
		}
	}
}
