package resp

import (
	"io"
	"strconv"
)

// AppendSimpleString appends "+s\r\n". CR and LF in s, which would end the
// line early, are replaced by spaces as Redis does.
func AppendSimpleString(dst []byte, s string) []byte {
	return appendLine(append(dst, '+'), s)
}

// AppendError appends "-msg\r\n", with CR and LF in msg replaced by spaces.
func AppendError(dst []byte, msg string) []byte {
	return appendLine(append(dst, '-'), msg)
}

// AppendInteger appends ":n\r\n".
func AppendInteger(dst []byte, n int64) []byte {
	dst = strconv.AppendInt(append(dst, ':'), n, 10)
	return append(dst, '\r', '\n')
}

// AppendBulk appends b as a bulk string.
func AppendBulk(dst, b []byte) []byte {
	dst = strconv.AppendInt(append(dst, '$'), int64(len(b)), 10)
	dst = append(dst, '\r', '\n')
	dst = append(dst, b...)
	return append(dst, '\r', '\n')
}

// AppendBulkString appends s as a bulk string.
func AppendBulkString(dst []byte, s string) []byte {
	dst = strconv.AppendInt(append(dst, '$'), int64(len(s)), 10)
	dst = append(dst, '\r', '\n')
	dst = append(dst, s...)
	return append(dst, '\r', '\n')
}

// AppendNull appends the null bulk string "$-1\r\n".
func AppendNull(dst []byte) []byte { return append(dst, "$-1\r\n"...) }

// AppendNullArray appends the null array "*-1\r\n".
func AppendNullArray(dst []byte) []byte { return append(dst, "*-1\r\n"...) }

// AppendArrayHeader appends "*n\r\n"; the caller appends the n elements.
func AppendArrayHeader(dst []byte, n int) []byte {
	dst = strconv.AppendInt(append(dst, '*'), int64(n), 10)
	return append(dst, '\r', '\n')
}

// AppendCommand appends args as a RESP array of bulk strings, the form of a
// client request and of every command in a replication stream. The number of
// bytes it appends is exactly what the command adds to a replication offset.
func AppendCommand(dst []byte, args ...[]byte) []byte {
	dst = AppendArrayHeader(dst, len(args))
	for _, a := range args {
		dst = AppendBulk(dst, a)
	}
	return dst
}

// AppendCommandStrings is AppendCommand for string arguments.
func AppendCommandStrings(dst []byte, args ...string) []byte {
	dst = AppendArrayHeader(dst, len(args))
	for _, a := range args {
		dst = AppendBulkString(dst, a)
	}
	return dst
}

// AppendValue appends the wire encoding of v. A KindKeepalive value encodes
// as "\n"; a KindInvalid value appends nothing.
func AppendValue(dst []byte, v Value) []byte {
	switch v.Kind {
	case KindSimpleString:
		return appendLine(append(dst, '+'), string(v.Str))
	case KindError:
		return appendLine(append(dst, '-'), string(v.Str))
	case KindInteger:
		return AppendInteger(dst, v.Int)
	case KindBulkString:
		if v.Null {
			return AppendNull(dst)
		}
		return AppendBulk(dst, v.Str)
	case KindArray:
		if v.Null {
			return AppendNullArray(dst)
		}
		dst = AppendArrayHeader(dst, len(v.Array))
		for _, e := range v.Array {
			dst = AppendValue(dst, e)
		}
		return dst
	case KindKeepalive:
		return append(dst, '\n')
	}
	return dst
}

func appendLine(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return append(dst, '\r', '\n')
}

// Writer encodes RESP2 values onto an io.Writer. Each method issues exactly
// one Write call; wrap the destination in a *bufio.Writer to batch several
// values, and flush it yourself. A Writer is not safe for concurrent use.
type Writer struct {
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer onto w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

func (w *Writer) flush() error {
	_, err := w.w.Write(w.buf)
	if cap(w.buf) > 64<<10 {
		w.buf = nil // do not pin one huge value's buffer forever
	} else {
		w.buf = w.buf[:0]
	}
	return err
}

// WriteValue writes v.
func (w *Writer) WriteValue(v Value) error {
	w.buf = AppendValue(w.buf[:0], v)
	return w.flush()
}

// WriteSimpleString writes "+s\r\n".
func (w *Writer) WriteSimpleString(s string) error {
	w.buf = AppendSimpleString(w.buf[:0], s)
	return w.flush()
}

// WriteError writes "-msg\r\n".
func (w *Writer) WriteError(msg string) error {
	w.buf = AppendError(w.buf[:0], msg)
	return w.flush()
}

// WriteInteger writes ":n\r\n".
func (w *Writer) WriteInteger(n int64) error {
	w.buf = AppendInteger(w.buf[:0], n)
	return w.flush()
}

// WriteBulk writes b as a bulk string.
func (w *Writer) WriteBulk(b []byte) error {
	w.buf = AppendBulk(w.buf[:0], b)
	return w.flush()
}

// WriteBulkString writes s as a bulk string.
func (w *Writer) WriteBulkString(s string) error {
	w.buf = AppendBulkString(w.buf[:0], s)
	return w.flush()
}

// WriteNull writes the null bulk string.
func (w *Writer) WriteNull() error {
	w.buf = AppendNull(w.buf[:0])
	return w.flush()
}

// WriteNullArray writes the null array.
func (w *Writer) WriteNullArray() error {
	w.buf = AppendNullArray(w.buf[:0])
	return w.flush()
}

// WriteArrayHeader writes "*n\r\n"; the caller writes the n elements.
func (w *Writer) WriteArrayHeader(n int) error {
	w.buf = AppendArrayHeader(w.buf[:0], n)
	return w.flush()
}

// WriteCommand writes args as a RESP array of bulk strings.
func (w *Writer) WriteCommand(args ...[]byte) error {
	w.buf = AppendCommand(w.buf[:0], args...)
	return w.flush()
}

// WriteCommandStrings writes string args as a RESP array of bulk strings.
func (w *Writer) WriteCommandStrings(args ...string) error {
	w.buf = AppendCommandStrings(w.buf[:0], args...)
	return w.flush()
}
