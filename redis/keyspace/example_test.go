package keyspace_test

import (
	"fmt"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/redis/keyspace"
)

func args(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, a := range s {
		out[i] = []byte(a)
	}
	return out
}

// A primary executes a client's command and streams what Redis 7.0 would
// propagate: here a relative expiry becomes an absolute PXAT.
func ExampleKeyspace_Exec() {
	clk := clock.NewMock()
	clk.Set(time.UnixMilli(1_700_000_000_000))
	ks := keyspace.New(clk)
	db := 0
	res, _ := ks.Exec(&db, args("SET", "greeting", "hello", "EX", "60"))
	fmt.Println(res.Reply)
	for _, cmd := range res.Propagate {
		fmt.Printf("%s\n", cmd)
	}
	// Output:
	// OK
	// [SET greeting hello PXAT 1700000060000]
}

// A replica applies its primary's stream; expired keys stay until the
// primary's DEL arrives, but reads no longer see them.
func ExampleKeyspace_Apply() {
	clk := clock.NewMock()
	clk.Set(time.UnixMilli(1_700_000_000_000))
	ks := keyspace.New(clk)
	ks.SetReplica(true)
	db := 0
	for _, cmd := range [][][]byte{
		args("SELECT", "0"),
		args("SET", "k", "v", "PXAT", "1700000000500"),
		args("RPUSH", "list", "a", "b"),
	} {
		if _, err := ks.Apply(&db, cmd); err != nil {
			panic(err)
		}
	}
	clk.Add(time.Second)
	get, _ := ks.Apply(&db, args("GET", "k"))
	size, _ := ks.Apply(&db, args("DBSIZE"))
	fmt.Println(get, size)
	// Output:
	// (nil) (integer) 2
}
