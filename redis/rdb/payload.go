package rdb

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
)

// EOFMarkLen is the length of the random mark that delimits a diskless
// transfer (Redis's RDB_EOF_MARK_SIZE).
const EOFMarkLen = 40

// maxPreamble bounds the "$..." line before the payload.
const maxPreamble = 128

// ReadPayload reads the RDB a primary sends after +FULLRESYNC, as a replica
// does. It skips bare "\n" (and "\r\n") keepalives, then accepts both forms:
//
//   - disk-based: "$<len>\r\n" and exactly len bytes, with no trailing CRLF;
//   - diskless: "$EOF:<40 chars>\r\n", the RDB, and the same 40 chars.
//
// The replication stream follows the payload immediately and is left unread
// in br. consumed counts every byte read, keepalives included, also on
// error. A payload larger than max (no limit when max <= 0) fails with
// ErrTooLarge before it is buffered; a malformed preamble or a diskless
// transfer that ends without its mark fails with ErrCorrupt (the latter also
// matches io.ErrUnexpectedEOF). Read errors from br pass through.
func ReadPayload(br *bufio.Reader, max int64) (payload []byte, consumed int64, err error) {
	if max <= 0 {
		max = math.MaxInt64
	}
	line, n, err := readPreamble(br)
	consumed += n
	if err != nil {
		return nil, consumed, err
	}
	if mark, ok := bytes.CutPrefix(line, []byte("EOF:")); ok {
		if len(mark) != EOFMarkLen {
			return nil, consumed, fmt.Errorf("%w: EOF mark of %d bytes, want %d", ErrCorrupt, len(mark), EOFMarkLen)
		}
		payload, n, err = readUntilMark(br, mark, max)
		return payload, consumed + n, err
	}
	size, err := strconv.ParseInt(string(line), 10, 64)
	if err != nil || size < 0 {
		return nil, consumed, fmt.Errorf("%w: bad payload preamble %q", ErrCorrupt, line)
	}
	if size > max {
		return nil, consumed, fmt.Errorf("%w: %d bytes announced, limit %d", ErrTooLarge, size, max)
	}
	payload, n, err = readN(br, size)
	return payload, consumed + n, err
}

// readPreamble skips keepalives and returns the text between '$' and CRLF.
func readPreamble(br *bufio.Reader) ([]byte, int64, error) {
	var n int64
	for {
		c, err := br.ReadByte()
		if err != nil {
			if n > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, n, err
		}
		n++
		switch c {
		case '\n':
			continue
		case '\r':
			c, err := br.ReadByte()
			if err != nil {
				return nil, n, inside(err)
			}
			n++
			if c != '\n' {
				return nil, n, fmt.Errorf("%w: stray CR before the payload", ErrCorrupt)
			}
			continue
		case '$':
		default:
			peek, _ := br.Peek(min(br.Buffered(), 32))
			return nil, n, fmt.Errorf("%w: expected '$' before the payload, got %q", ErrCorrupt, append([]byte{c}, peek...))
		}
		break
	}
	var line []byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			return nil, n, inside(err)
		}
		n++
		if c == '\n' {
			break
		}
		line = append(line, c)
		if len(line) > maxPreamble {
			return nil, n, fmt.Errorf("%w: payload preamble longer than %d bytes", ErrCorrupt, maxPreamble)
		}
	}
	if len(line) == 0 || line[len(line)-1] != '\r' {
		return nil, n, fmt.Errorf("%w: payload preamble %q not terminated by CRLF", ErrCorrupt, line)
	}
	return line[:len(line)-1], n, nil
}

// readN reads exactly size bytes, growing the buffer as they arrive.
func readN(br *bufio.Reader, size int64) ([]byte, int64, error) {
	const chunk = 1 << 20
	buf := make([]byte, 0, min(size, chunk))
	for int64(len(buf)) < size {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(size-int64(len(buf)), int64(cap(buf)))))
		}
		m, err := br.Read(buf[len(buf):min(int64(cap(buf)), size)])
		buf = buf[:len(buf)+m]
		if err != nil {
			return nil, int64(len(buf)), fmt.Errorf("%w: payload truncated after %d of %d bytes: %w",
				ErrCorrupt, len(buf), size, inside(err))
		}
	}
	return buf, size, nil
}

// readUntilMark reads until mark and returns what came before it. It looks
// only at bytes already buffered (Peek, then Discard), so it never consumes
// a byte past the mark.
func readUntilMark(br *bufio.Reader, mark []byte, limit int64) ([]byte, int64, error) {
	var acc []byte
	for {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				if errors.Is(err, io.EOF) {
					return nil, int64(len(acc)), fmt.Errorf("%w: transfer ended after %d bytes without its EOF mark: %w",
						ErrCorrupt, len(acc), io.ErrUnexpectedEOF)
				}
				return nil, int64(len(acc)), err
			}
		}
		chunk, _ := br.Peek(br.Buffered())
		// The mark may straddle what was accumulated and the new chunk.
		tail := acc[max(0, len(acc)-(len(mark)-1)):]
		window := append(slices.Clone(tail), chunk...)
		if i := bytes.Index(window, mark); i >= 0 {
			take := i + len(mark) - len(tail)
			acc = append(acc, chunk[:take]...)
			_, _ = br.Discard(take)
			payload := acc[:len(acc)-len(mark)]
			if int64(len(payload)) > limit {
				return nil, int64(len(acc)), fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
			}
			return payload, int64(len(acc)), nil
		}
		acc = append(acc, chunk...)
		_, _ = br.Discard(len(chunk))
		if int64(len(acc))-int64(len(mark)) > limit {
			return nil, int64(len(acc)), fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
		}
	}
}

func inside(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// WritePayload sends rdb as a primary does after +FULLRESYNC: with an empty
// eofMark in the disk-based form ("$<len>\r\n" + rdb), otherwise in the
// diskless form ("$EOF:<mark>\r\n" + rdb + mark), which only replicas that
// announced "capa eof" understand. eofMark must then be EOFMarkLen bytes
// without CR or LF; NewEOFMark makes one.
func WritePayload(w io.Writer, rdb []byte, eofMark string) error {
	var pre []byte
	if eofMark == "" {
		pre = fmt.Appendf(nil, "$%d\r\n", len(rdb))
	} else {
		if len(eofMark) != EOFMarkLen || bytes.ContainsAny([]byte(eofMark), "\r\n") {
			return fmt.Errorf("rdb: EOF mark must be %d bytes without CR or LF, got %q", EOFMarkLen, eofMark)
		}
		pre = fmt.Appendf(nil, "$EOF:%s\r\n", eofMark)
	}
	for _, b := range [][]byte{pre, rdb, []byte(eofMark)} {
		if len(b) == 0 {
			continue
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// NewEOFMark returns a random mark for a diskless transfer: 40 hex digits,
// as Redis generates.
func NewEOFMark() (string, error) {
	var b [EOFMarkLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}
