package replica

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/redis/rdb"
	"github.com/replsm/replsm/redis/resp"
)

// fakePrimary is a scripted primary for the cases a real one will not
// produce on demand: malformed replies, corrupt snapshots, unknown
// commands, silence. It answers the meta step's ROLE probe by itself and
// hands every replication connection to the test.
type fakePrimary struct {
	t     testing.TB
	ln    net.Listener
	conns chan *fakeConn
	role  string // what ROLE answers: "master" or "slave"
	wg    sync.WaitGroup

	mu   sync.Mutex
	open []net.Conn
}

func newFakePrimary(t testing.TB) *fakePrimary {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &fakePrimary{t: t, ln: ln, conns: make(chan *fakeConn, 16), role: "master"}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.close)
	return f
}

func (f *fakePrimary) addr() string { return f.ln.Addr().String() }

func (f *fakePrimary) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.open = append(f.open, c)
		f.mu.Unlock()
		fc := &fakeConn{t: f.t, c: c, rd: resp.NewReader(bufio.NewReader(c))}
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		first, _, err := fc.rd.ReadCommand()
		if err != nil {
			_ = c.Close()
			continue
		}
		if strings.EqualFold(string(first[0]), "ROLE") {
			if f.role == "master" {
				fc.send("*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n")
			} else {
				fc.send("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:0\r\n")
			}
			_ = c.Close()
			continue
		}
		fc.first = first
		f.conns <- fc
	}
}

func (f *fakePrimary) close() {
	_ = f.ln.Close()
	f.mu.Lock()
	for _, c := range f.open {
		_ = c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// next returns the next replication connection.
func (f *fakePrimary) next() *fakeConn {
	f.t.Helper()
	select {
	case fc := <-f.conns:
		return fc
	case <-time.After(10 * time.Second):
		f.t.Fatalf("fake primary: no replication connection in 10s")
		return nil
	}
}

type fakeConn struct {
	t     testing.TB
	c     net.Conn
	rd    *resp.Reader
	first [][]byte
}

// read returns the next command from the replica.
func (fc *fakeConn) read() []string {
	fc.t.Helper()
	args := fc.first
	fc.first = nil
	if args == nil {
		var err error
		args, _, err = fc.rd.ReadCommand()
		require.NoError(fc.t, err, "fake primary: read from replica")
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = string(a)
	}
	return out
}

func (fc *fakeConn) expect(want ...string) {
	fc.t.Helper()
	require.Equal(fc.t, want, fc.read())
}

func (fc *fakeConn) send(raw string) {
	fc.t.Helper()
	_, err := fc.c.Write([]byte(raw))
	require.NoError(fc.t, err)
}

// handshake answers PING and both REPLCONFs, then returns the PSYNC.
func (fc *fakeConn) handshake() []string {
	fc.t.Helper()
	fc.expect("PING")
	fc.send("+PONG\r\n")
	got := fc.read()
	require.Equal(fc.t, []string{"REPLCONF", "listening-port"}, got[:2])
	fc.send("+OK\r\n")
	fc.expect("REPLCONF", "capa", "eof", "capa", "psync2")
	fc.send("+OK\r\n")
	psync := fc.read()
	require.Equal(fc.t, "PSYNC", psync[0])
	return psync
}

// eof reports whether the replica closed the connection.
func (fc *fakeConn) eof() bool {
	_ = fc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := fc.rd.ReadCommand()
	return err != nil
}

func (fc *fakeConn) close() { _ = fc.c.Close() }

// emptyRDB is the smallest valid RDB (the reference's 18 bytes).
var emptyRDB = string([]byte{0x52, 0x45, 0x44, 0x49, 0x53, 0x30, 0x30, 0x31, 0x30, 0xff, 0xa9, 0xfd, 0x37, 0xfe, 0x89, 0xa7, 0x7e, 0xeb})

// rdbOf returns an RDB holding the given string keys in db 0.
func rdbOf(t testing.TB, kv ...string) string {
	t.Helper()
	ks := newTestKeyspace()
	for i := 0; i+1 < len(kv); i += 2 {
		db := 0
		_, err := ks.Exec(&db, [][]byte{[]byte("SET"), []byte(kv[i]), []byte(kv[i+1])})
		require.NoError(t, err)
	}
	var buf bytes.Buffer
	require.NoError(t, rdb.Write(&buf, ks.Snapshot(), strings.Repeat("a", 40), 0))
	return buf.String()
}

// payload frames an RDB disk-style: "$<len>\r\n" + bytes, no CRLF after.
func payload(b string) string { return "$" + itoa(int64(len(b))) + "\r\n" + b }
