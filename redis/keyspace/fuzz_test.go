package keyspace

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
)

// FuzzExec runs command scripts (one command per line, space-separated)
// against a primary and a replica keyspace: nothing may panic, the only Go
// errors are the documented ones, and snapshots stay readable.
func FuzzExec(f *testing.F) {
	for _, s := range []string{
		"SET k v EX 10\nGET k\nAPPEND k x\nINCR k",
		"RPUSH l a b c\nLRANGE l -100 100\nLTRIM l 1 -1\nLPOP l 5\nLSET l 0 z",
		"ZADD z 1 a 2 b\nZRANGE z (1 +inf BYSCORE REV LIMIT 0 1 WITHSCORES\nZINCRBY z 1 a",
		"HSET h f 1\nHINCRBYFLOAT h f 1e300\nHINCRBY h f 9223372036854775807",
		"SADD s 1 2\nSCAN 0 MATCH * COUNT 1 TYPE set\nKEYS [a-\nSELECT 3\nFLUSHALL",
		"SET a 1 PX 1\nPEXPIREAT a 0\nEXPIRE a 10 GT\nRENAME a b\nTTL b",
		"XADD s 1-1 f v\nXADD s MAXLEN ~ 1 * g w\nXGROUP CREATE s g 0\nXCLAIM s g c 0 1-1 FORCE\nXINFO STREAM s FULL\nXPENDING s g - + 10",
		"PFADD h a b c\nPFCOUNT h\nPFMERGE h2 h\nPFDEBUG TODENSE h2\nSETBIT b 100 1\nBITFIELD b INCRBY i5 #3 40 GET u63 1",
		"ZADD g 3471579339700058 a 3479099956230698 b\nGEOSEARCHSTORE d g FROMMEMBER a BYRADIUS 500 km STOREDIST\nGEODIST g a b\nSORT g ALPHA STORE x",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		clk := clock.NewMock()
		primary, replica := New(clk), New(clk)
		replica.SetReplica(true)
		dbs := [2]int{}
		for i, line := range bytes.Split(script, []byte("\n")) {
			args := bytes.Fields(line)
			for j, ks := range []*Keyspace{primary, replica} {
				_, err := ks.Exec(&dbs[j], args)
				if err != nil && !errors.Is(err, ErrUnknownCommand) {
					t.Fatalf("%q: %v", line, err)
				}
			}
			if i%4 == 3 {
				clk.Add(5 * time.Millisecond)
			}
		}
		_ = primary.Digest()
		_ = replica.ActiveExpire(0)
		_ = primary.ActiveExpire(0)
	})
}
