package resp

import "bytes"

// ReadCommand reads the next client request and returns its arguments with
// the number of bytes consumed. It accepts what a Redis server accepts:
//
//   - a RESP array of bulk strings ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), the
//     form every client library and a primary's replication stream use;
//   - an inline command, one line of space-separated arguments ending in
//     "\n" or "\r\n", with the double- and single-quote rules of Redis's
//     sdssplitargs ("SET k \"a b\\x41\"").
//
// As in Redis, empty requests (a blank line, "*0\r\n", "*-1\r\n") are skipped;
// their bytes are included in n. The returned slices are owned by the caller.
func (r *Reader) ReadCommand() (args [][]byte, n int64, err error) {
	r.arena = nil // each command's arguments share their own arena
	defer func() { r.arena = nil }()
	for {
		first, err := r.br.Peek(1)
		if err != nil {
			return nil, n, err
		}
		var m int64
		if first[0] == '*' {
			args, m, err = r.readMultiBulk()
		} else {
			args, m, err = r.readInline()
		}
		n += m
		if err != nil || len(args) > 0 {
			return args, n, err
		}
	}
}

func (r *Reader) readMultiBulk() ([][]byte, int64, error) {
	line, n, err := r.readLine()
	if err != nil {
		return nil, n, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, n, protocolErrorf(line, "multibulk header not terminated by CRLF")
	}
	count, ok := parseInt(line[1 : len(line)-2])
	if !ok || count > r.lim.MaxArrayLen {
		return nil, n, protocolErrorf(line, "invalid multibulk length")
	}
	if count <= 0 {
		return nil, n, nil
	}
	args := make([][]byte, 0, min(count, 1024))
	for i := int64(0); i < count; i++ {
		hdr, m, err := r.readLine()
		n += m
		if err != nil {
			return nil, n, inside(err)
		}
		if hdr[0] != '$' {
			return nil, n, protocolErrorf(hdr, "expected '$', got %q", hdr[0])
		}
		if len(hdr) < 3 || hdr[len(hdr)-2] != '\r' {
			return nil, n, protocolErrorf(hdr, "bulk header not terminated by CRLF")
		}
		size, ok := parseInt(hdr[1 : len(hdr)-2])
		if !ok || size < 0 || size > r.lim.MaxBulkLen {
			return nil, n, protocolErrorf(hdr, "invalid bulk length")
		}
		arg, m, err := r.readBulkBody(size)
		n += m
		if err != nil {
			return nil, n, err
		}
		args = append(args, arg)
	}
	return args, n, nil
}

func (r *Reader) readInline() ([][]byte, int64, error) {
	line, n, err := r.readLine()
	if err != nil {
		return nil, n, err
	}
	content := bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'})
	args, err := splitArgs(content)
	if err != nil {
		return nil, n, err
	}
	return args, n, nil
}

// splitArgs splits an inline command line the way Redis's sdssplitargs does.
func splitArgs(line []byte) ([][]byte, error) {
	var args [][]byte
	p := 0
	for {
		for p < len(line) && isSpace(line[p]) {
			p++
		}
		if p == len(line) {
			return args, nil
		}
		var (
			inDouble, inSingle bool
			cur                = []byte{}
		)
		for done := false; !done; {
			if p == len(line) {
				if inDouble || inSingle {
					return nil, protocolErrorf(line, "unbalanced quotes in inline command")
				}
				break
			}
			c := line[p]
			switch {
			case inDouble:
				switch {
				case c == '\\' && p+3 < len(line) && line[p+1] == 'x' && isHex(line[p+2]) && isHex(line[p+3]):
					cur = append(cur, unhex(line[p+2])<<4|unhex(line[p+3]))
					p += 3
				case c == '\\' && p+1 < len(line):
					p++
					cur = append(cur, unescape(line[p]))
				case c == '"':
					// A closing quote must be followed by a space or the end.
					if p+1 < len(line) && !isSpace(line[p+1]) {
						return nil, protocolErrorf(line, "unbalanced quotes in inline command")
					}
					done = true
				default:
					cur = append(cur, c)
				}
			case inSingle:
				switch {
				case c == '\\' && p+1 < len(line) && line[p+1] == '\'':
					p++
					cur = append(cur, '\'')
				case c == '\'':
					if p+1 < len(line) && !isSpace(line[p+1]) {
						return nil, protocolErrorf(line, "unbalanced quotes in inline command")
					}
					done = true
				default:
					cur = append(cur, c)
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t':
					done = true
				case '"':
					inDouble = true
				case '\'':
					inSingle = true
				default:
					cur = append(cur, c)
				}
			}
			if !done || inDouble || inSingle {
				p++
			}
		}
		args = append(args, cur)
	}
}

func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return c
}
