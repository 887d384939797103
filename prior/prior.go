// Package prior defines prior distributions over simulator parameters θ.
//
// A prior is sampled in batches from an explicit random source, evaluates
// its log density (−Inf outside the support, never NaN) and travels inside a
// model file as JSON (see Marshal and Unmarshal). Values are safe for
// concurrent use once constructed: they hold no random state.
//
// # Supports
//
// The support is where the density is positive and finite, restricted to
// finite θ; LogProb is finite exactly there (up to floating-point underflow
// far in the tails) and InSupport agrees with it:
//
//   - BoxUniform and the "uniform" marginal: the closed box [low, high]. This
//     matches sbi's support check (torch's interval constraint is closed),
//     although torch's Uniform.log_prob treats high as excluded; draws are
//     always in [low, high].
//   - "normal" marginals and MultivariateNormal: every finite θ.
//   - "lognormal" and "gamma": (0, +Inf). "beta": (0, 1). The end points are
//     excluded: the density there is 0 or +Inf for most shapes, and one rule
//     for all shapes is simpler to rely on.
//
// A draw that a float64 cannot represent inside an open support (a gamma
// draw below the smallest subnormal, a beta draw within half an ulp of 1, a
// lognormal draw above MaxFloat64) is stored as the nearest representable
// point inside the support, so every sample passes InSupport.
//
// # Sampling
//
// Sample draws row by row from src, or from math/rand/v2's global generator
// when src is nil, so the same source yields the same draws whether they are
// asked for in one batch or in several. A nil destination or one without Dim
// columns is a programming error and panics, as in gonum's mat; an empty
// destination is left alone.
//
// # JSON
//
// Marshal writes a tagged object:
//
//	{"type":"box_uniform","low":[0,0],"high":[1,2]}
//	{"type":"independent","marginals":[{"family":"normal","params":[0,1]}]}
//	{"type":"multivariate_normal","mean":[0,0],"cov":[[1,0.5],[0.5,2]]}
//
// Numbers use the shortest decimal form that parses back to the same
// float64, so a round trip is bit-exact. Unmarshal rejects unknown fields and
// validates through the constructors.
package prior

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// Prior is a distribution over R^Dim.
type Prior interface {
	// Dim is the dimension of θ.
	Dim() int
	// Sample fills each row of dst (n×Dim) with an independent draw from src.
	Sample(dst *mat.Dense, src rand.Source)
	// LogProb is the log density at θ: −Inf outside the support, never NaN.
	LogProb(theta []float64) float64
	// InSupport reports whether θ lies in the support.
	InSupport(theta []float64) bool
	// Bounds returns per-dimension support bounds, ±Inf where unbounded.
	Bounds() (low, high []float64)
}

var (
	// ErrInvalid reports invalid prior parameters.
	ErrInvalid = errors.New("prior: invalid parameters")
	// ErrDim reports a θ whose length differs from the prior's dimension.
	ErrDim = errors.New("prior: wrong dimension")
	// ErrNotFinite reports a NaN or infinite element of θ.
	ErrNotFinite = errors.New("prior: θ not finite")
	// ErrOutOfSupport reports a θ outside the prior's support.
	ErrOutOfSupport = errors.New("prior: θ outside the support")
	// ErrUnknownType reports a prior type that has no JSON encoding.
	ErrUnknownType = errors.New("prior: unknown type")
	// ErrJSON reports malformed JSON.
	ErrJSON = errors.New("prior: bad json")
)

// Validate returns nil when θ lies in the support of p, and otherwise an
// error naming the first offending dimension. The error wraps ErrDim,
// ErrNotFinite or ErrOutOfSupport.
func Validate(p Prior, theta []float64) error {
	if p == nil {
		return fmt.Errorf("%w: nil prior", ErrInvalid)
	}
	if len(theta) != p.Dim() {
		return fmt.Errorf("%w: θ has %d values, the prior has dimension %d", ErrDim, len(theta), p.Dim())
	}
	for i, v := range theta {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: θ[%d] = %v", ErrNotFinite, i, v)
		}
	}
	if p.InSupport(theta) {
		return nil
	}
	low, high := p.Bounds()
	if len(low) == len(theta) && len(high) == len(theta) {
		for i, v := range theta {
			if v < low[i] {
				return fmt.Errorf("%w: θ[%d] = %v is below the lower bound %v", ErrOutOfSupport, i, v, low[i])
			}
			if v > high[i] {
				return fmt.Errorf("%w: θ[%d] = %v is above the upper bound %v", ErrOutOfSupport, i, v, high[i])
			}
		}
		// Within the bounds but rejected: for this package's priors that
		// means an excluded end point of an open interval.
		for i, v := range theta {
			if v == low[i] || v == high[i] {
				return fmt.Errorf("%w: θ[%d] = %v is an excluded end point of (%v, %v)", ErrOutOfSupport, i, v, low[i], high[i])
			}
		}
	}
	// A Prior from elsewhere may have a support that is not a box.
	return fmt.Errorf("%w: θ = %v", ErrOutOfSupport, theta)
}

// interval is a one-dimensional support; an infinite end is always open.
type interval struct {
	lo, hi         float64
	openLo, openHi bool
}

func (iv interval) contains(x float64) bool {
	return (x > iv.lo || !iv.openLo && x == iv.lo) && (x < iv.hi || !iv.openHi && x == iv.hi)
}

// clamp moves a draw that rounding put outside the interval onto the nearest
// representable point inside it.
func (iv interval) clamp(x float64) float64 {
	switch {
	case x < iv.lo || iv.openLo && x == iv.lo:
		if iv.openLo {
			return math.Nextafter(iv.lo, math.Inf(1))
		}
		return iv.lo
	case x > iv.hi || iv.openHi && x == iv.hi:
		if iv.openHi {
			return math.Nextafter(iv.hi, math.Inf(-1))
		}
		return iv.hi
	}
	return x
}

// realLine is the support of a normal marginal.
var realLine = interval{lo: math.Inf(-1), hi: math.Inf(1), openLo: true, openHi: true}

// allFinite reports whether every element of x is finite.
func allFinite(x []float64) bool {
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// globalSource draws from math/rand/v2's global generator, standing in for a
// nil source as gonum does.
type globalSource struct{}

func (globalSource) Uint64() uint64 { return rand.Uint64() }

// sampleRows checks dst against dim and returns a rand.Rand over src (the
// global generator when src is nil) and dst's raw storage. A nil or
// wrongly-shaped dst is a programming error: like gonum's mat, Sample panics.
// An empty dst asks for nothing; ok is then false.
func sampleRows(dst *mat.Dense, dim int, src rand.Source) (rnd *rand.Rand, raw blas64.General, ok bool) {
	if dst == nil {
		panic("prior: nil destination matrix")
	}
	if dst.IsEmpty() {
		return nil, blas64.General{}, false
	}
	if _, c := dst.Dims(); c != dim {
		panic(fmt.Sprintf("prior: destination has %d columns, prior has dimension %d", c, dim))
	}
	if src == nil {
		src = globalSource{}
	}
	return rand.New(src), dst.RawMatrix(), true
}

// row is row i of m's backing slice.
func row(m blas64.General, i int) []float64 { return m.Data[i*m.Stride : i*m.Stride+m.Cols] }
