package rdb

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

const mark = "0123456789abcdefghij0123456789abcdefghij"

const stream = "*1\r\n$4\r\nPING\r\n"

func reader(s string) *bufio.Reader {
	return bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(s)), 16)
}

func TestReadPayloadDiskBased(t *testing.T) {
	in := "\n\n\r\n$18\r\n" + string(emptyRDB) + stream
	br := reader(in)
	payload, n, err := ReadPayload(br, 0)
	require.NoError(t, err)
	assert.Equal(t, emptyRDB, payload)
	assert.Equal(t, int64(len(in)-len(stream)), n)
	rest, _ := io.ReadAll(br)
	assert.Equal(t, stream, string(rest), "the stream after the payload stays unread")
}

func TestReadPayloadDiskless(t *testing.T) {
	in := "\n$EOF:" + mark + "\r\n" + string(emptyRDB) + mark + stream
	for name, br := range map[string]*bufio.Reader{
		"one byte at a time": reader(in),
		"large buffer":       bufio.NewReader(strings.NewReader(in)),
	} {
		t.Run(name, func(t *testing.T) {
			payload, n, err := ReadPayload(br, 1<<20)
			require.NoError(t, err)
			assert.Equal(t, emptyRDB, payload)
			assert.Equal(t, int64(len(in)-len(stream)), n)
			rest, _ := io.ReadAll(br)
			assert.Equal(t, stream, string(rest))
		})
	}
}

func TestReadPayloadLargeDiskless(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 50_000) // the mark's characters, shuffled
	in := "$EOF:" + mark + "\r\n" + string(big) + mark
	payload, _, err := ReadPayload(bufio.NewReaderSize(strings.NewReader(in), 4096), 0)
	require.NoError(t, err)
	assert.Equal(t, big, payload)
}

func TestReadPayloadErrors(t *testing.T) {
	tests := []struct {
		name, in string
		max      int64
		is       []error
	}{
		{"eof before anything", "", 0, []error{io.EOF}},
		{"eof after keepalive", "\n\n", 0, []error{io.ErrUnexpectedEOF}},
		{"not a payload", "+OK\r\n", 0, []error{ErrCorrupt}},
		{"stray CR", "\r$", 0, []error{ErrCorrupt}},
		{"bad length", "$abc\r\n", 0, []error{ErrCorrupt}},
		{"negative length", "$-1\r\n", 0, []error{ErrCorrupt}},
		{"preamble without CR", "$18\n", 0, []error{ErrCorrupt}},
		{"preamble too long", "$" + strings.Repeat("1", 200), 0, []error{ErrCorrupt}},
		{"too large", "$100\r\n", 99, []error{ErrTooLarge}},
		{"truncated", "$100\r\nabc", 0, []error{ErrCorrupt, io.ErrUnexpectedEOF}},
		{"short mark", "$EOF:abc\r\n", 0, []error{ErrCorrupt}},
		{"missing mark", "$EOF:" + mark + "\r\n" + string(emptyRDB), 0, []error{ErrCorrupt, io.ErrUnexpectedEOF}},
		{"wrong mark", "$EOF:" + mark + "\r\n" + string(emptyRDB) + strings.ToUpper(mark), 0, []error{ErrCorrupt, io.ErrUnexpectedEOF}},
		{"diskless too large", "$EOF:" + mark + "\r\n" + strings.Repeat("x", 100) + mark, 50, []error{ErrTooLarge}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, n, err := ReadPayload(reader(tt.in), tt.max)
			for _, want := range tt.is {
				assert.ErrorIs(t, err, want)
			}
			assert.LessOrEqual(t, n, int64(len(tt.in)))
		})
	}
}

func TestReadPayloadPassesReadErrors(t *testing.T) {
	boom := errors.New("boom")
	br := bufio.NewReader(io.MultiReader(strings.NewReader("$10\r\nab"), iotest.ErrReader(boom)))
	_, _, err := ReadPayload(br, 0)
	assert.ErrorIs(t, err, boom)
}

func TestWritePayloadRoundTrip(t *testing.T) {
	generated, err := NewEOFMark()
	require.NoError(t, err)
	assert.Len(t, generated, EOFMarkLen)
	for _, m := range []string{"", mark, generated} {
		var buf bytes.Buffer
		require.NoError(t, WritePayload(&buf, emptyRDB, m))
		if m == "" {
			assert.Equal(t, "$18\r\n"+string(emptyRDB), buf.String())
		}
		buf.WriteString(stream)
		br := bufio.NewReader(&buf)
		got, _, err := ReadPayload(br, 0)
		require.NoError(t, err)
		assert.Equal(t, emptyRDB, got)
		rest, _ := io.ReadAll(br)
		assert.Equal(t, stream, string(rest))
	}
	assert.Error(t, WritePayload(io.Discard, emptyRDB, "short"))
	assert.Error(t, WritePayload(io.Discard, emptyRDB, strings.Repeat("\n", EOFMarkLen)))
}
