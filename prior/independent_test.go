package prior

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/integrate/quad"
	"gonum.org/v1/gonum/mat"
)

func lgamma(x float64) float64 { v, _ := math.Lgamma(x); return v }

// closedForm holds a marginal's exact moments and log density, written out
// here rather than taken from distuv so the test checks distuv too.
type closedForm struct {
	m                       Marginal
	mean, variance, exKurt  float64
	logProb                 func(x float64) float64
	inside, outside, ending []float64 // sample points; ending: excluded end points
	singular                bool      // density unbounded at an end
}

func closedForms() []closedForm {
	normal := func(mu, s float64) func(float64) float64 {
		return func(x float64) float64 { return -0.5*math.Log(2*math.Pi) - math.Log(s) - (x-mu)*(x-mu)/(2*s*s) }
	}
	gamma := func(a, b float64) closedForm {
		return closedForm{
			m: Marginal{"gamma", []float64{a, b}}, mean: a / b, variance: a / (b * b), exKurt: 6 / a,
			logProb:  func(x float64) float64 { return a*math.Log(b) - lgamma(a) + (a-1)*math.Log(x) - b*x },
			inside:   []float64{math.SmallestNonzeroFloat64, 1e-8, 0.5, 3, 40},
			outside:  []float64{-1e-300, -2},
			ending:   []float64{0},
			singular: a < 1,
		}
	}
	beta := func(a, b float64) closedForm {
		s := a + b
		return closedForm{
			m: Marginal{"beta", []float64{a, b}}, mean: a / s, variance: a * b / (s * s * (s + 1)),
			exKurt: 6 * ((a-b)*(a-b)*(s+1) - a*b*(s+2)) / (a * b * (s + 2) * (s + 3)),
			logProb: func(x float64) float64 {
				return lgamma(s) - lgamma(a) - lgamma(b) + (a-1)*math.Log(x) + (b-1)*math.Log1p(-x)
			},
			inside:   []float64{math.SmallestNonzeroFloat64, 0.01, 0.5, 0.99, math.Nextafter(1, 0)},
			outside:  []float64{-0.5, 1.5},
			ending:   []float64{0, 1},
			singular: a < 1 || b < 1,
		}
	}
	const mu, s = 0.3, 0.25
	return []closedForm{
		{
			m: Marginal{"uniform", []float64{-2, 3}}, mean: 0.5, variance: 25.0 / 12, exKurt: -1.2,
			logProb: func(float64) float64 { return -math.Log(5) },
			inside:  []float64{-2, -1, 0, 3},
			outside: []float64{math.Nextafter(-2, -3), math.Nextafter(3, 4), 10},
		},
		{
			m: Marginal{"normal", []float64{1.5, 0.7}}, mean: 1.5, variance: 0.49, exKurt: 0,
			logProb: normal(1.5, 0.7),
			inside:  []float64{-30, 0, 1.5, 4, 1e200},
		},
		{
			m: Marginal{"lognormal", []float64{mu, s}}, mean: math.Exp(mu + s*s/2),
			variance: (math.Exp(s*s) - 1) * math.Exp(2*mu+s*s),
			exKurt:   math.Exp(4*s*s) + 2*math.Exp(3*s*s) + 3*math.Exp(2*s*s) - 6,
			logProb:  func(x float64) float64 { return normal(mu, s)(math.Log(x)) - math.Log(x) },
			inside:   []float64{1e-300, 0.2, 1, 3, 1e300},
			outside:  []float64{-1, -1e-300},
			ending:   []float64{0},
		},
		gamma(2.5, 1.5),
		gamma(0.1, 2), // distuv's small-shape algorithm
		gamma(1, 0.5), // distuv's exponential branch
		beta(2, 5),
		beta(0.3, 0.4), // densities that are infinite at both ends
	}
}

func TestIndependentMoments(t *testing.T) {
	cfs := closedForms()
	ms := make([]Marginal, len(cfs))
	for i, c := range cfs {
		ms[i] = c.m
	}
	p, err := NewIndependent(ms)
	if err != nil {
		t.Fatal(err)
	}
	draw := draws(p, 40000, 5)
	for j, c := range cfs {
		checkMoments(t, fmt.Sprint(c.m), mat.Col(nil, j, draw), c.mean, c.variance, c.exKurt)
	}
}

func TestIndependentLogProb(t *testing.T) {
	for _, c := range closedForms() {
		p, err := NewIndependent([]Marginal{c.m})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range c.inside {
			got, want := p.LogProb([]float64{x}), c.logProb(x)
			if math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) || !p.InSupport([]float64{x}) {
				t.Errorf("%v: LogProb(%v) = %v (in support %v), want %v", c.m, x, got, p.InSupport([]float64{x}), want)
			}
		}
		for _, x := range append(c.outside, c.ending...) {
			if got := p.LogProb([]float64{x}); !math.IsInf(got, -1) || p.InSupport([]float64{x}) {
				t.Errorf("%v: LogProb(%v) = %v (in support %v), want -Inf", c.m, x, got, p.InSupport([]float64{x}))
			}
		}
		lo, hi := p.Bounds()
		for _, x := range c.ending {
			if x != lo[0] && x != hi[0] {
				t.Errorf("%v: excluded end point %v is not a bound [%v, %v]", c.m, x, lo[0], hi[0])
			}
		}
	}
	// A sum over dimensions.
	p, err := NewIndependent([]Marginal{{"normal", []float64{0, 1}}, {"gamma", []float64{2, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	want := -0.5*math.Log(2*math.Pi) - 0.5 + 2*math.Log(3) + math.Log(0.5) - 1.5
	if got := p.LogProb([]float64{1, 0.5}); math.Abs(got-want) > 1e-14 {
		t.Errorf("joint LogProb = %v, want %v", got, want)
	}
}

func TestIndependentIntegratesToOne(t *testing.T) {
	for _, c := range closedForms() {
		if c.singular {
			continue // Gauss–Legendre needs a bounded integrand
		}
		p, err := NewIndependent([]Marginal{c.m})
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := p.Bounds()
		got := quad.Fixed(func(x float64) float64 { return math.Exp(p.LogProb([]float64{x})) }, lo[0], hi[0], 200, nil, 0)
		if math.Abs(got-1) > 1e-10 {
			t.Errorf("%v: density integrates to %v", c.m, got)
		}
	}
}

func TestIndependentExtremeParameters(t *testing.T) {
	tiny := 1e-310
	p, err := NewIndependent([]Marginal{
		{"gamma", []float64{1e-3, 1}},       // most draws underflow
		{"gamma", []float64{tiny, 1}},       // every draw underflows
		{"beta", []float64{1e-3, 1e-3}},     // Ga/(Ga+Gb) would be 0/0
		{"beta", []float64{tiny, 3 * tiny}}, // Bernoulli(1/4) to float64 precision
		{"lognormal", []float64{700, 5}},    // overflows to +Inf
		{"normal", []float64{0, 1e308}},     // overflows to ±Inf
		{"uniform", []float64{-8e307, 8e307}},
	})
	if err != nil {
		t.Fatal(err)
	}
	const n = 4000
	m := draws(p, n, 2)
	var upper [2]int // beta draws above 1/2
	for i := range n {
		th := m.RawRowView(i)
		if !p.InSupport(th) || math.IsInf(p.LogProb(th), 0) {
			t.Fatalf("draw %v: in support %v, LogProb %v", th, p.InSupport(th), p.LogProb(th))
		}
		for k, j := range []int{2, 3} {
			if th[j] > 0.5 {
				upper[k]++
			}
		}
	}
	for k, prob := range []float64{0.5, 0.25} {
		if se := math.Sqrt(prob * (1 - prob) / n); math.Abs(float64(upper[k])/n-prob) > 5*se {
			t.Errorf("beta %d: fraction above 1/2 is %v, want %v ± 5·%.3g", k, float64(upper[k])/n, prob, se)
		}
	}
}

func TestNewIndependentErrors(t *testing.T) {
	ok := Marginal{"normal", []float64{0, 1}}
	for _, c := range []struct {
		m   []Marginal
		msg string
	}{
		{nil, "no marginals"},
		{[]Marginal{ok, {"gaussian", []float64{0, 1}}}, `dimension 1: unknown family "gaussian" (want one of uniform, normal, lognormal, gamma, beta)`},
		{[]Marginal{{"Normal", []float64{0, 1}}}, `dimension 0: unknown family "Normal"`},
		{[]Marginal{{"normal", []float64{0}}}, "dimension 0: normal takes 2 parameters (mu, sigma), got 1"},
		{[]Marginal{ok, ok, {"beta", []float64{1, 2, 3}}}, "dimension 2: beta takes 2 parameters (alpha, beta), got 3"},
		{[]Marginal{{"normal", []float64{math.NaN(), 1}}}, "dimension 0: normal mu = NaN is not finite"},
		{[]Marginal{{"gamma", []float64{2, math.Inf(1)}}}, "dimension 0: gamma beta = +Inf is not finite"},
		{[]Marginal{{"normal", []float64{0, 0}}}, "dimension 0: normal: sigma = 0 must be positive"},
		{[]Marginal{ok, {"lognormal", []float64{0, -1}}}, "dimension 1: lognormal: sigma = -1 must be positive"},
		{[]Marginal{{"gamma", []float64{0, 1}}}, "gamma: alpha = 0 must be positive"},
		{[]Marginal{{"gamma", []float64{1, -2}}}, "gamma: beta = -2 must be positive"},
		{[]Marginal{{"beta", []float64{-1, 1}}}, "beta: alpha = -1 must be positive"},
		{[]Marginal{{"beta", []float64{1, 0}}}, "beta: beta = 0 must be positive"},
		{[]Marginal{{"uniform", []float64{1, 1}}}, "uniform: low = 1 must be below high = 1"},
		{[]Marginal{{"uniform", []float64{-1e308, 1e308}}}, "uniform: width high−low"},
		{[]Marginal{{"gamma", []float64{1e307, 1e307}}}, "gamma: parameters overflow the log density"},
		{[]Marginal{{"beta", []float64{1e307, 1e307}}}, "beta: parameters overflow the log density"},
	} {
		p, err := NewIndependent(c.m)
		if p != nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("NewIndependent(%v) = %v, %v; want ErrInvalid containing %q", c.m, p, err, c.msg)
		}
	}
}

func TestIndependentCopies(t *testing.T) {
	ms := []Marginal{{"beta", []float64{2, 3}}}
	p, err := NewIndependent(ms)
	if err != nil {
		t.Fatal(err)
	}
	before := p.LogProb([]float64{0.4})
	ms[0].Params[0] = 9
	p.Marginals()[0].Params[1] = 9
	if got := p.Marginals()[0].Params; got[0] != 2 || got[1] != 3 || p.LogProb([]float64{0.4}) != before {
		t.Errorf("marginals changed through caller slices: %v", got)
	}
}
