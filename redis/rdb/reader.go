package rdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"

	"github.com/hdt3213/rdb/crc64jones"
)

// decoder reads an RDB from a stream: buffered, hashing every byte it
// consumes into the running CRC-64, and allocating a value only as its bytes
// arrive (docs/fullsync.md, "Loading"). Nothing is read ahead of what the
// file's structure asks for beyond one buffer.
type decoder struct {
	src  io.Reader
	buf  []byte
	r, w int   // unread bytes are buf[r:w]
	base int64 // stream offset of buf[0]
	// hashed is how far into buf the CRC has consumed. It trails r by up
	// to 8 bytes, so that when a load fails early drainChecksum can still
	// find the file's last 8 bytes (its checksum) unhashed; crcOn stops it
	// once the checksum itself is being read.
	hashed int
	crc    hash.Hash64
	crcOn  bool

	maxValue int64
	// scratch holds a ziplist, listpack or intset while it is decoded.
	scratch []byte
}

const (
	// readBuf is the decoder's buffer; fill asks for at most maxFill.
	readBuf = 256 << 10
	maxFill = readBuf - 16
	// growStep is the largest allocation made for a value ahead of its
	// bytes: longer values grow as they arrive (so a forged length costs
	// at most what was actually sent).
	growStep = 1 << 20
	// maxLZFRatio bounds LZF's expansion: a 3-byte back reference yields at
	// most 264 bytes.
	maxLZFRatio = 100
)

func newDecoder(src io.Reader, maxValue int64) *decoder {
	return &decoder{src: src, buf: make([]byte, readBuf), crc: crc64jones.New(), crcOn: true, maxValue: maxValue}
}

// off is the stream offset of the next unread byte.
func (d *decoder) off() int64 { return d.base + int64(d.r) }

func corruptf(pos int64, format string, args ...any) error {
	return fmt.Errorf("%w: offset %d: %s", ErrCorrupt, pos, fmt.Sprintf(format, args...))
}

func unsupportedf(pos int64, format string, args ...any) error {
	return fmt.Errorf("%w: offset %d: %s", ErrUnsupported, pos, fmt.Sprintf(format, args...))
}

// fill makes at least n (<= maxFill) bytes available. A clean end of the
// input is corruption (truncation); any other read error is returned as it
// is.
func (d *decoder) fill(n int) error {
	if d.w-d.r >= n {
		return nil
	}
	if d.r+n > len(d.buf) {
		d.hash()
		keep := d.hashed
		copy(d.buf, d.buf[keep:d.w])
		d.base += int64(keep)
		d.w -= keep
		d.r -= keep
		d.hashed = 0
	}
	for empty := 0; d.w-d.r < n; {
		m, err := d.src.Read(d.buf[d.w:])
		d.w += m
		if d.w-d.r >= n {
			return nil
		}
		if errors.Is(err, io.EOF) {
			return corruptf(d.base+int64(d.w), "unexpected end of file")
		}
		if err != nil {
			return err
		}
		if m == 0 {
			if empty++; empty == 100 {
				return io.ErrNoProgress
			}
		}
	}
	return nil
}

// hash feeds the consumed bytes but the last 8 to the CRC.
func (d *decoder) hash() { d.hashTo(d.r - 8) }

func (d *decoder) hashTo(end int) {
	if d.crcOn && end > d.hashed {
		_, _ = d.crc.Write(d.buf[d.hashed:end])
		d.hashed = end
	}
}

func (d *decoder) byte() (byte, error) {
	if d.r == d.w {
		if err := d.fill(1); err != nil {
			return 0, err
		}
	}
	c := d.buf[d.r]
	d.r++
	return c, nil
}

// fixed returns the next n (small) bytes; the slice is valid until the next
// read.
func (d *decoder) fixed(n int) ([]byte, error) {
	if err := d.fill(n); err != nil {
		return nil, err
	}
	v := d.buf[d.r : d.r+n]
	d.r += n
	return v, nil
}

// length reads an RDB length; the encoded (11xxxxxx) form is an error here.
func (d *decoder) length() (uint64, error) {
	at := d.off()
	n, enc, err := d.lengthOrEncoding()
	if err == nil && enc {
		err = corruptf(at, "string encoding 0x%02x where a length was expected", 0xC0|n)
	}
	return n, err
}

func (d *decoder) lengthOrEncoding() (n uint64, encoded bool, err error) {
	at := d.off()
	first, err := d.byte()
	if err != nil {
		return 0, false, err
	}
	switch first >> 6 {
	case 0:
		return uint64(first & 0x3F), false, nil
	case 1:
		next, err := d.byte()
		return uint64(first&0x3F)<<8 | uint64(next), false, err
	case 2:
		switch first {
		case 0x80:
			v, err := d.fixed(4)
			if err != nil {
				return 0, false, err
			}
			return uint64(binary.BigEndian.Uint32(v)), false, nil
		case 0x81:
			v, err := d.fixed(8)
			if err != nil {
				return 0, false, err
			}
			return binary.BigEndian.Uint64(v), false, nil
		}
		return 0, false, corruptf(at, "bad length encoding 0x%02x", first)
	}
	return uint64(first & 0x3F), true, nil
}

// checkLen refuses a value longer than the ceiling before anything is
// allocated for it.
func (d *decoder) checkLen(at int64, what string, n uint64) error {
	if n > uint64(d.maxValue) {
		return fmt.Errorf("%w: %w: offset %d: %s of %d bytes exceeds the ceiling of %d (LoadOptions.MaxValue)",
			ErrValueTooLarge, ErrCorrupt, at, what, n, d.maxValue)
	}
	return nil
}

// raw reads n bytes into dst (appended), growing it as the bytes arrive.
func (d *decoder) raw(dst []byte, n uint64) ([]byte, error) {
	if dst == nil {
		dst = make([]byte, 0, min(n, growStep))
	}
	for n > 0 {
		if d.r == d.w {
			if err := d.fill(1); err != nil {
				return nil, err
			}
		}
		k := min(uint64(d.w-d.r), n)
		if free := uint64(cap(dst) - len(dst)); free < k {
			// Grow by doubling, never past what the value declares.
			grown := make([]byte, len(dst), min(uint64(len(dst))+n, max(2*uint64(cap(dst)), uint64(len(dst))+k)))
			copy(grown, dst)
			dst = grown
		}
		dst = append(dst, d.buf[d.r:d.r+int(k)]...)
		d.r += int(k)
		n -= k
	}
	return dst, nil
}

// str reads a string, integer encodings rendered in decimal, LZF expanded,
// into a new slice the caller owns.
func (d *decoder) str() ([]byte, error) {
	at := d.off()
	n, enc, err := d.lengthOrEncoding()
	if err != nil {
		return nil, err
	}
	return d.strBody(at, n, enc)
}

// strBody reads the string whose length or encoding at offset at was n, enc.
func (d *decoder) strBody(at int64, n uint64, enc bool) ([]byte, error) {
	if !enc {
		if err := d.checkLen(at, "string", n); err != nil {
			return nil, err
		}
		if n <= maxFill { // the common case: one copy out of the buffer
			if err := d.fill(int(n)); err != nil {
				return nil, err
			}
			v := make([]byte, n)
			copy(v, d.buf[d.r:])
			d.r += int(n)
			return v, nil
		}
		return d.raw(nil, n)
	}
	switch n {
	case 0, 1, 2:
		x, err := d.encodedInt(n)
		return strconv.AppendInt(nil, x, 10), err
	case 3:
		return d.lzf(at)
	}
	return nil, corruptf(at, "unknown string encoding %d", n)
}

// key reads a string as a Go string (one allocation).
func (d *decoder) key() (string, error) {
	at := d.off()
	n, enc, err := d.lengthOrEncoding()
	if err != nil {
		return "", err
	}
	if !enc && n <= maxFill {
		if err := d.fill(int(n)); err != nil {
			return "", err
		}
		k := string(d.buf[d.r : d.r+int(n)])
		d.r += int(n)
		return k, nil
	}
	// Rare: integer-encoded, compressed or huge keys.
	b, err := d.strBody(at, n, enc)
	return string(b), err
}

func (d *decoder) encodedInt(n uint64) (int64, error) {
	v, err := d.fixed(1 << n)
	if err != nil {
		return 0, err
	}
	switch n {
	case 0:
		return int64(int8(v[0])), nil
	case 1:
		return int64(int16(binary.LittleEndian.Uint16(v))), nil
	}
	return int64(int32(binary.LittleEndian.Uint32(v))), nil
}

// lzf reads a compressed string and expands it into a new slice.
func (d *decoder) lzf(at int64) ([]byte, error) {
	clen, err := d.length()
	if err != nil {
		return nil, err
	}
	ulen, err := d.length()
	if err != nil {
		return nil, err
	}
	if err := d.checkLen(at, "compressed string", ulen); err != nil {
		return nil, err
	}
	if ulen > clen*maxLZFRatio+64 {
		return nil, corruptf(at, "LZF claims %d bytes from %d", ulen, clen)
	}
	var data []byte
	if clen <= maxFill {
		if err := d.fill(int(clen)); err != nil {
			return nil, err
		}
		data = d.buf[d.r : d.r+int(clen)]
		d.r += int(clen)
	} else if data, err = d.raw(nil, clen); err != nil {
		return nil, err
	}
	v, err := lzfExpand(data, int(ulen))
	if err != nil {
		return nil, corruptf(at, "bad LZF data")
	}
	return v, nil
}

// blob reads a raw or LZF string that holds an encoded collection
// (ziplist, listpack, intset, zipmap) into the decoder's scratch buffer,
// valid until the next blob.
func (d *decoder) blob() ([]byte, error) {
	at := d.off()
	n, enc, err := d.lengthOrEncoding()
	if err != nil {
		return nil, err
	}
	if !enc {
		if err := d.checkLen(at, "encoded collection", n); err != nil {
			return nil, err
		}
		if uint64(cap(d.scratch)) < min(n, growStep) {
			d.scratch = make([]byte, 0, min(n, growStep))
		}
		d.scratch, err = d.raw(d.scratch[:0], n)
		return d.scratch, err
	}
	if n == 3 {
		return d.lzf(at)
	}
	return nil, corruptf(at, "integer-encoded string where a binary blob was expected")
}

// literalDouble reads the old ZSET's text score (length-prefixed; 253..255
// are NaN, +inf and -inf).
func (d *decoder) literalDouble() (float64, error) {
	at := d.off()
	n, err := d.byte()
	if err != nil {
		return 0, err
	}
	switch n {
	case 253:
		return 0, corruptf(at, "NaN score")
	case 254:
		return posInf, nil
	case 255:
		return negInf, nil
	}
	v, err := d.fixed(int(n))
	if err != nil {
		return 0, err
	}
	f, perr := strconv.ParseFloat(string(v), 64)
	if perr != nil {
		return 0, corruptf(at, "bad score %q", v)
	}
	return f, nil
}

// checksum ends the file: the CRC of everything so far is compared with
// the 8 bytes that follow (all zeros: not checksummed), and nothing may
// follow them. It reports whether a checksum was verified.
func (d *decoder) checksum() (bool, error) {
	d.hashTo(d.r)
	d.crcOn = false
	got := d.crc.Sum64()
	at := d.off()
	v, err := d.fixed(8)
	if err != nil {
		return false, corruptf(at, "truncated checksum")
	}
	sum := binary.LittleEndian.Uint64(v)
	if sum != 0 && sum != got {
		return false, fmt.Errorf("%w: checksum mismatch: file says %016x, content hashes to %016x", ErrCorrupt, sum, got)
	}
	if d.r < d.w {
		return false, corruptf(d.off(), "bytes after the checksum")
	}
	var one [1]byte
	for {
		m, err := d.src.Read(one[:])
		if m > 0 {
			return false, corruptf(d.off(), "bytes after the checksum")
		}
		if errors.Is(err, io.EOF) {
			return sum != 0, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// drainChecksum reads the rest of the input (up to maxDrain bytes),
// hashing all but its last 8 bytes, and reports a checksum mismatch if
// there is one: a flipped bit can make a type look unsupported, and the
// checksum says what really happened. It returns nil when the checksum
// matches or is zero, or the input ends, fails or runs past maxDrain first.
func (d *decoder) drainChecksum() error {
	// tail holds the last bytes seen, not yet hashed.
	var tailBuf [16]byte
	tail := append(tailBuf[:0], d.buf[d.hashed:d.w]...)
	if len(tail) > 8 {
		_, _ = d.crc.Write(tail[:len(tail)-8])
		tail = append(tailBuf[:0], tail[len(tail)-8:]...)
	}
	for read := int64(0); read < maxDrain; {
		m, err := d.src.Read(d.buf)
		read += int64(m)
		chunk := d.buf[:m]
		if len(chunk) >= 8 {
			_, _ = d.crc.Write(tail)
			_, _ = d.crc.Write(chunk[:m-8])
			tail = append(tailBuf[:0], chunk[m-8:]...)
		} else if m > 0 {
			all := append(tail, chunk...) // at most 15 bytes: stays in tailBuf
			keep := max(0, len(all)-8)
			_, _ = d.crc.Write(all[:keep])
			tail = tailBuf[:copy(tailBuf[:], all[keep:])]
		}
		if err != nil {
			if !errors.Is(err, io.EOF) || len(tail) < 8 {
				return nil
			}
			sum := binary.LittleEndian.Uint64(tail)
			if got := d.crc.Sum64(); sum != 0 && got != sum {
				return fmt.Errorf("%w: checksum mismatch: file says %016x, content hashes to %016x", ErrCorrupt, sum, got)
			}
			return nil
		}
	}
	return nil
}

// maxDrain bounds what drainChecksum reads after a failed load.
const maxDrain = 64 << 20
