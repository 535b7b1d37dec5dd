package resp

import (
	"bufio"
	"errors"
	"io"
	"slices"
)

// Limits bounds what a Reader accepts. A zero field takes its default.
type Limits struct {
	// MaxBulkLen is the largest bulk string accepted, in bytes.
	// Default 512 MiB, Redis's proto-max-bulk-len.
	MaxBulkLen int64
	// MaxArrayLen is the largest element count of one array.
	// Default 1<<20.
	MaxArrayLen int64
	// MaxLineLen is the longest line accepted, without its terminator:
	// simple strings, errors, integers, length headers and inline commands.
	// Default 64 KiB, Redis's PROTO_INLINE_MAX_SIZE.
	MaxLineLen int
	// MaxDepth is the deepest nesting of arrays ReadValue accepts.
	// Default 64.
	MaxDepth int
}

// DefaultLimits returns the limits a Reader uses when none are given.
func DefaultLimits() Limits {
	return Limits{
		MaxBulkLen:  512 << 20,
		MaxArrayLen: 1 << 20,
		MaxLineLen:  64 << 10,
		MaxDepth:    64,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBulkLen <= 0 {
		l.MaxBulkLen = d.MaxBulkLen
	}
	if l.MaxArrayLen <= 0 {
		l.MaxArrayLen = d.MaxArrayLen
	}
	if l.MaxLineLen <= 0 {
		l.MaxLineLen = d.MaxLineLen
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	return l
}

// Reader reads RESP2 values from a *bufio.Reader, one per call, and reports
// how many bytes each one took. It is not safe for concurrent use.
type Reader struct {
	br  *bufio.Reader
	lim Limits
	// arena holds the small bulk strings of the value being read: a
	// command's arguments take one allocation instead of one each. It is
	// never shared between two values ReadValue returns, so keeping one
	// argument keeps at most its own command's bytes alive.
	arena []byte
}

const (
	// arenaBulk is the largest bulk string placed in the arena.
	arenaBulk = 1024
	// arenaFirst is the arena's first chunk; later ones double, up to
	// arenaMax.
	arenaFirst = 128
	arenaMax   = 4096
)

// NewReader returns a Reader over br with DefaultLimits.
func NewReader(br *bufio.Reader) *Reader {
	return NewReaderLimits(br, Limits{})
}

// NewReaderLimits returns a Reader over br with the given limits; zero fields
// take their defaults.
func NewReaderLimits(br *bufio.Reader, lim Limits) *Reader {
	return &Reader{br: br, lim: lim.withDefaults()}
}

// Limits returns the limits in effect.
func (r *Reader) Limits() Limits { return r.lim }

// ReadValue reads the next value and returns it with the number of bytes it
// occupied, terminators included. The bulk strings of one value may share
// one allocation (their capacity is their length, so appending to one never
// writes into another). An empty line ("\n" or "\r\n") is returned
// as a KindKeepalive value. n counts every byte consumed, also when err is not
// nil.
func (r *Reader) ReadValue() (v Value, n int64, err error) {
	r.arena = nil
	v, n, err = r.readValue(0)
	r.arena = nil
	return v, n, err
}

// small returns a slice of n bytes for a bulk string, from the arena.
func (r *Reader) small(n int) []byte {
	if cap(r.arena)-len(r.arena) < n {
		size := arenaFirst
		if c := cap(r.arena); c > 0 {
			size = min(2*c, arenaMax)
		}
		r.arena = make([]byte, 0, max(size, n))
	}
	l := len(r.arena)
	r.arena = r.arena[:l+n]
	return r.arena[l : l+n : l+n]
}

func (r *Reader) readValue(depth int) (Value, int64, error) {
	line, n, err := r.readLine()
	if err != nil {
		return Value{}, n, err
	}
	if len(line) == 1 || (len(line) == 2 && line[0] == '\r') {
		return Value{Kind: KindKeepalive}, n, nil
	}
	if line[len(line)-2] != '\r' {
		return Value{}, n, protocolErrorf(line, "line not terminated by CRLF")
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+':
		return Value{Kind: KindSimpleString, Str: clone(body)}, n, nil
	case '-':
		return Value{Kind: KindError, Str: clone(body)}, n, nil
	case ':':
		i, ok := parseInt(body)
		if !ok {
			return Value{}, n, protocolErrorf(line, "invalid integer")
		}
		return Value{Kind: KindInteger, Int: i}, n, nil
	case '$':
		size, ok := parseInt(body)
		if !ok || size < -1 {
			return Value{}, n, protocolErrorf(line, "invalid bulk length")
		}
		if size == -1 {
			return Value{Kind: KindBulkString, Null: true}, n, nil
		}
		if size > r.lim.MaxBulkLen {
			return Value{}, n, protocolErrorf(line, "bulk length %d exceeds limit %d", size, r.lim.MaxBulkLen)
		}
		data, m, err := r.readBulkBody(size)
		n += m
		if err != nil {
			return Value{}, n, err
		}
		return Value{Kind: KindBulkString, Str: data}, n, nil
	case '*':
		count, ok := parseInt(body)
		if !ok || count < -1 {
			return Value{}, n, protocolErrorf(line, "invalid array length")
		}
		if count == -1 {
			return Value{Kind: KindArray, Null: true}, n, nil
		}
		if count > r.lim.MaxArrayLen {
			return Value{}, n, protocolErrorf(line, "array length %d exceeds limit %d", count, r.lim.MaxArrayLen)
		}
		if depth+1 > r.lim.MaxDepth {
			return Value{}, n, protocolErrorf(line, "arrays nested deeper than %d", r.lim.MaxDepth)
		}
		// Grow as elements arrive: the announced count is not trusted.
		elems := make([]Value, 0, min(count, 1024))
		for i := int64(0); i < count; i++ {
			e, m, err := r.readValue(depth + 1)
			n += m
			if err != nil {
				return Value{}, n, inside(err)
			}
			if e.Kind == KindKeepalive {
				return Value{}, n, protocolErrorf(nil, "empty line in place of array element %d", i)
			}
			elems = append(elems, e)
		}
		return Value{Kind: KindArray, Array: elems}, n, nil
	}
	return Value{}, n, protocolErrorf(line, "unknown type byte %q", line[0])
}

// readLine returns the next line including its '\n'. The slice may alias the
// bufio buffer and is valid only until the next read.
func (r *Reader) readLine() ([]byte, int64, error) {
	var acc []byte
	var n int64
	max := r.lim.MaxLineLen + 2 // content plus "\r\n"
	for {
		frag, err := r.br.ReadSlice('\n')
		n += int64(len(frag))
		switch {
		case err == nil:
			line := frag
			if acc != nil {
				line = append(acc, frag...)
			}
			if len(line) > max {
				return nil, n, protocolErrorf(line, "line longer than %d bytes", r.lim.MaxLineLen)
			}
			return line, n, nil
		case errors.Is(err, bufio.ErrBufferFull):
			acc = append(acc, frag...)
			if len(acc) > max {
				return nil, n, protocolErrorf(acc, "line longer than %d bytes", r.lim.MaxLineLen)
			}
		case errors.Is(err, io.EOF):
			if n == 0 {
				return nil, 0, io.EOF
			}
			return nil, n, io.ErrUnexpectedEOF
		default:
			return nil, n, err
		}
	}
}

// readBulkBody reads size bytes and the CRLF after them. Memory grows with
// the bytes actually received, never ahead of them by more than a chunk.
func (r *Reader) readBulkBody(size int64) ([]byte, int64, error) {
	const chunk = 64 << 10
	var buf []byte
	if size <= arenaBulk {
		buf = r.small(int(size))[:0]
	} else {
		buf = make([]byte, 0, min(size, chunk))
	}
	var n int64
	for int64(len(buf)) < size {
		if len(buf) == cap(buf) {
			grow := min(size-int64(len(buf)), int64(cap(buf)))
			buf = slices.Grow(buf, int(grow))
		}
		end := min(int64(cap(buf)), size)
		m, err := r.br.Read(buf[len(buf):end])
		buf = buf[:len(buf)+m]
		n += int64(m)
		if err != nil {
			return nil, n, inside(err)
		}
	}
	for _, want := range []byte{'\r', '\n'} {
		c, err := r.br.ReadByte()
		if err != nil {
			return nil, n, inside(err)
		}
		n++
		if c != want {
			return nil, n, protocolErrorf([]byte{c}, "bulk string of %d bytes not followed by CRLF", size)
		}
	}
	return buf, n, nil
}

// inside converts io.EOF into io.ErrUnexpectedEOF for reads that started
// within a value.
func inside(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func clone(b []byte) []byte {
	return append(make([]byte, 0, len(b)), b...)
}

// parseInt parses a decimal int64 exactly as Redis's string2ll does: no sign
// but '-', no leading zeros, no spaces, no overflow.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := false
	if b[0] == '-' {
		neg = true
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	if b[0] < '1' || b[0] > '9' {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if u > (1<<64-1-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
}
