package keyspace

import (
	"encoding/binary"
	"math"

	"github.com/replsm/replsm/redis/resp"
)

// HyperLogLogs are strings whose bytes must be exactly Redis's: a replica
// serves them with GET, DUMPs them and hands them on in an RDB. This is
// hyperloglog.c (Redis 7.0) transcribed: the 16-byte header ("HYLL",
// encoding, 3 unused bytes, cached cardinality with its validity bit), the
// sparse opcodes ZERO, XZERO and VAL with their merge rules, promotion to
// the dense 6-bit registers past hll-sparse-max-bytes (3000) or a count
// above 32, and the cardinality estimator that fills the cache.

const (
	hllP              = 14
	hllQ              = 64 - hllP
	hllRegisters      = 1 << hllP
	hllBits           = 6
	hllRegisterMax    = 1<<hllBits - 1
	hllHdrSize        = 16
	hllDenseSize      = hllHdrSize + (hllRegisters*hllBits+7)/8
	hllDense          = 0
	hllSparse         = 1
	hllSparseMaxBytes = 3000 // hll-sparse-max-bytes default

	hllSparseValMaxValue = 32
	hllSparseValMaxLen   = 4
	hllSparseZeroMaxLen  = 64
	hllSparseXZeroMaxLen = 16384
	hllAlphaInf          = 0.721347520444481703680
)

func hllInvalidErr() Reply { return errReply("INVALIDOBJ Corrupted HLL object detected") }

func hllWrongType() Reply {
	return errReply("WRONGTYPE Key is not a valid HyperLogLog string value.")
}

// murmurHash64A is Redis's endian-neutral MurmurHash2, 64-bit.
func murmurHash64A(key []byte, seed uint64) uint64 {
	const m = 0xc6a4a7935bd1e995
	const r = 47
	h := seed ^ (uint64(len(key)) * m)
	n := len(key) - len(key)&7
	for i := 0; i < n; i += 8 {
		k := binary.LittleEndian.Uint64(key[i:])
		k *= m
		k ^= k >> r
		k *= m
		h ^= k
		h *= m
	}
	tail := key[n:]
	switch len(tail) {
	case 7:
		h ^= uint64(tail[6]) << 48
		fallthrough
	case 6:
		h ^= uint64(tail[5]) << 40
		fallthrough
	case 5:
		h ^= uint64(tail[4]) << 32
		fallthrough
	case 4:
		h ^= uint64(tail[3]) << 24
		fallthrough
	case 3:
		h ^= uint64(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint64(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint64(tail[0])
		h *= m
	}
	h ^= h >> r
	h *= m
	h ^= h >> r
	return h
}

// hllPatLen returns the register an element hashes to and the length of
// its 000..1 run.
func hllPatLen(ele []byte) (int, uint8) {
	hash := murmurHash64A(ele, 0xadc83b19)
	index := int(hash & (hllRegisters - 1))
	hash >>= hllP
	hash |= 1 << hllQ
	count := uint8(1)
	for bit := uint64(1); hash&bit == 0; bit <<= 1 {
		count++
	}
	return index, count
}

// newHLL is createHLLObject: an empty sparse HLL (one XZERO of 16384).
func newHLL() []byte {
	s := make([]byte, hllHdrSize, hllHdrSize+2)
	copy(s, "HYLL")
	s[4] = hllSparse
	return append(s, 0x40|byte((hllSparseXZeroMaxLen-1)>>8), byte((hllSparseXZeroMaxLen-1)&0xff))
}

// isHLL is isHLLObjectOrReply's check of a string's bytes.
func isHLL(s []byte) bool {
	if len(s) < hllHdrSize || string(s[:4]) != "HYLL" || s[4] > hllSparse {
		return false
	}
	return s[4] != hllDense || len(s) == hllDenseSize
}

func hllInvalidateCache(s []byte) { s[15] |= 1 << 7 }

func hllDenseGet(regs []byte, i int) uint8 {
	b := i * hllBits / 8
	fb := uint(i * hllBits & 7)
	b0 := uint(regs[b])
	var b1 uint
	if b+1 < len(regs) {
		b1 = uint(regs[b+1])
	}
	return uint8((b0>>fb | b1<<(8-fb)) & hllRegisterMax)
}

func hllDenseSetReg(regs []byte, i int, v uint8) {
	b := i * hllBits / 8
	fb := uint(i * hllBits & 7)
	regs[b] &^= byte(hllRegisterMax << fb)
	regs[b] |= byte(uint(v) << fb)
	if b+1 < len(regs) {
		regs[b+1] &^= byte(hllRegisterMax >> (8 - fb))
		regs[b+1] |= byte(uint(v) >> (8 - fb))
	}
}

// hllDenseSet raises register i to count; 1 if it changed.
func hllDenseSet(regs []byte, i int, count uint8) int {
	if count > hllDenseGet(regs, i) {
		hllDenseSetReg(regs, i, count)
		return 1
	}
	return 0
}

func sparseIsZero(b byte) bool  { return b&0xc0 == 0 }
func sparseIsXZero(b byte) bool { return b&0xc0 == 0x40 }
func sparseIsVal(b byte) bool   { return b&0x80 != 0 }
func sparseZeroLen(b byte) int  { return int(b&0x3f) + 1 }
func sparseXZeroLen(b0, b1 byte) int {
	return (int(b0&0x3f)<<8 | int(b1)) + 1
}
func sparseValValue(b byte) int { return int(b>>2&0x1f) + 1 }
func sparseValLen(b byte) int   { return int(b&0x3) + 1 }
func sparseVal(val, n int) byte { return byte((val-1)<<2|(n-1)) | 0x80 }
func appendZeros(seq []byte, n int) []byte {
	if n > hllSparseZeroMaxLen {
		return append(seq, byte((n-1)>>8)|0x40, byte((n-1)&0xff))
	}
	return append(seq, byte(n-1))
}

// hllSparseToDense converts; ok=false for a corrupt sparse HLL.
func hllSparseToDense(s []byte) ([]byte, bool) {
	if s[4] == hllDense {
		return s, true
	}
	dense := make([]byte, hllDenseSize)
	copy(dense, s[:hllHdrSize]) // magic and cached cardinality
	dense[4] = hllDense
	regs := dense[hllHdrSize:]
	idx := 0
	for p := hllHdrSize; p < len(s); {
		switch b := s[p]; {
		case sparseIsZero(b):
			idx += sparseZeroLen(b)
			p++
		case sparseIsXZero(b):
			if p+1 >= len(s) {
				return nil, false
			}
			idx += sparseXZeroLen(b, s[p+1])
			p += 2
		default:
			n, v := sparseValLen(b), sparseValValue(b)
			if n+idx > hllRegisters {
				return nil, false
			}
			for range n {
				hllDenseSetReg(regs, idx, uint8(v))
				idx++
			}
			p++
		}
	}
	if idx != hllRegisters {
		return nil, false
	}
	return dense, true
}

// hllSparseSet is hllSparseSet: it returns the (possibly promoted) HLL and
// 1 if a register changed, 0 if not, -1 for a corrupt HLL.
func hllSparseSet(s []byte, index int, count uint8) ([]byte, int) {
	if count > hllSparseValMaxValue {
		return hllPromoteSet(s, index, count)
	}
	end := len(s)
	p, first, prev, span := hllHdrSize, 0, -1, 0
	for p < end {
		oplen := 1
		switch b := s[p]; {
		case sparseIsZero(b):
			span = sparseZeroLen(b)
		case sparseIsVal(b):
			span = sparseValLen(b)
		default:
			if p+1 >= end {
				return s, -1
			}
			span = sparseXZeroLen(b, s[p+1])
			oplen = 2
		}
		if index <= first+span-1 {
			break
		}
		prev = p
		p += oplen
		first += span
	}
	if span == 0 || p >= end {
		return s, -1
	}
	b := s[p]
	isZero, isXZero, isVal := sparseIsZero(b), sparseIsXZero(b), sparseIsVal(b)
	var runlen int
	switch {
	case isZero:
		runlen = sparseZeroLen(b)
	case isXZero:
		runlen = sparseXZeroLen(b, s[p+1])
	default:
		runlen = sparseValLen(b)
	}
	if isVal {
		if uint8(sparseValValue(b)) >= count {
			return s, 0
		}
		if runlen == 1 {
			s[p] = sparseVal(int(count), 1)
			return hllSparseMerge(s, prev), 1
		}
	}
	if isZero && runlen == 1 {
		s[p] = sparseVal(int(count), 1)
		return hllSparseMerge(s, prev), 1
	}
	last := first + span - 1
	seq := make([]byte, 0, 5)
	if isZero || isXZero {
		if index != first {
			seq = appendZeros(seq, index-first)
		}
		seq = append(seq, sparseVal(int(count), 1))
		if index != last {
			seq = appendZeros(seq, last-index)
		}
	} else {
		cur := sparseValValue(b)
		if index != first {
			seq = append(seq, sparseVal(cur, index-first))
		}
		seq = append(seq, sparseVal(int(count), 1))
		if index != last {
			seq = append(seq, sparseVal(cur, last-index))
		}
	}
	oldlen := 1
	if isXZero {
		oldlen = 2
	}
	if delta := len(seq) - oldlen; delta > 0 && len(s)+delta > hllSparseMaxBytes {
		return hllPromoteSet(s, index, count)
	}
	out := make([]byte, 0, len(s)+len(seq))
	out = append(append(append(out, s[:p]...), seq...), s[p+oldlen:]...)
	return hllSparseMerge(out, prev), 1
}

func hllPromoteSet(s []byte, index int, count uint8) ([]byte, int) {
	dense, ok := hllSparseToDense(s)
	if !ok {
		return s, -1
	}
	hllDenseSet(dense[hllHdrSize:], index, count)
	return dense, 1
}

// hllSparseMerge joins adjacent VAL opcodes of equal value around the
// change (scanning up to 5 opcodes from prev) and invalidates the cache.
func hllSparseMerge(s []byte, prev int) []byte {
	p := hllHdrSize
	if prev >= 0 {
		p = prev
	}
	for scan := 5; p < len(s) && scan > 0; {
		scan--
		b := s[p]
		if sparseIsXZero(b) {
			p += 2
			continue
		}
		if sparseIsZero(b) {
			p++
			continue
		}
		if p+1 < len(s) && sparseIsVal(s[p+1]) {
			v1, v2 := sparseValValue(b), sparseValValue(s[p+1])
			if v1 == v2 {
				if n := sparseValLen(b) + sparseValLen(s[p+1]); n <= hllSparseValMaxLen {
					s[p+1] = sparseVal(v1, n)
					s = append(s[:p], s[p+1:]...)
					continue
				}
			}
		}
		p++
	}
	hllInvalidateCache(s)
	return s
}

// hllAdd adds one element: the new bytes and 1/0/-1 as hllSparseSet.
func hllAdd(s, ele []byte) ([]byte, int) {
	index, count := hllPatLen(ele)
	if s[4] == hllDense {
		return s, hllDenseSet(s[hllHdrSize:], index, count)
	}
	return hllSparseSet(s, index, count)
}

// hllMergeMax raises max's registers to s's; false for a corrupt HLL.
func hllMergeMax(max []uint8, s []byte) bool {
	if s[4] == hllDense {
		regs := s[hllHdrSize:]
		for i := range hllRegisters {
			if v := hllDenseGet(regs, i); v > max[i] {
				max[i] = v
			}
		}
		return true
	}
	i := 0
	for p := hllHdrSize; p < len(s); {
		switch b := s[p]; {
		case sparseIsZero(b):
			i += sparseZeroLen(b)
			p++
		case sparseIsXZero(b):
			if p+1 >= len(s) {
				return false
			}
			i += sparseXZeroLen(b, s[p+1])
			p += 2
		default:
			n, v := sparseValLen(b), uint8(sparseValValue(b))
			if n+i > hllRegisters {
				return false
			}
			for range n {
				if v > max[i] {
					max[i] = v
				}
				i++
			}
			p++
		}
	}
	return i == hllRegisters
}

// hllHisto is the register histogram of an HLL's bytes; ok=false for a
// corrupt sparse HLL.
func hllHisto(s []byte) (h [64]int, ok bool) {
	max := make([]uint8, hllRegisters)
	if !hllMergeMax(max, s) {
		return h, false
	}
	for _, v := range max {
		h[v]++
	}
	return h, true
}

func hllSigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y, z := 1.0, x
	for {
		x *= x
		zPrime := z
		z += float64(x * y) // no fused multiply-add: C rounds the product
		y += y
		if zPrime == z {
			return z
		}
	}
}

func hllTau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y, z := 1.0, 1-x
	for {
		x = math.Sqrt(x)
		zPrime := z
		y *= 0.5
		d := 1 - x
		z -= float64(float64(d*d) * y)
		if zPrime == z {
			return z / 3
		}
	}
}

// hllCountHisto is hllCount's estimator.
func hllCountHisto(h [64]int) uint64 {
	m := float64(hllRegisters)
	z := float64(m * hllTau((m-float64(h[hllQ+1]))/m))
	for j := hllQ; j >= 1; j-- {
		z += float64(h[j])
		z *= 0.5
	}
	z += float64(m * hllSigma(float64(h[0])/m))
	return uint64(math.Round(float64(float64(hllAlphaInf*m*m) / z)))
}

func cmdPFAdd(c *execCtx, args [][]byte) Reply {
	o, ok := c.writeTyped(args[1], TypeString)
	if !ok {
		return wrongType()
	}
	updated := 0
	var s []byte
	if o == nil {
		s = newHLL()
		updated++
	} else {
		if !isHLL(o.str) {
			return hllWrongType()
		}
		s = clone(o.str) // never written in place: replies may hold o.str
	}
	for _, ele := range args[2:] {
		var r int
		s, r = hllAdd(s, ele)
		switch r {
		case 1:
			updated++
		case -1:
			return hllInvalidErr()
		}
	}
	if updated == 0 {
		return integer(0)
	}
	hllInvalidateCache(s)
	c.setValue(args[1], newString(c.gen(), s), true)
	c.dirty += updated
	return integer(1)
}

func cmdPFCount(c *execCtx, args [][]byte) Reply {
	if len(args) > 2 {
		max := make([]uint8, hllRegisters)
		for _, k := range args[1:] {
			o := c.lookupRead(k)
			if o == nil {
				continue
			}
			if o.kind() != TypeString {
				return wrongType()
			}
			if !isHLL(o.str) {
				return hllWrongType()
			}
			if !hllMergeMax(max, o.str) {
				return hllInvalidErr()
			}
		}
		var h [64]int
		for _, v := range max {
			h[v]++
		}
		return integer(int64(hllCountHisto(h)))
	}
	// A write lookup: the primary's stream carries PFCOUNT when it refreshed
	// the cache, and that must apply to a key the replica holds.
	o := c.lookupWrite(args[1])
	if o == nil {
		return integer(0)
	}
	if o.kind() != TypeString {
		return wrongType()
	}
	if !isHLL(o.str) {
		return hllWrongType()
	}
	if o.str[15]&(1<<7) == 0 {
		return integer(int64(binary.LittleEndian.Uint64(o.str[8:16])))
	}
	h, ok := hllHisto(o.str)
	if !ok {
		return hllInvalidErr()
	}
	card := hllCountHisto(h)
	s := clone(o.str)
	binary.LittleEndian.PutUint64(s[8:16], card)
	c.setValue(args[1], newString(c.gen(), s), true)
	// Redis propagates the cache update, so replicas hold the same bytes.
	c.dirty++
	return integer(int64(card))
}

func cmdPFMerge(c *execCtx, args [][]byte) Reply {
	max := make([]uint8, hllRegisters)
	useDense := false
	for _, k := range args[1:] {
		o := c.lookupWrite(k)
		if o == nil {
			continue
		}
		if o.kind() != TypeString {
			return wrongType()
		}
		if !isHLL(o.str) {
			return hllWrongType()
		}
		if o.str[4] == hllDense {
			useDense = true
		}
		if !hllMergeMax(max, o.str) {
			return hllInvalidErr()
		}
	}
	var s []byte
	if o := c.lookupWrite(args[1]); o == nil {
		s = newHLL()
	} else {
		s = clone(o.str)
	}
	if useDense {
		var ok bool
		if s, ok = hllSparseToDense(s); !ok {
			return hllInvalidErr()
		}
	}
	for j, v := range max {
		if v == 0 {
			continue
		}
		if s[4] == hllDense {
			hllDenseSet(s[hllHdrSize:], j, v)
		} else {
			s, _ = hllSparseSet(s, j, v)
		}
	}
	hllInvalidateCache(s)
	c.setValue(args[1], newString(c.gen(), s), true)
	c.dirty++
	return okReply()
}

// cmdPFDebug is pfdebugCommand. GETREG and TODENSE turn a sparse HLL
// dense, and a primary propagates them when they do.
func cmdPFDebug(c *execCtx, args [][]byte) Reply {
	if len(args) != 3 {
		return arityReply("pfdebug")
	}
	o := c.lookupWrite(args[2])
	if o == nil {
		return errReply("ERR The specified key does not exist")
	}
	if o.kind() != TypeString {
		return wrongType()
	}
	if !isHLL(o.str) {
		return hllWrongType()
	}
	toDense := func() ([]byte, bool) {
		if o.str[4] == hllDense {
			return o.str, true
		}
		d, ok := hllSparseToDense(o.str)
		if ok {
			c.setValue(args[2], newString(c.gen(), d), true)
			c.dirty++
		}
		return d, ok
	}
	switch sub := lower(args[1]); sub {
	case "getreg":
		d, ok := toDense()
		if !ok {
			return hllInvalidErr()
		}
		regs := make([]Reply, hllRegisters)
		for j := range regs {
			regs[j] = integer(int64(hllDenseGet(d[hllHdrSize:], j)))
		}
		return resp.Array(regs...)
	case "encoding":
		if o.str[4] == hllDense {
			return resp.SimpleString("dense")
		}
		return resp.SimpleString("sparse")
	case "todense":
		if o.str[4] == hllDense {
			return integer(0)
		}
		if _, ok := toDense(); !ok {
			return hllInvalidErr()
		}
		return integer(1)
	}
	return errReply("ERR Unknown PFDEBUG subcommand '" + string(args[1]) + "'")
}
