package prior

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Marginal names a one-dimensional distribution and its parameters:
//
//	"uniform"    [low, high]     closed support [low, high]
//	"normal"     [mu, sigma]     support R
//	"lognormal"  [mu, sigma]     of log θ; support (0, +Inf)
//	"gamma"      [alpha, beta]   shape and rate; support (0, +Inf)
//	"beta"       [alpha, beta]   support (0, 1)
//
// Uniform, Normal, LogNormal, Gamma and Beta build one with named parameters.
type Marginal struct {
	Family string    `json:"family"`
	Params []float64 `json:"params"`
}

// family builds the marginal of one family from checked-finite parameters.
type family struct {
	params []string
	build  func(p []float64) (marginal, error)
}

// marginal is a validated one-dimensional distribution.
type marginal struct {
	support interval
	// logProb is only called inside support.
	logProb func(x float64) float64
	// draw may return a value outside support through rounding; callers clamp.
	draw func(src rand.Source) float64
}

// familyNames fixes the order families are listed in error messages.
var familyNames = []string{"uniform", "normal", "lognormal", "gamma", "beta"}

var families = map[string]family{
	"uniform": {[]string{"low", "high"}, func(p []float64) (marginal, error) {
		if err := checkUniform(p[0], p[1]); err != nil {
			return marginal{}, err
		}
		d := distuv.Uniform{Min: p[0], Max: p[1]}
		return marginal{
			support: interval{lo: p[0], hi: p[1]},
			logProb: d.LogProb,
			draw:    func(src rand.Source) float64 { d := d; d.Src = src; return d.Rand() },
		}, nil
	}},
	"normal": {[]string{"mu", "sigma"}, func(p []float64) (marginal, error) {
		if err := checkPositive("sigma", p[1]); err != nil {
			return marginal{}, err
		}
		d := distuv.Normal{Mu: p[0], Sigma: p[1]}
		return marginal{
			support: realLine,
			logProb: func(x float64) float64 { return normalLogProb(x, p[0], p[1]) },
			draw:    func(src rand.Source) float64 { d := d; d.Src = src; return d.Rand() },
		}, nil
	}},
	"lognormal": {[]string{"mu", "sigma"}, func(p []float64) (marginal, error) {
		if err := checkPositive("sigma", p[1]); err != nil {
			return marginal{}, err
		}
		d := distuv.LogNormal{Mu: p[0], Sigma: p[1]}
		return marginal{
			support: positive,
			logProb: func(x float64) float64 { l := math.Log(x); return normalLogProb(l, p[0], p[1]) - l },
			draw:    func(src rand.Source) float64 { d := d; d.Src = src; return d.Rand() },
		}, nil
	}},
	"gamma": {[]string{"alpha", "beta"}, func(p []float64) (marginal, error) {
		if err := cmp.Or(checkPositive("alpha", p[0]), checkPositive("beta", p[1])); err != nil {
			return marginal{}, err
		}
		d := distuv.Gamma{Alpha: p[0], Beta: p[1]}
		if err := checkNormalizer(d.LogProb, 1); err != nil {
			return marginal{}, err
		}
		return marginal{
			support: positive,
			logProb: d.LogProb,
			draw:    func(src rand.Source) float64 { d := d; d.Src = src; return d.Rand() },
		}, nil
	}},
	"beta": {[]string{"alpha", "beta"}, func(p []float64) (marginal, error) {
		if err := cmp.Or(checkPositive("alpha", p[0]), checkPositive("beta", p[1])); err != nil {
			return marginal{}, err
		}
		d := distuv.Beta{Alpha: p[0], Beta: p[1]}
		if err := checkNormalizer(d.LogProb, 0.5); err != nil {
			return marginal{}, err
		}
		return marginal{
			support: interval{lo: 0, hi: 1, openLo: true, openHi: true},
			logProb: d.LogProb,
			draw:    func(src rand.Source) float64 { return betaDraw(d.Alpha, d.Beta, src) },
		}, nil
	}},
}

// normalLogProb is log N(x; mu, sigma) computed from the standardised
// value: gonum's divides (x−mu)² by sigma², which are both +Inf, so NaN, for
// a sigma such as 1e308.
func normalLogProb(x, mu, sigma float64) float64 {
	z := (x - mu) / sigma
	return -0.5*z*z - math.Log(sigma) - 0.5*math.Log(2*math.Pi)
}

var positive = interval{lo: 0, hi: math.Inf(1), openLo: true, openHi: true}

// betaDraw draws from Beta(a, b) as Ga/(Ga+Gb) with Ga ~ Gamma(a, 1) and
// Gb ~ Gamma(b, 1). distuv.Beta.Rand forms that ratio directly, which is 0/0
// when both gamma draws underflow, as they often do for shapes below 0.01;
// the ratio of logs does not underflow.
func betaDraw(a, b float64, src rand.Source) float64 {
	la := logGammaDraw(a, src)
	d := logGammaDraw(b, src) - la
	if math.IsNaN(d) {
		// Both logs are −Inf, which needs both shapes below about 2e-307:
		// Beta(a, b) is then Bernoulli(a/(a+b)) to float64 precision.
		if rand.New(src).Float64()*(a+b) < a {
			return 1
		}
		return 0
	}
	return 1 / (1 + math.Exp(d))
}

// logGammaDraw returns log G for G ~ Gamma(a, 1), using G = G'·U^(1/a) with
// G' ~ Gamma(a+1, 1) (Marsaglia and Tsang, 2000) so that small shapes do not
// underflow.
func logGammaDraw(a float64, src rand.Source) float64 {
	g := distuv.Gamma{Alpha: a + 1, Beta: 1, Src: src}.Rand()
	u := 1 - rand.New(src).Float64() // in (0, 1], so the log is finite
	return math.Log(g) + math.Log(u)/a
}

// checkPositive reports a value that is not positive.
func checkPositive(name string, v float64) error {
	if !(v > 0) {
		return fmt.Errorf("%s = %v must be positive", name, v)
	}
	return nil
}

// checkNormalizer rejects parameters so extreme that the log normalising
// constant overflows: the log density at the interior point x is then not
// finite, and would be NaN or ±Inf everywhere.
func checkNormalizer(logProb func(float64) float64, x float64) error {
	if lp := logProb(x); math.IsNaN(lp) || math.IsInf(lp, 0) {
		return fmt.Errorf("parameters overflow the log density (log p(%v) = %v)", x, lp)
	}
	return nil
}

// Independent is a product of one-dimensional marginals. Use NewIndependent
// to construct.
type Independent struct {
	spec      []Marginal
	marginals []marginal
}

// NewIndependent returns the product of the marginals m, one per dimension
// of θ. Errors name the offending dimension. m is copied.
func NewIndependent(m []Marginal) (*Independent, error) {
	if len(m) == 0 {
		return nil, fmt.Errorf("%w: independent: no marginals", ErrInvalid)
	}
	ind := &Independent{spec: copyMarginals(m), marginals: make([]marginal, len(m))}
	for i, mi := range m {
		d, err := buildMarginal(mi)
		if err != nil {
			return nil, fmt.Errorf("%w: independent: dimension %d: %s", ErrInvalid, i, err)
		}
		ind.marginals[i] = d
	}
	return ind, nil
}

func buildMarginal(m Marginal) (marginal, error) {
	f, ok := families[m.Family]
	if !ok {
		return marginal{}, fmt.Errorf("unknown family %q (want one of %s)", m.Family, strings.Join(familyNames, ", "))
	}
	if len(m.Params) != len(f.params) {
		return marginal{}, fmt.Errorf("%s takes %d parameters (%s), got %d",
			m.Family, len(f.params), strings.Join(f.params, ", "), len(m.Params))
	}
	for j, v := range m.Params {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return marginal{}, fmt.Errorf("%s %s = %v is not finite", m.Family, f.params[j], v)
		}
	}
	d, err := f.build(m.Params)
	if err != nil {
		return marginal{}, fmt.Errorf("%s: %s", m.Family, err)
	}
	return d, nil
}

func copyMarginals(m []Marginal) []Marginal {
	c := make([]Marginal, len(m))
	for i, mi := range m {
		c[i] = Marginal{Family: mi.Family, Params: append([]float64(nil), mi.Params...)}
	}
	return c
}

// Marginals returns a copy of the marginals.
func (p *Independent) Marginals() []Marginal { return copyMarginals(p.spec) }

// Dim returns the dimension of θ.
func (p *Independent) Dim() int { return len(p.marginals) }

// Sample fills each row of dst with a draw from src (the global generator
// when src is nil), dimension by dimension. It panics if dst is nil or has
// not Dim columns.
func (p *Independent) Sample(dst *mat.Dense, src rand.Source) {
	rnd, m, ok := sampleRows(dst, p.Dim(), src)
	if !ok {
		return
	}
	for i := range m.Rows {
		r := row(m, i)
		for j, d := range p.marginals {
			r[j] = d.support.clamp(d.draw(rnd))
		}
	}
}

// LogProb returns the sum of the marginal log densities, or −Inf when θ is
// outside the support, has the wrong length or holds NaN.
func (p *Independent) LogProb(theta []float64) float64 {
	if len(theta) == 0 || len(theta) != len(p.marginals) {
		return math.Inf(-1)
	}
	var lp float64
	for i, d := range p.marginals {
		if !d.support.contains(theta[i]) {
			return math.Inf(-1)
		}
		lp += d.logProb(theta[i])
	}
	return lp
}

// InSupport reports whether θ has length Dim and every element lies in its
// marginal's support.
func (p *Independent) InSupport(theta []float64) bool {
	if len(theta) == 0 || len(theta) != len(p.marginals) {
		return false
	}
	for i, d := range p.marginals {
		if !d.support.contains(theta[i]) {
			return false
		}
	}
	return true
}

// Bounds returns the ends of each marginal's support.
func (p *Independent) Bounds() (low, high []float64) {
	low, high = make([]float64, len(p.marginals)), make([]float64, len(p.marginals))
	for i, d := range p.marginals {
		low[i], high[i] = d.support.lo, d.support.hi
	}
	return low, high
}

type independentJSON struct {
	Type      string     `json:"type"`
	Marginals []Marginal `json:"marginals"`
}

// MarshalJSON implements json.Marshaler; see Marshal.
func (p *Independent) MarshalJSON() ([]byte, error) {
	if p == nil || len(p.spec) == 0 {
		return nil, fmt.Errorf("%w: independent: not built by NewIndependent", ErrInvalid)
	}
	return json.Marshal(independentJSON{Type: typeIndependent, Marginals: p.spec})
}
