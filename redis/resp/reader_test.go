package resp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newReader(s string) *Reader {
	return NewReader(bufio.NewReader(strings.NewReader(s)))
}

func TestReadValue(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Value
	}{
		{"simple", "+OK\r\n", SimpleString("OK")},
		{"empty simple", "+\r\n", SimpleString("")},
		{"error", "-ERR bad thing\r\n", Error("ERR bad thing")},
		{"integer", ":1000\r\n", Integer(1000)},
		{"zero", ":0\r\n", Integer(0)},
		{"negative", ":-42\r\n", Integer(-42)},
		{"min int64", ":-9223372036854775808\r\n", Integer(-9223372036854775808)},
		{"max int64", ":9223372036854775807\r\n", Integer(9223372036854775807)},
		{"bulk", "$5\r\nhello\r\n", BulkString("hello")},
		{"bulk with CRLF inside", "$4\r\na\r\nb\r\n", BulkString("a\r\nb")},
		{"empty bulk", "$0\r\n\r\n", BulkString("")},
		{"null bulk", "$-1\r\n", NullBulk()},
		{"array", "*2\r\n$3\r\nfoo\r\n:7\r\n", Array(BulkString("foo"), Integer(7))},
		{"empty array", "*0\r\n", Array()},
		{"null array", "*-1\r\n", NullArray()},
		{"nested", "*2\r\n*1\r\n+a\r\n*0\r\n", Array(Array(SimpleString("a")), Array())},
		{"null inside array", "*2\r\n$-1\r\n*-1\r\n", Array(NullBulk(), NullArray())},
		{"keepalive", "\n", Value{Kind: KindKeepalive}},
		{"keepalive crlf", "\r\n", Value{Kind: KindKeepalive}},
		{"fullresync", "+FULLRESYNC 8de1787ba490483314a4d30f1c628bc5025eb761 0\r\n",
			SimpleString("FULLRESYNC 8de1787ba490483314a4d30f1c628bc5025eb761 0")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReader(tt.in)
			v, n, err := r.ReadValue()
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(v), "got %v want %v", v, tt.want)
			assert.Equal(t, int64(len(tt.in)), n, "byte count")
			_, n, err = r.ReadValue()
			assert.Equal(t, io.EOF, err)
			assert.Zero(t, n)
		})
	}
}

// A primary sends keepalives, then +FULLRESYNC, then more keepalives before
// the RDB; each value's count must add up to the exact stream length.
func TestReadValueStreamOffsets(t *testing.T) {
	stream := "\n\n+FULLRESYNC 0123456789012345678901234567890123456789 17\r\n\n" +
		"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n" +
		"*1\r\n$4\r\nping\r\n" +
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
	r := NewReader(bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(stream)), 16))
	var kinds []Kind
	var total int64
	for {
		v, n, err := r.ReadValue()
		total += n
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		kinds = append(kinds, v.Kind)
	}
	assert.Equal(t, int64(len(stream)), total)
	assert.Equal(t, []Kind{KindKeepalive, KindKeepalive, KindSimpleString, KindKeepalive,
		KindArray, KindArray, KindArray}, kinds)
}

func TestReadValueLargeBulkAcrossBuffer(t *testing.T) {
	payload := bytes.Repeat([]byte("abcdefgh"), 100_000) // 800 KB, many chunks
	in := AppendBulk(nil, payload)
	r := NewReader(bufio.NewReaderSize(bytes.NewReader(in), 16))
	v, n, err := r.ReadValue()
	require.NoError(t, err)
	assert.Equal(t, int64(len(in)), n)
	assert.Equal(t, payload, v.Str)
}

func TestReadValueLongSimpleStringAcrossBuffer(t *testing.T) {
	long := strings.Repeat("x", 10_000)
	r := NewReader(bufio.NewReaderSize(strings.NewReader("+"+long+"\r\n"), 16))
	v, n, err := r.ReadValue()
	require.NoError(t, err)
	assert.Equal(t, long, v.Text())
	assert.Equal(t, int64(len(long)+3), n)
}

func TestReadValueProtocolErrors(t *testing.T) {
	tests := []struct {
		name, in, msg string
	}{
		{"unknown type", "!oops\r\n", "unknown type byte"},
		{"inline text", "PING\r\n", "unknown type byte"},
		{"bare LF line", "+OK\n", "not terminated by CRLF"},
		{"bad integer", ":12a\r\n", "invalid integer"},
		{"plus sign", ":+1\r\n", "invalid integer"},
		{"leading zero", ":01\r\n", "invalid integer"},
		{"overflow", ":9223372036854775808\r\n", "invalid integer"},
		{"bad bulk length", "$x\r\n", "invalid bulk length"},
		{"negative bulk length", "$-2\r\n", "invalid bulk length"},
		{"bulk without CRLF", "$3\r\nabcd\r\n", "not followed by CRLF"},
		{"bad array length", "*-5\r\n", "invalid array length"},
		{"keepalive in array", "*1\r\n\n", "empty line"},
		{"bulk over limit", "$536870913\r\n", "exceeds limit"},
		{"array over limit", "*1048577\r\n", "exceeds limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, n, err := newReader(tt.in).ReadValue()
			require.ErrorIs(t, err, ErrProtocol)
			assert.Contains(t, err.Error(), tt.msg)
			assert.LessOrEqual(t, n, int64(len(tt.in)))
		})
	}
}

func TestReadValueErrorQuotesInput(t *testing.T) {
	_, _, err := newReader("?" + strings.Repeat("z", 100) + "\r\n").ReadValue()
	require.ErrorIs(t, err, ErrProtocol)
	assert.Contains(t, err.Error(), `"?zzzz`)
	assert.Contains(t, err.Error(), "...")
}

func TestReadValueLimits(t *testing.T) {
	lim := Limits{MaxBulkLen: 4, MaxArrayLen: 2, MaxLineLen: 8, MaxDepth: 2}
	read := func(in string) error {
		_, _, err := NewReaderLimits(bufio.NewReaderSize(strings.NewReader(in), 16), lim).ReadValue()
		return err
	}
	assert.NoError(t, read("$4\r\nabcd\r\n"))
	assert.ErrorIs(t, read("$5\r\nabcde\r\n"), ErrProtocol)
	assert.NoError(t, read("*2\r\n:1\r\n:2\r\n"))
	assert.ErrorIs(t, read("*3\r\n:1\r\n:2\r\n:3\r\n"), ErrProtocol)
	assert.NoError(t, read("+1234567\r\n"))
	assert.ErrorIs(t, read("+12345678\r\n"), ErrProtocol)
	// A line that never ends is cut off at the limit, not buffered forever.
	assert.ErrorIs(t, read("+"+strings.Repeat("a", 1000)), ErrProtocol)
	assert.NoError(t, read("*1\r\n*1\r\n:1\r\n"))
	assert.ErrorIs(t, read("*1\r\n*1\r\n*1\r\n:1\r\n"), ErrProtocol)
}

func TestReadValueEOF(t *testing.T) {
	for _, in := range []string{"+OK", "+OK\r", "$5\r\nhel", "$5\r\nhello", "$5\r\nhello\r", "*2\r\n:1\r\n", ":1"} {
		t.Run(in, func(t *testing.T) {
			_, n, err := newReader(in).ReadValue()
			assert.Equal(t, io.ErrUnexpectedEOF, err)
			assert.Equal(t, int64(len(in)), n)
		})
	}
	_, n, err := newReader("").ReadValue()
	assert.Equal(t, io.EOF, err)
	assert.Zero(t, n)
}

func TestReadValuePassesThroughReadErrors(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(bufio.NewReader(io.MultiReader(strings.NewReader("$10\r\nabc"), iotest.ErrReader(boom))))
	_, n, err := r.ReadValue()
	assert.Same(t, boom, err)
	assert.Equal(t, int64(8), n)
}

// A forged length must not make the reader allocate the announced size.
func TestReadValueDoesNotTrustLength(t *testing.T) {
	in := "$536870912\r\nabc"
	allocs := testing.AllocsPerRun(1, func() {
		_, _, _ = newReader(in).ReadValue()
	})
	assert.Less(t, allocs, 20.0)
	_, _, err := newReader(in).ReadValue()
	assert.Equal(t, io.ErrUnexpectedEOF, err)
}

func TestParseInt(t *testing.T) {
	good := map[string]int64{"0": 0, "1": 1, "-1": -1, "1234567890": 1234567890,
		"9223372036854775807": 1<<63 - 1, "-9223372036854775808": -1 << 63}
	for s, want := range good {
		got, ok := parseInt([]byte(s))
		assert.True(t, ok, s)
		assert.Equal(t, want, got, s)
	}
	for _, s := range []string{"", "-", "+1", "01", "-0", " 1", "1 ", "1.5", "9223372036854775808",
		"-9223372036854775809", "99999999999999999999", "123456789012345678901"} {
		_, ok := parseInt([]byte(s))
		assert.False(t, ok, s)
	}
}
