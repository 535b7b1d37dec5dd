package replica

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/replsm/replsm/redis/resp"
)

// BenchmarkStreamApply measures the stream-apply path alone: RESP parsing,
// offset accounting and keyspace writes for redis-benchmark-like SETs.
func BenchmarkStreamApply(b *testing.B) {
	benchApply(b, func(ks target) *applier { return &applier{ks: ks} })
}

// benchApply applies 10 000 SETs with the appliers newApplier makes, one
// per iteration.
func benchApply(b *testing.B, newApplier func(target) *applier) {
	var stream []byte
	stream = resp.AppendCommandStrings(stream, "SELECT", "0")
	for i := 0; i < 10_000; i++ {
		stream = resp.AppendCommandStrings(stream, "SET", fmt.Sprintf("key:%06d", i%5000), "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
	}
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	ks := newTestKeyspace()
	for b.Loop() {
		ap := newApplier(ks)
		rd := resp.NewReader(bufio.NewReaderSize(bytes.NewReader(stream), 64<<10))
		for {
			if _, err := ap.next(rd); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
	}
}
