package replica

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/replsm/replsm/redis/rdb"
)

// maxPreamble bounds the "$..." line before the payload.
const maxPreamble = 128

// receivePayload copies the snapshot that follows +FULLRESYNC from br to
// sp as it arrives, without holding it whole: "$<len>\r\n" and exactly len
// bytes, or "$EOF:<mark>\r\n", the RDB and the mark again (bare "\n"
// keepalives before the preamble skipped). It consumes nothing past the
// payload: the stream that follows stays in br. It returns the payload's
// size; on failure the error says how far it got. A payload announced
// larger than max (max > 0) fails at once, with ErrSpoolFull and
// rdb.ErrTooLarge.
func receivePayload(br *bufio.Reader, sp *spool, max int64) (int64, error) {
	line, err := readPreamble(br)
	if err != nil {
		return 0, fmt.Errorf("receive snapshot: %w", err)
	}
	if mark, ok := bytes.CutPrefix(line, []byte("EOF:")); ok {
		if len(mark) != rdb.EOFMarkLen {
			return 0, fmt.Errorf("receive snapshot: %w: EOF mark of %d bytes, want %d", rdb.ErrCorrupt, len(mark), rdb.EOFMarkLen)
		}
		return copyUntilMark(br, sp, mark)
	}
	size, err := strconv.ParseInt(string(line), 10, 64)
	if err != nil || size < 0 {
		return 0, fmt.Errorf("receive snapshot: %w: bad payload preamble %q", rdb.ErrCorrupt, line)
	}
	if max > 0 && size > max {
		return 0, fmt.Errorf("receive snapshot: %w: %w: %d bytes announced, limit %d", ErrSpoolFull, rdb.ErrTooLarge, size, max)
	}
	return copyN(br, sp, size)
}

// readPreamble skips keepalives and returns the text between '$' and CRLF.
func readPreamble(br *bufio.Reader) ([]byte, error) {
	for {
		c, err := br.ReadByte()
		if err != nil {
			return nil, err
		}
		if c == '\n' || c == '\r' {
			continue // a keepalive ("\n" or "\r\n")
		}
		if c != '$' {
			peek, _ := br.Peek(min(br.Buffered(), 32))
			return nil, fmt.Errorf("%w: expected '$' before the payload, got %q", rdb.ErrCorrupt, append([]byte{c}, peek...))
		}
		break
	}
	var line []byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			return nil, eofInside(err)
		}
		if c == '\n' {
			break
		}
		line = append(line, c)
		if len(line) > maxPreamble {
			return nil, fmt.Errorf("%w: payload preamble longer than %d bytes", rdb.ErrCorrupt, maxPreamble)
		}
	}
	if len(line) == 0 || line[len(line)-1] != '\r' {
		return nil, fmt.Errorf("%w: payload preamble %q not terminated by CRLF", rdb.ErrCorrupt, line)
	}
	return line[:len(line)-1], nil
}

// copyN copies exactly size bytes of br to sp.
func copyN(br *bufio.Reader, sp *spool, size int64) (int64, error) {
	var n int64
	for n < size {
		chunk, err := peekSome(br)
		if err != nil {
			return n, fmt.Errorf("receive snapshot: %w: payload truncated after %d of %d bytes: %w", rdb.ErrCorrupt, n, size, eofInside(err))
		}
		chunk = chunk[:min(int64(len(chunk)), size-n)]
		if _, err := sp.Write(chunk); err != nil {
			return n, fmt.Errorf("receive snapshot (%d of %d bytes in): %w", n, size, err)
		}
		_, _ = br.Discard(len(chunk))
		n += int64(len(chunk))
	}
	return n, nil
}

// copyUntilMark copies br to sp up to mark, which it consumes and leaves
// out. The last len(mark)-1 bytes seen are held back until the next ones
// show they are not the start of the mark.
func copyUntilMark(br *bufio.Reader, sp *spool, mark []byte) (int64, error) {
	var n int64                                 // bytes written to sp
	tail := make([]byte, 0, 2*len(mark))        // held back: may begin the mark
	window := make([]byte, 0, 64<<10+len(mark)) // tail + the chunk, for the search
	for {
		chunk, err := peekSome(br)
		if err != nil {
			return n, fmt.Errorf("receive snapshot: %w: transfer ended after %d bytes without its EOF mark: %w",
				rdb.ErrCorrupt, n+int64(len(tail)), eofInside(err))
		}
		window = append(append(window[:0], tail...), chunk...)
		if i := bytes.Index(window, mark); i >= 0 {
			if _, err := sp.Write(window[:i]); err != nil {
				return n, fmt.Errorf("receive snapshot (%d bytes in): %w", n, err)
			}
			_, _ = br.Discard(i + len(mark) - len(tail))
			return n + int64(i), nil
		}
		keep := min(len(window), len(mark)-1)
		out := window[:len(window)-keep]
		if _, err := sp.Write(out); err != nil {
			return n, fmt.Errorf("receive snapshot (%d bytes in): %w", n, err)
		}
		n += int64(len(out))
		tail = append(tail[:0], window[len(window)-keep:]...)
		_, _ = br.Discard(len(chunk))
	}
}

// peekSome returns what br holds, waiting for at least one byte.
func peekSome(br *bufio.Reader) ([]byte, error) {
	if br.Buffered() == 0 {
		if _, err := br.Peek(1); err != nil {
			return nil, err
		}
	}
	return br.Peek(br.Buffered())
}

// eofInside turns an EOF in the middle of something into ErrUnexpectedEOF.
func eofInside(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
