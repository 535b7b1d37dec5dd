package rdb

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/replsm/replsm/redis/keyspace"
)

// FuzzLoad checks that LoadBytes never panics or exhausts memory, fails only
// with ErrCorrupt or ErrUnsupported, and that whatever it accepts survives
// Write and a second load unchanged.
func FuzzLoad(f *testing.F) {
	real, err := os.ReadFile("testdata/redis-7.0.15-small.rdb")
	if err != nil {
		f.Fatal(err)
	}
	ours := smallRDB(f)
	f.Add(emptyRDB)
	f.Add(real)
	f.Add(ours)
	f.Add(streamRDB(f))
	// A value declared far longer than what follows.
	f.Add(append(forgedValue(1_000_000_000), make([]byte, 4096)...))
	// Zeroed checksums let the fuzzer reach the framing and the decoder
	// instead of stopping at the CRC.
	for _, b := range [][]byte{real, ours} {
		z := bytes.Clone(b)
		clear(z[len(z)-8:])
		f.Add(z)
	}
	clk := mockClock() // setting a mock clock sleeps; do it once
	f.Fuzz(func(t *testing.T, b []byte) {
		ks, _, err := LoadBytes(b, clk)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error is neither ErrCorrupt nor ErrUnsupported: %v", err)
			}
			return
		}
		var out bytes.Buffer
		if err := Write(&out, ks.Snapshot(), "", 0); err != nil {
			if errors.Is(err, ErrUnsupported) {
				return
			}
			t.Fatalf("writing what was loaded: %v", err)
		}
		again, _, err := LoadBytes(out.Bytes(), clk)
		if err != nil {
			t.Fatalf("reloading what was written: %v", err)
		}
		a, b2 := dump(t, ks), dump(t, again)
		if len(a) != len(b2) {
			t.Fatalf("round trip changed the key count: %d != %d", len(a), len(b2))
		}
		for i := range a {
			if a[i] != b2[i] {
				t.Fatalf("round trip changed\n%s\ninto\n%s", a[i], b2[i])
			}
		}
	})
}

// streamRDB is a small RDB holding a stream with a group, a consumer and a
// pending entry, written by Write.
func streamRDB(tb testing.TB) []byte {
	ks := keyspace.New(mockClock())
	st := &keyspace.Stream{
		Entries: []keyspace.StreamEntry{
			{ID: keyspace.StreamID{Ms: 1, Seq: 1}, Fields: [][]byte{[]byte("f"), []byte("v")}},
			{ID: keyspace.StreamID{Ms: 2, Seq: 0}, Fields: [][]byte{[]byte("f"), []byte("12"), []byte("g"), []byte("")}},
		},
		LastID: keyspace.StreamID{Ms: 2}, FirstID: keyspace.StreamID{Ms: 1, Seq: 1}, EntriesAdded: 3,
		MaxDeletedID: keyspace.StreamID{Ms: 1, Seq: 5},
		Groups: []keyspace.StreamGroup{{Name: "g", LastID: keyspace.StreamID{Ms: 1, Seq: 1}, EntriesRead: 1,
			Pending:   []keyspace.StreamPending{{ID: keyspace.StreamID{Ms: 1, Seq: 1}, Consumer: "c", DeliveryTime: 5, DeliveryCount: 2}},
			Consumers: []keyspace.StreamConsumer{{Name: "c", SeenTime: 7}}}},
	}
	if err := ks.Put(0, "s", keyspace.Value{Type: keyspace.TypeStream, Stream: st}, keyspace.NoExpire); err != nil {
		tb.Fatal(err)
	}
	var out bytes.Buffer
	if err := Write(&out, ks.Snapshot(), "", 0); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}
