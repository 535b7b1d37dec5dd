package rdb

import (
	"encoding/binary"
	"strconv"
)

// The compact encodings Redis saves small collections in, each read from a
// blob the decoder already holds: ziplist (ziplist.c), intset (intset.c),
// zipmap (zipmap.c). Listpacks are read by lpReader (stream.go). Elements
// are returned as new slices; integers in decimal, as Redis replies.

// elements calls fn with each element of a ziplist or listpack blob.
func elements(blob []byte, listpack bool, fn func([]byte) error) error {
	if listpack {
		if len(blob) < 7 || blob[len(blob)-1] != 0xFF || int(binary.LittleEndian.Uint32(blob)) != len(blob) {
			return errf("bad listpack header")
		}
		r := &lpReader{b: blob, pos: 6}
		for !r.eof() {
			v, err := r.str()
			if err != nil {
				return err
			}
			if err := fn(v); err != nil {
				return err
			}
		}
		if r.pos != len(blob)-1 {
			return errf("listpack ends before its last byte")
		}
		return nil
	}
	z, err := newZiplist(blob)
	if err != nil {
		return err
	}
	for !z.eof() {
		v, err := z.next()
		if err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	if z.pos != len(blob)-1 {
		return errf("ziplist ends before its last byte")
	}
	return nil
}

type ziplist struct {
	b   []byte
	pos int
}

func newZiplist(b []byte) (*ziplist, error) {
	if len(b) < 11 || b[len(b)-1] != 0xFF || int(binary.LittleEndian.Uint32(b)) != len(b) {
		return nil, errf("bad ziplist header")
	}
	return &ziplist{b: b, pos: 10}, nil
}

func (z *ziplist) eof() bool { return z.pos >= len(z.b) || z.b[z.pos] == 0xFF }

func (z *ziplist) need(n int) error {
	if n < 0 || len(z.b)-1-z.pos < n {
		return errf("ziplist entry runs past the end")
	}
	return nil
}

// next returns the next entry: its previous-entry length, its encoding,
// then a string or an integer.
func (z *ziplist) next() ([]byte, error) {
	if err := z.need(1); err != nil {
		return nil, err
	}
	if z.b[z.pos] == 0xFE {
		if err := z.need(5); err != nil {
			return nil, err
		}
		z.pos += 5
	} else {
		z.pos++
	}
	if err := z.need(1); err != nil {
		return nil, err
	}
	enc := z.b[z.pos]
	z.pos++
	strLen := -1
	switch enc >> 6 {
	case 0:
		strLen = int(enc & 0x3F)
	case 1:
		if err := z.need(1); err != nil {
			return nil, err
		}
		strLen = int(enc&0x3F)<<8 | int(z.b[z.pos])
		z.pos++
	case 2:
		if err := z.need(4); err != nil {
			return nil, err
		}
		strLen = int(binary.BigEndian.Uint32(z.b[z.pos:]))
		z.pos += 4
	}
	if strLen >= 0 {
		if err := z.need(strLen); err != nil {
			return nil, err
		}
		v := append([]byte(nil), z.b[z.pos:z.pos+strLen]...)
		z.pos += strLen
		return v, nil
	}
	var x int64
	width := 0
	switch enc {
	case 0xC0:
		width = 2
	case 0xD0:
		width = 4
	case 0xE0:
		width = 8
	case 0xF0:
		width = 3
	case 0xFE:
		width = 1
	default:
		if enc >= 0xF1 && enc <= 0xFD {
			return strconv.AppendInt(nil, int64(enc&0x0F)-1, 10), nil
		}
		return nil, errf("bad ziplist encoding 0x%02x", enc)
	}
	if err := z.need(width); err != nil {
		return nil, err
	}
	var u uint64
	for i := width - 1; i >= 0; i-- {
		u = u<<8 | uint64(z.b[z.pos+i])
	}
	shift := 64 - 8*width
	x = int64(u<<shift) >> shift
	z.pos += width
	return strconv.AppendInt(nil, x, 10), nil
}

// intsetMembers decodes an intset (width, count, little-endian integers).
func intsetMembers(is []byte) ([]string, error) {
	if len(is) < 8 {
		return nil, errf("bad intset header")
	}
	width := uint64(binary.LittleEndian.Uint32(is))
	count := uint64(binary.LittleEndian.Uint32(is[4:]))
	if (width != 2 && width != 4 && width != 8) || uint64(len(is)) != 8+width*count {
		return nil, errf("bad intset header (width %d, %d entries, %d bytes)", width, count, len(is))
	}
	out := make([]string, count)
	p := is[8:]
	for i := range out {
		var x int64
		switch width {
		case 2:
			x = int64(int16(binary.LittleEndian.Uint16(p)))
		case 4:
			x = int64(int32(binary.LittleEndian.Uint32(p)))
		default:
			x = int64(binary.LittleEndian.Uint64(p))
		}
		p = p[width:]
		out[i] = strconv.FormatInt(x, 10)
	}
	return out, nil
}

// zipmapPairs decodes a zipmap (the pre-2.6 small hash): a count byte,
// then field and value, each length-prefixed (254: a 4-byte length), the
// value after a free-space byte, up to 0xFF.
func zipmapPairs(zm []byte, fn func(f, v []byte) error) error {
	if len(zm) < 2 || zm[len(zm)-1] != 0xFF {
		return errf("bad zipmap")
	}
	pos := 1
	strlen := func() (int, error) {
		if pos >= len(zm)-1 {
			return 0, errf("zipmap entry runs past the end")
		}
		l := int(zm[pos])
		pos++
		if l == 254 {
			if pos+4 > len(zm)-1 {
				return 0, errf("zipmap entry runs past the end")
			}
			l = int(binary.LittleEndian.Uint32(zm[pos:]))
			pos += 4
		} else if l == 255 {
			return 0, errf("bad zipmap length")
		}
		return l, nil
	}
	for pos < len(zm) && zm[pos] != 0xFF {
		fl, err := strlen()
		if err != nil {
			return err
		}
		if fl < 0 || pos+fl > len(zm)-1 {
			return errf("zipmap entry runs past the end")
		}
		f := zm[pos : pos+fl]
		pos += fl
		vl, err := strlen()
		if err != nil {
			return err
		}
		if pos >= len(zm)-1 {
			return errf("zipmap entry runs past the end")
		}
		free := int(zm[pos])
		pos++
		if vl < 0 || pos+vl+free > len(zm)-1 {
			return errf("zipmap entry runs past the end")
		}
		v := zm[pos : pos+vl]
		pos += vl + free
		if err := fn(append([]byte(nil), f...), append([]byte(nil), v...)); err != nil {
			return err
		}
	}
	if pos != len(zm)-1 {
		return errf("zipmap ends before its last byte")
	}
	return nil
}
