package resp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

var fuzzSeeds = []string{
	"+OK\r\n",
	"-ERR x\r\n",
	":-12\r\n",
	"$3\r\nabc\r\n",
	"$-1\r\n",
	"*-1\r\n",
	"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
	"*2\r\n*1\r\n:1\r\n$0\r\n\r\n",
	"\n\n+FULLRESYNC 0123456789012345678901234567890123456789 0\r\n\n",
	"PING\r\n",
	"SET \"a b\" 'c\\'d' \"\\x41\"\n",
	"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*1\r\n$4\r\nping\r\n",
	"$5\r\nab",
	"*1\r\n:x\r\n",
}

// FuzzReader checks that neither ReadValue nor ReadCommand panics, that the
// byte counts never exceed the input, and that whatever is accepted
// re-encodes to something that reads back equal, with n equal to the
// encoding's length.
func FuzzReader(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	lim := Limits{MaxBulkLen: 1 << 16, MaxArrayLen: 1 << 10, MaxLineLen: 1 << 10, MaxDepth: 8}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzValues(t, data, lim)
		fuzzCommands(t, data, lim)
	})
}

func fuzzValues(t *testing.T, data []byte, lim Limits) {
	r := NewReaderLimits(bufio.NewReaderSize(bytes.NewReader(data), 16), lim)
	var total int64
	for {
		v, n, err := r.ReadValue()
		total += n
		if total > int64(len(data)) || n < 0 {
			t.Fatalf("consumed %d of %d bytes", total, len(data))
		}
		if err != nil {
			checkErr(t, err)
			return
		}
		if v.Kind == KindKeepalive {
			continue
		}
		enc := AppendValue(nil, v)
		back, m, err := NewReaderLimits(bufio.NewReader(bytes.NewReader(enc)), lim).ReadValue()
		if err != nil {
			t.Fatalf("re-reading %q: %v", enc, err)
		}
		if m != int64(len(enc)) || !sanitized(v).Equal(back) {
			t.Fatalf("round trip of %v gave %v (%d of %d bytes)", v, back, m, len(enc))
		}
	}
}

func fuzzCommands(t *testing.T, data []byte, lim Limits) {
	r := NewReaderLimits(bufio.NewReaderSize(bytes.NewReader(data), 16), lim)
	var total int64
	for {
		args, n, err := r.ReadCommand()
		total += n
		if total > int64(len(data)) || n < 0 {
			t.Fatalf("consumed %d of %d bytes", total, len(data))
		}
		if err != nil {
			checkErr(t, err)
			return
		}
		if len(args) == 0 {
			t.Fatalf("empty command returned without error")
		}
		enc := AppendCommand(nil, args...)
		back, m, err := NewReaderLimits(bufio.NewReader(bytes.NewReader(enc)), lim).ReadCommand()
		if err != nil {
			t.Fatalf("re-reading %q: %v", enc, err)
		}
		if m != int64(len(enc)) || len(back) != len(args) {
			t.Fatalf("round trip of %q gave %q", args, back)
		}
		for i := range args {
			if !bytes.Equal(args[i], back[i]) {
				t.Fatalf("round trip of %q gave %q", args, back)
			}
		}
	}
}

func checkErr(t *testing.T, err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrProtocol) {
		return
	}
	t.Fatalf("unexpected error kind: %v", err)
}

// sanitized mirrors the writer, which cannot put CR or LF inside a line.
func sanitized(v Value) Value {
	switch v.Kind {
	case KindSimpleString, KindError:
		s := bytes.Clone(v.Str)
		for i, c := range s {
			if c == '\r' || c == '\n' {
				s[i] = ' '
			}
		}
		v.Str = s
	case KindArray:
		arr := make([]Value, len(v.Array))
		for i, e := range v.Array {
			arr[i] = sanitized(e)
		}
		v.Array = arr
	}
	return v
}
