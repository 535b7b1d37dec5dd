package rdb

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/redis/keyspace"
	"github.com/replsm/replsm/redis/resp"
	"github.com/replsm/replsm/redis/resp/resptest"
)

// These tests prove the package against a real redis-server 7.0 and
// redis-check-rdb. Real servers use real time, so the keyspaces here do too.

func TestRedisCheckRDBAcceptsWrite(t *testing.T) {
	bin := resptest.Binary(t, "redis-check-rdb")
	path := filepath.Join(t.TempDir(), "x.rdb")
	ks := fullKeyspace(t, clock.New())
	require.NoError(t, os.WriteFile(path, writeRDB(t, ks, strings.Repeat("a", 40), 99), 0o600))
	out, err := exec.Command(bin, path).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "RDB looks OK")
}

func TestRedisServerLoadsWrite(t *testing.T) {
	ks := keyspace.New(clock.New())
	fill(t, ksDoer(t, ks))
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "x.rdb"), writeRDB(t, ks, "", 0), 0o600))

	srv := resptest.Start(t, resptest.Options{Dir: dir, DBFilename: "x.rdb"})
	cli := srv.Dial(t)
	size := cli.MustDo(t, "DBSIZE")
	assert.EqualValues(t, 24, size.Int)
	assert.Equal(t, "hello", cli.MustDo(t, "GET", "str").Text())
	assert.Equal(t, readBack(t, ksDoer(t, ks)), readBack(t, clientDoer(t, cli)))
}

func TestLoadRealRedisRDB(t *testing.T) {
	srv := resptest.Start(t, resptest.Options{})
	cli := srv.Dial(t)
	fill(t, clientDoer(t, cli))
	cli.MustDo(t, "SAVE")
	b, err := os.ReadFile(filepath.Join(srv.Dir, "dump.rdb"))
	require.NoError(t, err)
	assert.Equal(t, "REDIS0010", string(b[:9]))

	ks, info, err := LoadBytes(b, clock.New())
	require.NoError(t, err)
	assert.True(t, info.Checksummed)
	assert.Equal(t, "7.0.15", info.Aux["redis-ver"])
	assert.Equal(t, readBack(t, clientDoer(t, cli)), readBack(t, ksDoer(t, ks)))

	// What the real server wrote survives our writer too.
	again, _, err := LoadBytes(writeRDB(t, ks, "", 0), clock.New())
	require.NoError(t, err)
	assert.Equal(t, dump(t, ks), dump(t, again))
}

func TestLoadRealRedisStreams(t *testing.T) {
	srv := resptest.Start(t, resptest.Options{})
	cli := srv.Dial(t)
	for _, c := range streamFillScript() {
		v, err := cli.DoBytes(c...)
		require.NoError(t, err, "%q", c)
		require.NotEqual(t, resp.KindError, v.Kind, "%q: %v", c, v)
	}
	cli.MustDo(t, "SAVE")
	b, err := os.ReadFile(filepath.Join(srv.Dir, "dump.rdb"))
	require.NoError(t, err)
	ks, info, err := LoadBytes(b, clock.New())
	require.NoError(t, err)
	assert.Equal(t, 6, info.Keys)
	want := readBack(t, clientDoer(t, cli))
	streams := 0
	for _, v := range want {
		if strings.HasPrefix(v, "stream ") && strings.Contains(v, "entries") {
			streams++
		}
	}
	require.Equal(t, 6, streams, "every stream reads back through XINFO STREAM FULL")
	assert.Equal(t, want, readBack(t, ksDoer(t, ks)))

	// Our writer's streams load back into us and into a real server.
	out := writeRDB(t, ks, "", 0)
	again, _, err := LoadBytes(out, clock.New())
	require.NoError(t, err)
	assert.Equal(t, dump(t, ks), dump(t, again))

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "x.rdb"), out, 0o600))
	check, err := exec.Command(resptest.Binary(t, "redis-check-rdb"), filepath.Join(dir, "x.rdb")).CombinedOutput()
	require.NoError(t, err, "%s", check)
	srv2 := resptest.Start(t, resptest.Options{Dir: dir, DBFilename: "x.rdb"})
	assert.Equal(t, want, readBack(t, clientDoer(t, srv2.Dial(t))))
}

// TestReplicateFromRealRedis plays a replica of a real primary with all
// three packages: the handshake and stream through resp, the full sync
// through ReadPayload and LoadBytes, the stream through keyspace.Apply.
// Afterwards the keyspace must read back exactly like the primary.
func TestReplicateFromRealRedis(t *testing.T) {
	for _, diskless := range []string{"yes", "no"} {
		t.Run("diskless="+diskless, func(t *testing.T) {
			srv := resptest.Start(t, resptest.Options{Args: []string{
				"--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0",
			}})
			cli := srv.Dial(t)
			do := clientDoer(t, cli)
			do(cmd("SET", "before", "sync")...)
			do(cmd("RPUSH", "l", "a", "b")...)

			conn, err := net.Dial("tcp", srv.Addr)
			require.NoError(t, err)
			t.Cleanup(func() { conn.Close() })
			require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
			br := bufio.NewReader(conn)
			r := resp.NewReader(br)
			send := func(args ...string) {
				_, err := conn.Write(resp.AppendCommandStrings(nil, args...))
				require.NoError(t, err)
			}
			reply := func() resp.Value {
				for {
					v, _, err := r.ReadValue()
					require.NoError(t, err)
					if v.Kind != resp.KindKeepalive {
						return v
					}
				}
			}
			send("PING")
			assert.Equal(t, "PONG", reply().Text())
			send("REPLCONF", "listening-port", "6380")
			assert.Equal(t, "OK", reply().Text())
			send("REPLCONF", "capa", "eof", "capa", "psync2")
			assert.Equal(t, "OK", reply().Text())
			send("PSYNC", "?", "-1")
			full := strings.Fields(reply().Text())
			require.Len(t, full, 3, "%q", full)
			require.Equal(t, "FULLRESYNC", full[0])
			assert.Len(t, full[1], 40)
			offset, err := strconv.ParseInt(full[2], 10, 64)
			require.NoError(t, err)

			payload, _, err := ReadPayload(br, 1<<30)
			require.NoError(t, err)
			ks, _, err := LoadBytes(payload, clock.New())
			require.NoError(t, err)
			ks.SetReplica(true)
			live := keyspace.New(clock.New())
			live.SetReplica(true)
			live.ReplaceWith(ks)
			// Like a real replica, ACK every so often: a diskless primary
			// starts streaming on the first ACK that arrives after it has
			// finished the transfer on its side.
			var acked atomic.Int64
			acked.Store(offset)
			var connMu sync.Mutex
			ack := func() {
				connMu.Lock()
				defer connMu.Unlock()
				_, _ = conn.Write(resp.AppendCommandStrings(nil, "REPLCONF", "ACK", strconv.FormatInt(acked.Load(), 10)))
			}
			stopAcks := make(chan struct{})
			acksDone := make(chan struct{})
			go func() {
				defer close(acksDone)
				tick := time.NewTicker(50 * time.Millisecond)
				defer tick.Stop()
				for {
					ack()
					select {
					case <-stopAcks:
						return
					case <-tick.C:
					}
				}
			}()
			t.Cleanup(func() { close(stopAcks); <-acksDone })

			// Writes of every kind, including those Redis rewrites before
			// propagating (EXPIRE, SET EX, INCRBYFLOAT, SPOP, GETDEL, ...)
			// and a transaction.
			fill(t, do)
			for _, c := range [][]string{
				{"INCRBYFLOAT", "f", "0.1"}, {"INCRBYFLOAT", "f", "0.2"}, {"HINCRBYFLOAT", "hash", "x", "1.5"},
				{"SPOP", "set"}, {"GETDEL", "str"}, {"GETSET", "int", "9"}, {"SETEX", "sx", "100", "v"},
				{"EXPIRE", "list", "300"}, {"PEXPIREAT", "longlist", "1"}, {"MULTI"}, {"INCR", "ctr"},
				{"LPUSH", "l", "z"}, {"EXEC"}, {"SELECT", "3"}, {"SET", "in3", "v"}, {"SELECT", "0"},
				{"LPOP", "biglist", "3"}, {"ZINCRBY", "zset", "2", "a"}, {"RENAME", "set", "set2"},
				{"SET", "gone", "v", "PX", "1"},
			} {
				v := do(cmd(c...)...)
				require.NotEqual(t, resp.KindError, v.Kind, "%q: %v", c, v)
			}
			time.Sleep(5 * time.Millisecond) // let "gone" expire on the primary
			do(cmd("GET", "gone")...)        // the primary propagates DEL gone

			target := masterOffset(t, cli)
			db := 0
			var tx [][][]byte
			inTx := false
			for offset < target {
				args, n, err := r.ReadCommand()
				require.NoError(t, err, "offset %d of %d", offset, target)
				offset += n
				acked.Store(offset)
				switch strings.ToLower(string(args[0])) {
				case "multi":
					inTx = true
					continue
				case "exec":
					_, err := live.ExecAll(&db, tx)
					require.NoError(t, err)
					tx, inTx = nil, false
					continue
				case "replconf": // GETACK
					ack()
					continue
				}
				if inTx {
					tx = append(tx, args)
					continue
				}
				_, err = live.Apply(&db, args)
				require.NoError(t, err, "%q", args)
			}
			assert.Equal(t, target, offset)
			assert.Equal(t, readBack(t, clientDoer(t, cli)), readBack(t, ksDoer(t, live)))
		})
	}
}

func masterOffset(t *testing.T, cli *resptest.Client) int64 {
	info := cli.MustDo(t, "INFO", "replication").Text()
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "master_repl_offset:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("no master_repl_offset in %q", info)
	return 0
}

// TestRealReplicaSyncsFromWrite serves a real redis-server, configured as a
// replica, a full sync built by Write, in both transfer forms.
func TestRealReplicaSyncsFromWrite(t *testing.T) {
	for _, capaEOF := range []bool{true, false} {
		t.Run("eofmark="+strconv.FormatBool(capaEOF), func(t *testing.T) {
			ks := keyspace.New(clock.New())
			fill(t, ksDoer(t, ks))
			rdbBytes := writeRDB(t, ks, strings.Repeat("f", 40), 0)

			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			t.Cleanup(func() { l.Close() })
			port := l.Addr().(*net.TCPAddr).Port

			served := make(chan error, 1)
			go func() {
				conn, err := servePrimary(l, rdbBytes, capaEOF)
				if conn != nil {
					// Keep the link open (and referenced) until the test ends:
					// a collected conn would be closed under the replica.
					t.Cleanup(func() { _ = conn.Close() })
				}
				served <- err
			}()

			replica := resptest.Start(t, resptest.Options{})
			rc := replica.Dial(t)
			rc.MustDo(t, "REPLICAOF", "127.0.0.1", strconv.Itoa(port))
			require.NoError(t, <-served)
			deadline := time.Now().Add(20 * time.Second)
			for !strings.Contains(rc.MustDo(t, "INFO", "replication").Text(), "master_link_status:up") {
				require.True(t, time.Now().Before(deadline), "replica never came up")
				time.Sleep(20 * time.Millisecond)
			}
			assert.Equal(t, readBack(t, ksDoer(t, ks)), readBack(t, clientDoer(t, rc)))
		})
	}
}

// servePrimary answers one replica's handshake and sends rdbBytes, with an
// EOF mark when the replica announced capa eof and useMark is set. It keeps
// the connection open for the test's lifetime.
func servePrimary(l net.Listener, rdbBytes []byte, useMark bool) (net.Conn, error) {
	conn, err := l.Accept()
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := resp.NewReader(bufio.NewReader(conn))
	for {
		args, _, err := r.ReadCommand()
		if err != nil {
			return conn, err
		}
		switch strings.ToUpper(string(args[0])) {
		case "PING":
			_, err = conn.Write([]byte("+PONG\r\n"))
		case "REPLCONF":
			_, err = conn.Write([]byte("+OK\r\n"))
		case "PSYNC":
			var out bytes.Buffer
			out.WriteString("\n+FULLRESYNC " + strings.Repeat("f", 40) + " 0\r\n\n")
			m := ""
			if useMark {
				if m, err = NewEOFMark(); err != nil {
					return conn, err
				}
			}
			if err := WritePayload(&out, rdbBytes, m); err != nil {
				return conn, err
			}
			_, err = conn.Write(out.Bytes())
			return conn, err
		default:
			_, err = conn.Write([]byte("-ERR unexpected\r\n"))
		}
		if err != nil {
			return conn, err
		}
	}
}

// Redis 7.0 saves function libraries (opcode 245); loading skips them.
func TestLoadRealRedisWithFunctions(t *testing.T) {
	srv := resptest.Start(t, resptest.Options{})
	cli := srv.Dial(t)
	cli.MustDo(t, "FUNCTION", "LOAD", "#!lua name=mylib\nredis.register_function('one', function() return 1 end)")
	cli.MustDo(t, "SET", "k", "v")
	cli.MustDo(t, "SAVE")
	b, err := os.ReadFile(filepath.Join(srv.Dir, "dump.rdb"))
	require.NoError(t, err)
	ks, info, err := LoadBytes(b, clock.New())
	require.NoError(t, err)
	assert.Equal(t, 1, info.Keys)
	assert.Equal(t, 1, ks.Len())
}

// TestRestoreRealRedisDumps: every value a real server DUMPs (all types and
// encodings of fillScript and the streams) RESTOREs into a keyspace with
// the same content, and RESTORE's errors match redis-server's.
func TestRestoreRealRedisDumps(t *testing.T) {
	srv := resptest.Start(t, resptest.Options{})
	cli := srv.Dial(t)
	fill(t, clientDoer(t, cli))
	for _, c := range streamFillScript() {
		_, err := cli.DoBytes(c...)
		require.NoError(t, err, "%q", c)
	}
	want := readBack(t, clientDoer(t, cli))
	ks := keyspace.New(clock.New())
	kdo := ksDoer(t, ks)
	restored := 0
	for db := range keyspace.NumDBs {
		cli.MustDo(t, "SELECT", strconv.Itoa(db))
		kdo(cmd("SELECT", strconv.Itoa(db))...)
		for _, k := range cli.MustDo(t, "KEYS", "*").Array {
			payload := cli.MustDo(t, "DUMP", k.Text())
			exp := cli.MustDo(t, "PEXPIRETIME", k.Text()).Int
			ttl := "0"
			if exp > 0 {
				ttl = strconv.FormatInt(exp, 10)
			}
			args := [][]byte{[]byte("RESTORE"), k.Str, []byte(ttl), payload.Str, []byte("ABSTTL")}
			r := kdo(args...)
			require.Equal(t, "OK", r.Text(), "RESTORE %q: %v", k.Str, r)
			restored++
		}
	}
	cli.MustDo(t, "SELECT", "0")
	kdo(cmd("SELECT", "0")...)
	assert.Equal(t, want, readBack(t, kdo))
	assert.Greater(t, restored, 20)

	payload := cli.MustDo(t, "DUMP", "str").Str
	bad := bytes.Clone(payload)
	bad[len(bad)-1] ^= 0xff
	for _, c := range [][][]byte{
		{[]byte("RESTORE"), []byte("str"), []byte("0"), payload},
		{[]byte("RESTORE"), []byte("new"), []byte("0"), bad},
		{[]byte("RESTORE"), []byte("new"), []byte("-1"), payload},
		{[]byte("RESTORE"), []byte("new"), []byte("0"), payload, []byte("BOGUS")},
		{[]byte("RESTORE"), []byte("new"), []byte("0"), []byte("short")},
		{[]byte("RESTORE"), []byte("str"), []byte("0"), payload, []byte("REPLACE")},
		{[]byte("GET"), []byte("str")},
	} {
		w, err := cli.DoBytes(c...)
		require.NoError(t, err)
		assert.True(t, w.Equal(kdo(c...)), "%q: redis %v", c[:2], w)
	}
}
