package replica

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/redis/keyspace"
	"github.com/replsm/replsm/redis/resp"
)

// cmd encodes one stream command.
func cmd(args ...string) string { return string(resp.AppendCommandStrings(nil, args...)) }

func newTestKeyspace() *keyspace.Keyspace {
	clk := clock.NewMock()
	clk.Set(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	ks := keyspace.New(clk)
	ks.SetReplica(true)
	return ks
}

// feedAll runs data through a fresh applier until the data ends or fails,
// collecting the GETACK answers.
func feedAll(t testing.TB, ks target, data string, start int64) (*applier, []int64, error) {
	t.Helper()
	ap := &applier{ks: ks, off: start}
	rd := resp.NewReader(bufio.NewReader(strings.NewReader(data)))
	var acks []int64
	for {
		act, err := ap.next(rd)
		if err != nil {
			return ap, acks, err
		}
		if act.ack {
			acks = append(acks, act.ackOff)
		}
	}
}

func get(t testing.TB, ks *keyspace.Keyspace, db int, args ...string) resp.Value {
	t.Helper()
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	res, err := ks.Exec(&db, b)
	require.NoError(t, err)
	return res.Reply
}

func TestApplierOffsetsCountEveryByte(t *testing.T) {
	ks := newTestKeyspace()
	getack := cmd("REPLCONF", "GETACK", "*")
	require.Len(t, getack, 37) // as the reference says
	stream := cmd("SELECT", "3") + cmd("SET", "k", "v") + cmd("ping") + "\n" + getack + cmd("PUBLISH", "ch", "m") + cmd("RPUSH", "l", "a", "b")
	ap, acks, err := feedAll(t, ks, stream, 100)
	require.ErrorIs(t, err, io.EOF)
	assert.Equal(t, int64(100+len(stream)), ap.off)
	assert.Equal(t, 3, ap.db)
	assert.Equal(t, uint64(2), ap.applied)
	// The GETACK is answered with the offset before its own bytes.
	before := int64(100 + len(cmd("SELECT", "3")+cmd("SET", "k", "v")+cmd("ping")+"\n"))
	assert.Equal(t, []int64{before}, acks)
	assert.Equal(t, "v", get(t, ks, 3, "GET", "k").Text())
	assert.Equal(t, int64(2), get(t, ks, 3, "LLEN", "l").Int)
}

func TestApplierMultiExecIsAtomicAndMovesOffsetAtExec(t *testing.T) {
	ks := newTestKeyspace()
	tx := cmd("MULTI") + cmd("SET", "a", "1") + cmd("SELECT", "2") + cmd("SET", "b", "2") + cmd("EXEC")

	// Cut inside the transaction: nothing applied, the offset stays before
	// MULTI, so a PSYNC resends all of it.
	ap, _, err := feedAll(t, ks, cmd("SET", "x", "0")+tx[:len(tx)-3], 0)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, int64(len(cmd("SET", "x", "0"))), ap.off)
	assert.Equal(t, resp.NullBulk(), get(t, ks, 0, "GET", "a"))

	// Whole: applied at EXEC, including the SELECT inside it.
	ap, _, err = feedAll(t, ks, tx, 0)
	require.ErrorIs(t, err, io.EOF)
	assert.Equal(t, int64(len(tx)), ap.off)
	assert.Equal(t, 2, ap.db)
	assert.Equal(t, uint64(2), ap.applied)
	assert.Equal(t, "1", get(t, ks, 0, "GET", "a").Text())
	assert.Equal(t, "2", get(t, ks, 2, "GET", "b").Text())
}

func TestApplierFailures(t *testing.T) {
	tests := []struct {
		name, data string
		want       error
		msg        string
	}{
		{"select out of range", cmd("SELECT", "16"), ErrApply, "SELECT"},
		{"simple string", "+OK\r\n", ErrProtocol, "simple-string, not a command"},
		{"integer arg", "*2\r\n$3\r\nDEL\r\n:1\r\n", ErrProtocol, "argument 1"},
		{"null arg", "*2\r\n$3\r\nDEL\r\n$-1\r\n", ErrProtocol, "null bulk-string"},
		{"exec without multi", cmd("EXEC"), ErrProtocol, "EXEC without MULTI"},
		{"nested multi", cmd("MULTI") + cmd("MULTI"), ErrProtocol, "MULTI inside MULTI"},
		{"bad resp", "*1\r\n$x\r\n", resp.ErrProtocol, "invalid bulk length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := feedAll(t, newTestKeyspace(), tt.data, 0)
			require.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
}

// TestApplierSkipsWhatItCannotApply: a command the keyspace lacks or
// refuses is reported, counted in the offset and skipped; the commands
// around it apply. A full sync would meet it again, so none is asked for.
func TestApplierSkipsWhatItCannotApply(t *testing.T) {
	tests := []struct {
		name, data, msg string
		applied         uint64
	}{
		{"unknown command", cmd("SET", "k", "v") + cmd("FROBNICATE", "k") + cmd("SET", "after", "1"), `"FROBNICATE" at offset 28`, 2},
		{"read command", cmd("GET", "k") + cmd("SET", "after", "1"), "not a write command", 1},
		{"wrong type", cmd("SET", "k", "v") + cmd("LPUSH", "k", "x") + cmd("SET", "after", "1"), "WRONGTYPE", 2},
		{"bad arity", cmd("SET", "k") + cmd("SET", "after", "1"), "wrong number of arguments", 1},
		{"error inside exec", cmd("SET", "k", "v") + cmd("MULTI") + cmd("SET", "j", "1") + cmd("INCR", "k") + cmd("EXEC") + cmd("SET", "after", "1"), "in the transaction", 3},
		{"unknown inside exec", cmd("MULTI") + cmd("SET", "j", "1") + cmd("FROBNICATE") + cmd("EXEC") + cmd("SET", "after", "1"), "FROBNICATE", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks := newTestKeyspace()
			ap := &applier{ks: ks}
			var reasons []string
			ap.onSkip = func(_ [][]byte, reason string) { reasons = append(reasons, reason) }
			rd := resp.NewReader(bufio.NewReader(strings.NewReader(tt.data)))
			var err error
			for err == nil {
				_, err = ap.next(rd)
			}
			require.ErrorIs(t, err, io.EOF)
			require.Len(t, reasons, 1)
			assert.Contains(t, reasons[0], tt.msg)
			assert.Equal(t, int64(len(tt.data)), ap.off)
			assert.Equal(t, tt.applied, ap.applied)
			assert.Equal(t, "1", get(t, ks, 0, "GET", "after").Text())
		})
	}
}

func TestApplierFailureKeepsOffsetBeforeTheFailingCommand(t *testing.T) {
	ks := newTestKeyspace()
	good := cmd("SET", "k", "v") + cmd("ping")
	ap, _, err := feedAll(t, ks, good+cmd("SELECT", "99")+cmd("SET", "z", "1"), 7)
	require.ErrorIs(t, err, ErrApply)
	assert.Equal(t, int64(7+len(good)), ap.off)
	assert.Equal(t, resp.NullBulk(), get(t, ks, 0, "GET", "z"))
}

func TestApplierEmptyArraysAndKeepalivesAreCounted(t *testing.T) {
	data := "*0\r\n*-1\r\n\n" + cmd("SET", "k", "v")
	ap, _, err := feedAll(t, newTestKeyspace(), data, 0)
	require.True(t, errors.Is(err, io.EOF))
	assert.Equal(t, int64(len(data)), ap.off)
}

// recorder passes every command through to a keyspace and keeps the ones
// that took effect (no error, no error reply), in order.
type recorder struct {
	ks  *keyspace.Keyspace
	log [][][]byte
	dbs []int // the database each logged command ran in
}

func (r *recorder) Apply(db *int, args [][]byte) (resp.Value, error) {
	in := *db
	reply, err := r.ks.Apply(db, args)
	if err == nil && reply.Kind != resp.KindError {
		r.log = append(r.log, slices.Clone(args)) // the applier reuses args
		r.dbs = append(r.dbs, in)
	}
	return reply, err
}

func (r *recorder) ExecAll(db *int, cmds [][][]byte) ([]keyspace.Result, error) {
	d := *db
	out, err := r.ks.ExecAll(db, cmds)
	if err != nil {
		return out, err
	}
	for i, res := range out {
		if res.Reply.Kind != resp.KindError {
			r.log = append(r.log, cmds[i])
			r.dbs = append(r.dbs, d)
		}
		if equalFold(cmds[i][0], "select") && res.Reply.Kind != resp.KindError {
			d = int(parseDB(cmds[i][1]))
		}
	}
	return out, nil
}

func parseDB(b []byte) int64 {
	var n int64
	for _, c := range b {
		n = n*10 + int64(c-'0')
	}
	return n
}

var fuzzSeeds = []string{
	"",
	"\n",
	cmd("SELECT", "0") + cmd("SET", "k", "v"),
	cmd("SELECT", "5") + cmd("SET", "k", "v", "PXAT", "1735689600000") + cmd("PEXPIREAT", "k", "1"),
	cmd("ping") + cmd("REPLCONF", "GETACK", "*") + cmd("PUBLISH", "c", "m"),
	cmd("MULTI") + cmd("SET", "a", "1") + cmd("INCR", "a") + cmd("EXEC"),
	cmd("MULTI") + cmd("SET", "a", "1") + cmd("LPUSH", "a", "x") + cmd("EXEC"),
	cmd("MULTI") + cmd("SET", "a", "1"),
	cmd("RPUSH", "l", "a", "b") + cmd("LPOP", "l") + cmd("HSET", "h", "f", "v") + cmd("SADD", "s", "m") + cmd("ZADD", "z", "1.5", "m") + cmd("ZINCRBY", "z", "-0.25", "m"),
	cmd("SET", "k", "v") + cmd("DEL", "k") + cmd("APPEND", "a", "x") + cmd("INCRBY", "c", "5"),
	cmd("SET", "k", "v") + "*3\r\n$3\r\nSET\r\n$1\r\nk",
	cmd("FLUSHALL") + cmd("SET", "x", "y") + cmd("FLUSHDB"),
	"*2\r\n$3\r\nDEL\r\n:1\r\n",
	"+FULLRESYNC x 0\r\n",
	"*1\r\n$-1\r\n",
	"*0\r\n*-1\r\n",
	cmd("SELECT", "99"),
	cmd("EXEC") + cmd("DISCARD"),
	cmd("MULTI") + cmd("DISCARD") + cmd("SET", "q", "1"),
	cmd("SET", "k", "v") + cmd("NOTACOMMAND", "k"),
}

// FuzzStreamApply feeds arbitrary bytes to a shard's applier as a
// replication stream. It must never panic, never count more bytes than it
// was given, and change the keyspace only through complete, valid
// commands:
//
//   - replaying just the commands that took effect onto a fresh keyspace
//     gives the same digest;
//   - the applied prefix data[:offset] is itself a clean stream: it reads
//     to EOF without error, reaches the same offset and database and, unless
//     a transaction failed half way, the same keyspace.
func FuzzStreamApply(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	lim := resp.Limits{MaxBulkLen: 1 << 12, MaxArrayLen: 64, MaxLineLen: 256, MaxDepth: 4}
	run := func(t *testing.T, ks target, data []byte) (*applier, error) {
		ap := &applier{ks: ks}
		rd := resp.NewReaderLimits(bufio.NewReaderSize(bytes.NewReader(data), 16), lim)
		for i := 0; ; i++ {
			if i > len(data) {
				t.Fatalf("more values than bytes")
			}
			if _, err := ap.next(rd); err != nil {
				return ap, err
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rec := &recorder{ks: newTestKeyspace()}
		ap, err := run(t, rec, data)
		if ap.off < 0 || ap.off > int64(len(data)) {
			t.Fatalf("offset %d for %d bytes", ap.off, len(data))
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, resp.ErrProtocol) &&
			!errors.Is(err, ErrProtocol) && !errors.Is(err, ErrApply) {
			t.Fatalf("unexpected error kind: %v", err)
		}

		replay := newTestKeyspace()
		for i, args := range rec.log {
			db := rec.dbs[i]
			if _, err := replay.Exec(&db, args); err != nil {
				t.Fatalf("replaying %q: %v", args, err)
			}
		}
		if got, want := replay.Digest(), rec.ks.Digest(); got != want {
			t.Fatalf("keyspace changed by something other than the applied commands")
		}

		prefix := newTestKeyspace()
		pap, perr := run(t, prefix, data[:ap.off])
		if !errors.Is(perr, io.EOF) {
			t.Fatalf("applied prefix %q does not replay cleanly: %v", data[:ap.off], perr)
		}
		if pap.off != ap.off || pap.db != ap.db {
			t.Fatalf("prefix replay reached offset %d db %d, want %d db %d", pap.off, pap.db, ap.off, ap.db)
		}
		halfTx := errors.Is(err, ErrApply) && strings.Contains(err.Error(), "in the transaction")
		if !halfTx && prefix.Digest() != rec.ks.Digest() {
			t.Fatalf("bytes after the applied offset changed the keyspace")
		}
	})
}
