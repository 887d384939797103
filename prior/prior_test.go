package prior

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// fixtures returns one prior of each kind, covering every marginal family.
func fixtures(t testing.TB) map[string]Prior {
	t.Helper()
	box, err := NewBoxUniform([]float64{-1, 0, 2.5}, []float64{1, 0.5, 7})
	if err != nil {
		t.Fatal(err)
	}
	ind, err := NewIndependent([]Marginal{
		{"uniform", []float64{-2, 3}},
		{"normal", []float64{1.5, 0.7}},
		{"lognormal", []float64{0.3, 0.25}},
		{"gamma", []float64{2.5, 1.5}},
		{"gamma", []float64{0.1, 2}},
		{"beta", []float64{2, 5}},
		{"beta", []float64{0.3, 0.4}},
	})
	if err != nil {
		t.Fatal(err)
	}
	mvn, err := NewMultivariateNormal([]float64{1, -2, 0.5}, mat.NewSymDense(3, []float64{
		2, 0.6, -0.3,
		0.6, 1, 0.2,
		-0.3, 0.2, 0.5,
	}))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Prior{"box": box, "independent": ind, "mvn": mvn}
}

// draws samples n rows of p from a seeded source.
func draws(p Prior, n int, seed uint64) *mat.Dense {
	m := mat.NewDense(n, p.Dim(), nil)
	p.Sample(m, rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	return m
}

// checkMoments compares the sample mean and variance of xs with the exact
// mean, variance and excess kurtosis, allowing 5 standard errors. The
// standard error of the sample variance is σ²·√((κ+2)/n).
func checkMoments(t *testing.T, name string, xs []float64, mean, variance, exKurt float64) {
	t.Helper()
	n := float64(len(xs))
	var m float64
	for _, x := range xs {
		m += x
	}
	m /= n
	var v float64
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	v /= n - 1
	seMean := math.Sqrt(variance / n)
	seVar := variance * math.Sqrt((exKurt+2)/n)
	if math.Abs(m-mean) > 5*seMean {
		t.Errorf("%s: sample mean %v, want %v ± 5·%.3g", name, m, mean, seMean)
	}
	if math.Abs(v-variance) > 5*seVar {
		t.Errorf("%s: sample variance %v, want %v ± 5·%.3g", name, v, variance, seVar)
	}
}

func TestEverySampleInSupport(t *testing.T) {
	for name, p := range fixtures(t) {
		m := draws(p, 5000, 1)
		for i := range 5000 {
			if th := m.RawRowView(i); !p.InSupport(th) || math.IsInf(p.LogProb(th), 0) {
				t.Fatalf("%s: draw %d = %v: InSupport %v, LogProb %v", name, i, th, p.InSupport(th), p.LogProb(th))
			}
		}
	}
}

func TestSampleReproducible(t *testing.T) {
	for name, p := range fixtures(t) {
		a, b := draws(p, 10, 7), draws(p, 10, 7)
		if !mat.Equal(a, b) {
			t.Errorf("%s: same seed gave different draws", name)
		}
		if mat.Equal(a, draws(p, 10, 8)) {
			t.Errorf("%s: different seeds gave the same draws", name)
		}
		// Rows are drawn in order from the stream, so batching does not
		// change the draws.
		src := rand.NewPCG(7, 0x9e3779b97f4a7c15)
		c := mat.NewDense(10, p.Dim(), nil)
		p.Sample(c.Slice(0, 3, 0, p.Dim()).(*mat.Dense), src)
		p.Sample(c.Slice(3, 10, 0, p.Dim()).(*mat.Dense), src)
		if !mat.Equal(a, c) {
			t.Errorf("%s: two batches differ from one batch of the same stream", name)
		}
	}
}

func TestSampleNilSource(t *testing.T) {
	for name, p := range fixtures(t) {
		m := mat.NewDense(20, p.Dim(), nil)
		p.Sample(m, nil)
		for i := range 20 {
			if !p.InSupport(m.RawRowView(i)) {
				t.Errorf("%s: draw from the global source %v not in support", name, m.RawRowView(i))
			}
		}
	}
}

func TestSampleDestination(t *testing.T) {
	for name, p := range fixtures(t) {
		p.Sample(&mat.Dense{}, rand.NewPCG(1, 1)) // nothing asked, nothing done
		for _, dst := range []*mat.Dense{nil, mat.NewDense(2, p.Dim()+1, nil)} {
			func() {
				defer func() {
					r := recover()
					if r == nil || !strings.HasPrefix(fmt.Sprint(r), "prior: ") {
						t.Errorf("%s: Sample(%v) recovered %v, want a prior: panic", name, dst, r)
					}
				}()
				p.Sample(dst, rand.NewPCG(1, 1))
			}()
		}
	}
}

// TestBadThetaNoPanic checks that LogProb and InSupport agree and never
// return NaN, whatever θ is.
func TestBadThetaNoPanic(t *testing.T) {
	tiny := math.SmallestNonzeroFloat64
	specials := []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64, -math.MaxFloat64, tiny, -tiny, 0, 1, math.Nextafter(1, 0)}
	for name, p := range fixtures(t) {
		thetas := [][]float64{nil, {}, make([]float64, p.Dim()-1), make([]float64, p.Dim()+1)}
		for _, s := range specials {
			for i := range p.Dim() {
				th := make([]float64, p.Dim())
				for j := range th {
					th[j] = 0.3
				}
				th[i] = s
				thetas = append(thetas, th)
			}
		}
		for _, th := range thetas {
			lp, in := p.LogProb(th), p.InSupport(th)
			if math.IsNaN(lp) || math.IsInf(lp, 1) {
				t.Errorf("%s: LogProb(%v) = %v", name, th, lp)
			}
			if !in && !math.IsInf(lp, -1) {
				t.Errorf("%s: θ = %v outside the support but LogProb = %v", name, th, lp)
			}
			if (Validate(p, th) == nil) != in {
				t.Errorf("%s: Validate(%v) = %v but InSupport = %v", name, th, Validate(p, th), in)
			}
		}
	}
}

// TestSupportAgreesWithLogProb scans points around the bounds: InSupport
// holds exactly where LogProb is finite.
func TestSupportAgreesWithLogProb(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 3))
	for name, p := range fixtures(t) {
		for range 2000 {
			th := make([]float64, p.Dim())
			for j := range th {
				th[j] = 12*rnd.Float64() - 4
			}
			if in, lp := p.InSupport(th), p.LogProb(th); in == math.IsInf(lp, -1) {
				t.Fatalf("%s: θ = %v: InSupport %v, LogProb %v", name, th, in, lp)
			}
		}
	}
}

// disc is a prior whose support is not a box, to exercise Validate's
// fallback message.
type disc struct{ *MultivariateNormal }

func (d disc) InSupport(th []float64) bool { return len(th) == 2 && th[0]*th[0]+th[1]*th[1] <= 1 }

func TestValidate(t *testing.T) {
	box, _ := NewBoxUniform([]float64{0, 0}, []float64{1, 1})
	gam, _ := NewIndependent([]Marginal{{"normal", []float64{0, 1}}, {"gamma", []float64{2, 1}}})
	mvn, _ := NewMultivariateNormal([]float64{0, 0}, mat.NewSymDense(2, []float64{1, 0, 0, 1}))
	for _, c := range []struct {
		p     Prior
		theta []float64
		want  error
		msg   string
	}{
		{box, []float64{0.5, 1}, nil, ""},
		{box, []float64{0.5}, ErrDim, "θ has 1 values, the prior has dimension 2"},
		{box, []float64{0.5, math.NaN()}, ErrNotFinite, "θ[1] = NaN"},
		{box, []float64{math.Inf(-1), 0}, ErrNotFinite, "θ[0] = -Inf"},
		{box, []float64{0.5, 1.5}, ErrOutOfSupport, "θ[1] = 1.5 is above the upper bound 1"},
		{gam, []float64{-3, 0}, ErrOutOfSupport, "θ[1] = 0 is an excluded end point of (0, +Inf)"},
		{gam, []float64{-3, -1}, ErrOutOfSupport, "θ[1] = -1 is below the lower bound 0"},
		{disc{mvn}, []float64{1, 1}, ErrOutOfSupport, "θ = [1 1]"},
		{nil, []float64{1}, ErrInvalid, "nil prior"},
	} {
		err := Validate(c.p, c.theta)
		if !errors.Is(err, c.want) || c.want != nil && !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Validate(%v) = %v, want %v containing %q", c.theta, err, c.want, c.msg)
		}
	}
}

func TestIntervalClamp(t *testing.T) {
	tiny := math.SmallestNonzeroFloat64
	for _, c := range []struct {
		iv      interval
		x, want float64
	}{
		{positive, 0, tiny},
		{positive, math.Inf(1), math.MaxFloat64},
		{positive, 2, 2},
		{interval{0, 1, true, true}, 1, math.Nextafter(1, 0)},
		{interval{0, 1, false, false}, 1.5, 1},
		{interval{0, 1, false, false}, -0.5, 0},
		{realLine, math.Inf(-1), -math.MaxFloat64},
	} {
		if got := c.iv.clamp(c.x); got != c.want || !c.iv.contains(got) {
			t.Errorf("%+v.clamp(%v) = %v, want %v inside", c.iv, c.x, got, c.want)
		}
	}
}

func BenchmarkSample(b *testing.B) {
	for name, p := range fixtures(b) {
		b.Run(name, func(b *testing.B) {
			const rows = 1000
			m := mat.NewDense(rows, p.Dim(), nil)
			src := rand.NewPCG(1, 2)
			for b.Loop() {
				p.Sample(m, src)
			}
			b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

func BenchmarkLogProb(b *testing.B) {
	for name, p := range fixtures(b) {
		b.Run(name, func(b *testing.B) {
			const rows = 1000
			m := draws(p, rows, 1)
			var sum float64
			for b.Loop() {
				for i := range rows {
					sum += p.LogProb(m.RawRowView(i))
				}
			}
			b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "θ/s")
			if math.IsNaN(sum) {
				b.Fatal("NaN log density")
			}
		})
	}
}
