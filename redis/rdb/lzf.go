package rdb

import "errors"

var errLZF = errors.New("bad LZF data")

// lzfExpand decompresses LZF (lzf_d.c's format: a control byte below 32
// starts a literal run of ctrl+1 bytes; otherwise a back reference of
// length ctrl>>5 (+ a byte when 7) + 2 at distance (ctrl&31)<<8 + a byte
// + 1) into exactly ulen bytes. Back references are copied in growing
// chunks rather than byte by byte: Redis's padded values are long runs.
func lzfExpand(in []byte, ulen int) ([]byte, error) {
	out := make([]byte, ulen)
	ip, op := 0, 0
	for ip < len(in) {
		ctrl := int(in[ip])
		ip++
		if ctrl < 32 {
			n := ctrl + 1
			if op+n > ulen || ip+n > len(in) {
				return nil, errLZF
			}
			copy(out[op:], in[ip:ip+n])
			ip += n
			op += n
			continue
		}
		n := ctrl >> 5
		if n == 7 {
			if ip >= len(in) {
				return nil, errLZF
			}
			n += int(in[ip])
			ip++
		}
		if ip >= len(in) {
			return nil, errLZF
		}
		ref := op - (ctrl&0x1f)<<8 - int(in[ip]) - 1
		ip++
		n += 2
		if ref < 0 || op+n > ulen {
			return nil, errLZF
		}
		// The output is periodic from ref with period op-ref: each copy
		// may take everything written since ref.
		for n > 0 {
			c := copy(out[op:op+n], out[ref:op])
			op += c
			n -= c
		}
	}
	if op != ulen {
		return nil, errLZF
	}
	return out, nil
}
