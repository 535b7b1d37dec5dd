package keyspace

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// parseInt parses a decimal int64 as Redis's string2ll does: an optional
// '-', no leading zeros, no '+', no spaces, no overflow.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := b[0] == '-'
	if neg {
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
		if u > (math.MaxUint64-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return int64(-u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

func formatInt(n int64) []byte { return strconv.AppendInt(nil, n, 10) }

// parseDouble parses a score as Redis's strtod-based getDoubleFromObject
// does: no surrounding spaces, no NaN, no overflow or underflow.
func parseDouble(b []byte) (float64, bool) {
	if len(b) == 0 || isSpace(b[0]) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// formatDouble renders a double as Redis 7.0's addReplyDouble does:
// printf("%.17g"), with "inf" and "-inf" for the infinities.
func formatDouble(f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return []byte("inf")
	case math.IsInf(f, -1):
		return []byte("-inf")
	}
	return strconv.AppendFloat(nil, f, 'g', 17, 64)
}

// INCRBYFLOAT and HINCRBYFLOAT compute in C long double, which on x86-64 is
// the 80-bit x87 format with a 64-bit mantissa. big.Float at precision 64
// reproduces its rounding, so replies match a real Redis digit for digit
// ("0.1" three times is "0.3", not float64's 0.30000000000000004).
const (
	longDoublePrec   = 64
	longDoubleMaxExp = 16384  // 2^16384 overflows the x87 exponent
	longDoubleMinExp = -16445 // below the smallest x87 subnormal
	maxLongDoubleLen = 5 * 1024
)

// parseLongDouble parses b as Redis's string2ld does (strtold, rejecting
// leading space, trailing garbage, NaN and out-of-range values).
func parseLongDouble(b []byte) (*big.Float, bool) {
	if len(b) == 0 || len(b) >= maxLongDoubleLen || isSpace(b[0]) {
		return nil, false
	}
	s := string(b)
	switch strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(s, "+"), "-")) {
	case "inf", "infinity":
		return new(big.Float).SetInf(s[0] == '-'), true
	}
	f, _, err := big.ParseFloat(s, 10, longDoublePrec, big.ToNearestEven)
	if err != nil {
		return nil, false
	}
	if f.Sign() != 0 {
		if exp := f.MantExp(nil); exp > longDoubleMaxExp || exp < longDoubleMinExp {
			return nil, false
		}
	}
	return f, true
}

// addLongDouble returns a+b, or false when the sum is NaN or infinite.
func addLongDouble(a, b *big.Float) (*big.Float, bool) {
	if a.IsInf() || b.IsInf() {
		return nil, false
	}
	sum := new(big.Float).SetPrec(longDoublePrec).SetMode(big.ToNearestEven).Add(a, b)
	if sum.Sign() != 0 && sum.MantExp(nil) > longDoubleMaxExp {
		return nil, false
	}
	return sum, true
}

// formatLongDouble renders f as Redis's ld2string in human-friendly mode:
// printf("%.17Lf") with trailing zeros (and a trailing '.') removed, and
// "-0" written as "0".
func formatLongDouble(f *big.Float) []byte {
	s := f.Text('f', 17)
	if strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return []byte(s)
}

func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}
