package prior

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// BoxUniform is the uniform distribution on the closed box [low, high]
// (sbi's BoxUniform). Use NewBoxUniform to construct.
type BoxUniform struct {
	low, high []float64
	logVolume float64 // Σ log(high−low), so LogProb costs no logarithm
}

// NewBoxUniform returns the uniform prior on [low, high]. The slices must be
// non-empty and of equal length, finite, with low < high in every dimension
// and a width high−low that does not overflow. They are copied.
func NewBoxUniform(low, high []float64) (*BoxUniform, error) {
	if len(low) == 0 {
		return nil, fmt.Errorf("%w: box_uniform: empty bounds", ErrInvalid)
	}
	if len(low) != len(high) {
		return nil, fmt.Errorf("%w: box_uniform: low has %d values, high has %d", ErrInvalid, len(low), len(high))
	}
	b := &BoxUniform{low: append([]float64(nil), low...), high: append([]float64(nil), high...)}
	for i := range low {
		if err := checkUniform(low[i], high[i]); err != nil {
			return nil, fmt.Errorf("%w: box_uniform: dimension %d: %s", ErrInvalid, i, err)
		}
		b.logVolume += math.Log(high[i] - low[i])
	}
	return b, nil
}

// checkUniform reports what is wrong with the interval [lo, hi], or nil.
func checkUniform(lo, hi float64) error {
	switch {
	case !allFinite([]float64{lo, hi}):
		return fmt.Errorf("low = %v and high = %v must be finite", lo, hi)
	case !(lo < hi):
		return fmt.Errorf("low = %v must be below high = %v", lo, hi)
	case math.IsInf(hi-lo, 0):
		return fmt.Errorf("width high−low of [%v, %v] overflows float64", lo, hi)
	}
	return nil
}

// Dim returns the dimension of θ.
func (b *BoxUniform) Dim() int { return len(b.low) }

// Sample fills each row of dst with a uniform draw from src (the global
// generator when src is nil). Draws lie in [low, high]. It panics if dst is
// nil or has not Dim columns.
func (b *BoxUniform) Sample(dst *mat.Dense, src rand.Source) {
	rnd, m, ok := sampleRows(dst, b.Dim(), src)
	if !ok {
		return
	}
	for i := range m.Rows {
		r := row(m, i)
		for j := range r {
			// lo + w·u never rounds below lo but can round above hi.
			r[j] = min(b.low[j]+(b.high[j]-b.low[j])*rnd.Float64(), b.high[j])
		}
	}
}

// LogProb returns −Σ log(high−low) inside the box and −Inf elsewhere,
// including for θ of the wrong length or with NaN elements.
func (b *BoxUniform) LogProb(theta []float64) float64 {
	if !b.InSupport(theta) {
		return math.Inf(-1)
	}
	return -b.logVolume
}

// InSupport reports whether θ has length Dim and low ≤ θ ≤ high.
func (b *BoxUniform) InSupport(theta []float64) bool {
	if len(theta) == 0 || len(theta) != len(b.low) {
		return false
	}
	for i, v := range theta {
		if !(v >= b.low[i] && v <= b.high[i]) {
			return false
		}
	}
	return true
}

// Bounds returns copies of low and high.
func (b *BoxUniform) Bounds() (low, high []float64) {
	return append([]float64(nil), b.low...), append([]float64(nil), b.high...)
}

type boxJSON struct {
	Type string    `json:"type"`
	Low  []float64 `json:"low"`
	High []float64 `json:"high"`
}

// MarshalJSON implements json.Marshaler; see Marshal.
func (b *BoxUniform) MarshalJSON() ([]byte, error) {
	if b == nil || len(b.low) == 0 {
		return nil, fmt.Errorf("%w: box_uniform: not built by NewBoxUniform", ErrInvalid)
	}
	return json.Marshal(boxJSON{Type: typeBoxUniform, Low: b.low, High: b.high})
}
