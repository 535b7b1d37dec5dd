package resp

import (
	"bufio"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func strs(args [][]byte) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = string(a)
	}
	return out
}

func TestReadCommand(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"resp", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nva\r\nl\r\n", []string{"SET", "k", "va\r\nl"}},
		{"resp empty arg", "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", []string{"ECHO", ""}},
		{"inline crlf", "SET k v\r\n", []string{"SET", "k", "v"}},
		{"inline lf", "PING\n", []string{"PING"}},
		{"inline extra spaces", "  GET   key  \r\n", []string{"GET", "key"}},
		{"inline tabs", "GET\tkey\n", []string{"GET", "key"}},
		{"inline double quotes", `SET "a key" "x\ny\x41\"\\"` + "\r\n", []string{"SET", "a key", "x\nyA\"\\"}},
		{"inline single quotes", `SET 'it\'s' 'a\nb'` + "\r\n", []string{"SET", "it's", `a\nb`}},
		{"inline empty quoted", `SET k ""` + "\n", []string{"SET", "k", ""}},
		{"inline quote inside token", `SET k"v w" x` + "\n", []string{"SET", "kv w", "x"}},
		{"skips blank lines", "\r\n\n  \r\nPING\r\n", []string{"PING"}},
		{"skips empty arrays", "*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", []string{"PING"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(tt.in)), 16))
			args, n, err := r.ReadCommand()
			require.NoError(t, err)
			assert.Equal(t, tt.want, strs(args))
			assert.Equal(t, int64(len(tt.in)), n)
			_, _, err = r.ReadCommand()
			assert.Equal(t, io.EOF, err)
		})
	}
}

func TestReadCommandSequence(t *testing.T) {
	in := "PING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\nECHO hi\n"
	r := newReader(in)
	var got [][]string
	var total int64
	for {
		args, n, err := r.ReadCommand()
		total += n
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		got = append(got, strs(args))
	}
	assert.Equal(t, [][]string{{"PING"}, {"GET", "k"}, {"ECHO", "hi"}}, got)
	assert.Equal(t, int64(len(in)), total)
}

func TestReadCommandErrors(t *testing.T) {
	tests := []struct{ name, in, msg string }{
		{"unbalanced double", "SET \"abc\n", "unbalanced quotes"},
		{"unbalanced single", "SET 'abc\n", "unbalanced quotes"},
		{"text after quote", "SET \"a\"b\n", "unbalanced quotes"},
		{"not a bulk", "*1\r\n:1\r\n", "expected '$'"},
		{"bad count", "*x\r\n", "invalid multibulk length"},
		{"count over limit", "*1048577\r\n", "invalid multibulk length"},
		{"negative bulk", "*1\r\n$-1\r\n", "invalid bulk length"},
		{"bulk over limit", "*1\r\n$536870913\r\n", "invalid bulk length"},
		{"header without CR", "*1\n", "not terminated by CRLF"},
		{"bulk without CRLF", "*1\r\n$1\r\nab\r\n", "not followed by CRLF"},
		{"inline too long", strings.Repeat("a", 70_000) + "\n", "line longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := newReader(tt.in).ReadCommand()
			require.ErrorIs(t, err, ErrProtocol)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
}

func TestReadCommandEOF(t *testing.T) {
	for _, in := range []string{"PING", "*2\r\n$3\r\nGET\r\n", "*1\r\n$4\r\nPI"} {
		_, _, err := newReader(in).ReadCommand()
		assert.Equal(t, io.ErrUnexpectedEOF, err, in)
	}
	_, n, err := newReader("\r\n\n").ReadCommand()
	assert.Equal(t, io.EOF, err)
	assert.Equal(t, int64(3), n)
}

func TestSplitArgs(t *testing.T) {
	args, err := splitArgs([]byte(`a "b c" 'd e' "\x4a\x4B" "\t\r\b\a\z"`))
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b c", "d e", "JK", "\t\r\b\az"}, strs(args))

	args, err = splitArgs([]byte("   "))
	require.NoError(t, err)
	assert.Empty(t, args)

	// "\x4" is not a complete hex escape: the backslash escapes the x.
	args, err = splitArgs([]byte(`"\x4"`))
	require.NoError(t, err)
	assert.Equal(t, []string{"x4"}, strs(args))
}
