package keyspace

import (
	"math"
	"math/big"
)

// Distances are stored as scores by GEO ... STOREDIST, so they must be the
// same doubles Redis computes with glibc's sin, cos and asin, which are
// correctly rounded for all but vanishingly rare inputs; Go's math
// functions are not. These evaluate the series in 160-bit arithmetic and
// round once, which gives the correctly rounded result. Arguments here
// are radians of at most a few units, where the series converge quickly.

const geoPrec = 160

func bigF(x float64) *big.Float { return new(big.Float).SetPrec(geoPrec).SetFloat64(x) }

// seriesSinCos sums sin (odd) or cos (even) Taylor terms of x.
func seriesSinCos(x float64, odd bool) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		if odd {
			return math.Sin(x)
		}
		return math.Cos(x)
	}
	bx := bigF(x)
	x2 := new(big.Float).SetPrec(geoPrec).Mul(bx, bx)
	term := bigF(1)
	n := 0
	if odd {
		term = bigF(x)
		n = 1
	}
	sum := new(big.Float).SetPrec(geoPrec).Set(term)
	eps := new(big.Float).SetPrec(geoPrec).SetMantExp(bigF(1), -geoPrec)
	for i := 0; i < 200; i++ {
		// term *= -x^2 / ((n+1)(n+2))
		term.Mul(term, x2)
		term.Quo(term, bigF(float64((n+1)*(n+2))))
		term.Neg(term)
		n += 2
		sum.Add(sum, term)
		if new(big.Float).Abs(term).Cmp(new(big.Float).Mul(eps, new(big.Float).Abs(sum))) < 0 {
			break
		}
	}
	f, _ := sum.Float64()
	return f
}

func crSin(x float64) float64 {
	if x == 0 {
		return x
	}
	return seriesSinCos(x, true)
}

func crCos(x float64) float64 { return seriesSinCos(x, false) }

// crAsin is asin for 0 <= x < 0.9 by its series, math.Asin beyond (never
// reached by distances under a few thousand kilometres).
func crAsin(x float64) float64 {
	if x < 0 || x >= 0.9 || math.IsNaN(x) {
		return math.Asin(x)
	}
	if x == 0 {
		return 0
	}
	bx := bigF(x)
	x2 := new(big.Float).SetPrec(geoPrec).Mul(bx, bx)
	// asin x = sum c_n x^(2n+1), c_0 = 1, c_n = c_(n-1) (2n-1)^2 / ((2n)(2n+1))
	pow := new(big.Float).SetPrec(geoPrec).Set(bx)
	coef := bigF(1)
	sum := new(big.Float).SetPrec(geoPrec).Set(bx)
	eps := new(big.Float).SetPrec(geoPrec).SetMantExp(bigF(1), -geoPrec)
	for n := 1; n < 2000; n++ {
		pow.Mul(pow, x2)
		coef.Mul(coef, bigF(float64((2*n-1)*(2*n-1))))
		coef.Quo(coef, bigF(float64((2*n)*(2*n+1))))
		term := new(big.Float).SetPrec(geoPrec).Mul(coef, pow)
		sum.Add(sum, term)
		if term.Cmp(new(big.Float).Mul(eps, sum)) < 0 {
			break
		}
	}
	f, _ := sum.Float64()
	return f
}
