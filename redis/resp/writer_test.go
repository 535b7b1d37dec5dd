package resp

import (
	"bufio"
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppend(t *testing.T) {
	assert.Equal(t, "+OK\r\n", string(AppendSimpleString(nil, "OK")))
	assert.Equal(t, "+a b\r\n", string(AppendSimpleString(nil, "a\nb")))
	assert.Equal(t, "-ERR x  y\r\n", string(AppendError(nil, "ERR x\r\ny")))
	assert.Equal(t, ":-5\r\n", string(AppendInteger(nil, -5)))
	assert.Equal(t, "$3\r\nabc\r\n", string(AppendBulk(nil, []byte("abc"))))
	assert.Equal(t, "$0\r\n\r\n", string(AppendBulk(nil, nil)))
	assert.Equal(t, "$2\r\nhi\r\n", string(AppendBulkString(nil, "hi")))
	assert.Equal(t, "$-1\r\n", string(AppendNull(nil)))
	assert.Equal(t, "*-1\r\n", string(AppendNullArray(nil)))
	assert.Equal(t, "*3\r\n", string(AppendArrayHeader(nil, 3)))
	assert.Equal(t, "prefix*1\r\n$4\r\nPING\r\n", string(AppendCommand([]byte("prefix"), []byte("PING"))))
	assert.Equal(t, "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n", string(AppendCommandStrings(nil, "SELECT", "0")))
}

// The replication offset facts from the reference: REPLCONF GETACK * is 37
// bytes, and the offset advances by the exact encoded length.
func TestAppendCommandLengths(t *testing.T) {
	assert.Len(t, AppendCommandStrings(nil, "REPLCONF", "GETACK", "*"), 37)
	assert.Len(t, AppendCommandStrings(nil, "ping"), 14)
}

func TestAppendValueRoundTrip(t *testing.T) {
	values := []Value{
		SimpleString("PONG"), Error("WRONGTYPE Operation against a key"), Integer(-1),
		BulkString("x\r\ny"), NullBulk(), NullArray(), Array(),
		Array(Integer(1), Array(BulkString("a"), NullBulk()), SimpleString("s")),
		{Kind: KindKeepalive},
	}
	for _, v := range values {
		enc := AppendValue(nil, v)
		got, n, err := NewReader(bufio.NewReader(bytes.NewReader(enc))).ReadValue()
		require.NoError(t, err, v.String())
		assert.True(t, v.Equal(got), "%v != %v", v, got)
		assert.Equal(t, int64(len(enc)), n)
	}
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	require.NoError(t, w.WriteSimpleString("OK"))
	require.NoError(t, w.WriteError("ERR no"))
	require.NoError(t, w.WriteInteger(3))
	require.NoError(t, w.WriteBulk([]byte("b")))
	require.NoError(t, w.WriteBulkString("s"))
	require.NoError(t, w.WriteNull())
	require.NoError(t, w.WriteNullArray())
	require.NoError(t, w.WriteArrayHeader(0))
	require.NoError(t, w.WriteCommand([]byte("GET"), []byte("k")))
	require.NoError(t, w.WriteCommandStrings("DEL", "k"))
	require.NoError(t, w.WriteValue(Array(Integer(1))))
	assert.Equal(t, "+OK\r\n-ERR no\r\n:3\r\n$1\r\nb\r\n$1\r\ns\r\n$-1\r\n*-1\r\n*0\r\n"+
		"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n*1\r\n:1\r\n", buf.String())
}

type countingWriter struct {
	calls int
	err   error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.calls++
	return len(p), c.err
}

func TestWriterOneWritePerValue(t *testing.T) {
	cw := &countingWriter{}
	w := NewWriter(cw)
	require.NoError(t, w.WriteValue(Array(BulkString("a"), BulkString("b"), Integer(1))))
	require.NoError(t, w.WriteCommandStrings("SET", "k", "v"))
	assert.Equal(t, 2, cw.calls)

	cw.err = errors.New("closed")
	assert.ErrorIs(t, w.WriteInteger(1), cw.err)
}

func TestValueString(t *testing.T) {
	v := Array(SimpleString("OK"), Error("ERR x"), Integer(2), BulkString("b"), NullBulk(), NullArray())
	assert.Equal(t, `[OK, (error) ERR x, (integer) 2, "b", (nil), (nil array)]`, v.String())
	assert.Equal(t, "bulk-string", KindBulkString.String())
	assert.Equal(t, "kind(99)", Kind(99).String())
}
