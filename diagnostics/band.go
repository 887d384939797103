package diagnostics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// ECDFBand is a simultaneous 1−Alpha confidence band for the empirical CDF
// of N independent uniform values on [0, 1), evaluated at Z: the ECDF of a
// calibrated posterior's normalised ranks stays inside the whole band with
// probability 1−Alpha, not merely at each point.
//
// It follows Säilynoja, Bürkner and Vehtari (2022, "Graphical test for
// discrete uniformity and its applications in goodness-of-fit evaluation
// and multiple sample comparison", Statistics and Computing 32:32) by
// simulation: the ECDF count at z is Binomial(N, z); each of Sims uniform
// samples gives the smallest two-sided binomial tail probability over Z,
// and Gamma, the Alpha-quantile of those minima, is the pointwise level
// whose binomial intervals hold simultaneously with probability 1−Alpha.
type ECDFBand struct {
	N     int       `json:"n"`
	Alpha float64   `json:"alpha"`
	Gamma float64   `json:"gamma"` // pointwise level of each interval
	Z     []float64 `json:"z"`     // k/K for k = 1…K−1, K = min(N, 100)
	Lower []float64 `json:"lower"` // ECDF bounds at Z
	Upper []float64 `json:"upper"`
	lo    []int     // count bounds at Z
	hi    []int
}

// bandSims is the number of simulated uniform samples behind a band.
const bandSims = 1000

// NewECDFBand returns the simultaneous band for n values at level 1−alpha,
// simulated from the stream seed (the same band for the same arguments).
func NewECDFBand(n int, alpha float64, seed uint64) (*ECDFBand, error) {
	if n < 1 {
		return nil, fmt.Errorf("%w: ECDF band of %d values", ErrInvalidOption, n)
	}
	if !(alpha > 0 && alpha < 1) {
		return nil, fmt.Errorf("%w: band level alpha %v", ErrInvalidOption, alpha)
	}
	k := min(n, 100)
	b := &ECDFBand{N: n, Alpha: alpha}
	bins := make([]distuv.Binomial, 0, k-1)
	for i := 1; i < k; i++ {
		z := float64(i) / float64(k)
		b.Z = append(b.Z, z)
		bins = append(bins, distuv.Binomial{N: float64(n), P: z})
	}
	src := rand.NewPCG(seed, bandStream)
	minP := make([]float64, bandSims)
	for s := range minP {
		// The counts of n uniforms in the k cells of width 1/k are
		// multinomial: draw them cell by cell as binomials of what is
		// left, in O(k) whatever n.
		p, c, left := 1.0, 0, n
		for i, bin := range bins {
			step := int(distuv.Binomial{N: float64(left), P: 1 / float64(k-i), Src: src}.Rand())
			c, left = c+step, left-step
			p = math.Min(p, twoSided(bin, c))
		}
		minP[s] = p
	}
	slices.Sort(minP)
	b.Gamma = minP[int(alpha*bandSims)]
	for _, bin := range bins {
		// Inside means both tails exceed Gamma/2: F(c) > γ/2 and
		// 1 − F(c−1) > γ/2.
		lo := quantileCount(n, func(c int) bool { return bin.CDF(float64(c)) > b.Gamma/2 })
		hi := quantileCount(n, func(c int) bool { return bin.CDF(float64(c)) >= 1-b.Gamma/2 })
		b.lo, b.hi = append(b.lo, lo), append(b.hi, hi)
		b.Lower = append(b.Lower, float64(lo)/float64(n))
		b.Upper = append(b.Upper, float64(hi)/float64(n))
	}
	return b, nil
}

// twoSided is the two-sided tail probability of count c under bin.
func twoSided(bin distuv.Binomial, c int) float64 {
	lower := bin.CDF(float64(c))
	upper := 1.0
	if c > 0 {
		upper = 1 - bin.CDF(float64(c-1))
	}
	return math.Min(1, 2*math.Min(lower, upper))
}

// quantileCount is the smallest count c on 0…n with ok(c), ok monotone.
func quantileCount(n int, ok func(int) bool) int {
	lo, hi := 0, n
	for lo < hi {
		mid := (lo + hi) / 2
		if ok(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// Contains reports whether the ECDF of u (len(u) must be N) stays inside
// the band at every point of Z.
func (b *ECDFBand) Contains(u []float64) bool {
	if len(u) != b.N {
		return false
	}
	for i, c := range ecdfCounts(u, b.Z) {
		if c < b.lo[i] || c > b.hi[i] {
			return false
		}
	}
	return true
}

// ecdfCounts returns the number of u below each z (z increasing).
func ecdfCounts(u, z []float64) []int {
	s := sortedCopy(u)
	out := make([]int, len(z))
	j := 0
	for i, zi := range z {
		for j < len(s) && s[j] < zi {
			j++
		}
		out[i] = j
	}
	return out
}

func sortedCopy(u []float64) []float64 {
	s := slices.Clone(u)
	slices.Sort(s)
	return s
}
