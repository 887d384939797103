package tasks

import (
	"math"
	"math/rand/v2"
)

// binomialInversionMean is the mean below which binomial samples by
// inversion, whose cost grows with the mean.
const binomialInversionMean = 10

// binomial draws from Binomial(n, p) using rnd, without allocating (gonum's
// distuv.Binomial builds a new rand.Rand per draw). It returns NaN for p
// outside [0, 1].
func binomial(n int, p float64, rnd *rand.Rand) float64 {
	switch {
	case !(p >= 0 && p <= 1):
		return math.NaN()
	case p == 0:
		return 0
	case p == 1:
		return float64(n)
	}
	q := min(p, 1-p)
	var k float64
	if mean := float64(n) * q; mean < binomialInversionMean {
		k = binomialInversion(n, q, rnd)
	} else {
		k = binomialRejection(n, q, mean, rnd)
	}
	if q != p {
		return float64(n) - k
	}
	return k
}

// binomialInversion walks the CDF from zero.
func binomialInversion(n int, q float64, rnd *rand.Rand) float64 {
	ratio := q / (1 - q)
	pk := math.Exp(float64(n) * math.Log1p(-q))
	u := rnd.Float64()
	k := 0
	// k < n guards against the rounding of the running sum.
	for u > pk && k < n {
		u -= pk
		pk *= ratio * float64(n-k) / float64(k+1)
		k++
	}
	return float64(k)
}

// binomialRejection uses a Lorentzian (Cauchy) envelope around the mean
// (Press et al., Numerical Recipes in C, 2nd ed., §7.3), exact for means
// of at least 1.
func binomialRejection(n int, q, mean float64, rnd *rand.Rand) float64 {
	fn := float64(n)
	lgn, _ := math.Lgamma(fn + 1)
	logQ, logQc := math.Log(q), math.Log1p(-q)
	sq := math.Sqrt(2 * mean * (1 - q))
	for {
		var y, k float64
		for {
			y = math.Tan(math.Pi * rnd.Float64())
			k = sq*y + mean
			if k >= 0 && k < fn+1 {
				break
			}
		}
		k = math.Floor(k)
		lgk, _ := math.Lgamma(k + 1)
		lgnk, _ := math.Lgamma(fn - k + 1)
		accept := 1.2 * sq * (1 + y*y) * math.Exp(lgn-lgk-lgnk+k*logQ+(fn-k)*logQc)
		if rnd.Float64() <= accept {
			return k
		}
	}
}
