package prior

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestMultivariateNormalMoments(t *testing.T) {
	mean := []float64{1, -2, 0.5}
	cov := mat.NewSymDense(3, []float64{
		2, 0.6, -0.3,
		0.6, 1, 0.2,
		-0.3, 0.2, 0.5,
	})
	p, err := NewMultivariateNormal(mean, cov)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000
	m := draws(p, n, 4)
	for i := range 3 {
		checkMoments(t, fmt.Sprintf("mvn dimension %d", i), mat.Col(nil, i, m), mean[i], cov.At(i, i), 0)
	}
	// Off-diagonal covariances: the sample covariance of a normal pair has
	// variance (σ_ii σ_jj + σ_ij²)/n.
	for i := range 3 {
		for j := i + 1; j < 3; j++ {
			var c float64
			for k := range n {
				c += (m.At(k, i) - mean[i]) * (m.At(k, j) - mean[j])
			}
			c /= n
			se := math.Sqrt((cov.At(i, i)*cov.At(j, j) + cov.At(i, j)*cov.At(i, j)) / n)
			if math.Abs(c-cov.At(i, j)) > 5*se {
				t.Errorf("cov[%d][%d]: sample %v, want %v ± 5·%.3g", i, j, c, cov.At(i, j), se)
			}
		}
	}
}

func TestMultivariateNormalLogProb(t *testing.T) {
	// 2-D closed form: Σ = [[a, c], [c, b]], Σ⁻¹ = [[b, −c], [−c, a]]/det.
	const a, b, c = 2.0, 0.5, -0.6
	mu := []float64{1, -1}
	p, err := NewMultivariateNormal(mu, mat.NewSymDense(2, []float64{a, c, c, b}))
	if err != nil {
		t.Fatal(err)
	}
	det := a*b - c*c
	for _, th := range [][]float64{{1, -1}, {0, 0}, {3.5, -2.25}, {-40, 17}} {
		dx, dy := th[0]-mu[0], th[1]-mu[1]
		q := (b*dx*dx - 2*c*dx*dy + a*dy*dy) / det
		want := -math.Log(2*math.Pi) - 0.5*math.Log(det) - 0.5*q
		if got := p.LogProb(th); math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
			t.Errorf("LogProb(%v) = %v, want %v", th, got, want)
		}
	}
	// So far out that θ−mean overflows.
	if got := p.LogProb([]float64{math.MaxFloat64, -math.MaxFloat64}); !math.IsInf(got, -1) {
		t.Errorf("LogProb at ±MaxFloat64 = %v, want -Inf", got)
	}
}

func TestNewMultivariateNormalErrors(t *testing.T) {
	id := mat.NewSymDense(2, []float64{1, 0, 0, 1})
	for _, c := range []struct {
		mean []float64
		cov  *mat.SymDense
		msg  string
	}{
		{nil, id, "empty mean"},
		{[]float64{0, 0}, nil, "no covariance"},
		{[]float64{0, 0}, &mat.SymDense{}, "no covariance"},
		{[]float64{0, 0, 0}, id, "mean has 3 values but covariance is 2×2"},
		{[]float64{0, math.NaN()}, id, "mean[1] = NaN is not finite"},
		{[]float64{0, 0}, mat.NewSymDense(2, []float64{1, math.Inf(1), math.Inf(1), 1}), "cov[0][1] = +Inf is not finite"},
		{[]float64{0, 0}, mat.NewSymDense(2, []float64{1, 2, 2, 1}), "not positive definite"},
		{[]float64{0, 0}, mat.NewSymDense(2, []float64{1, 1, 1, 1}), "not positive definite"},
		{[]float64{0, 0}, mat.NewSymDense(2, []float64{-1, 0, 0, 1}), "not positive definite"},
	} {
		p, err := NewMultivariateNormal(c.mean, c.cov)
		if p != nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("NewMultivariateNormal(%v, %v) = %v, %v; want ErrInvalid containing %q", c.mean, c.cov, p, err, c.msg)
		}
	}
}

func TestMultivariateNormalAccessorsCopy(t *testing.T) {
	mean := []float64{1, 2}
	cov := mat.NewSymDense(2, []float64{1, 0.5, 0.5, 2})
	p, err := NewMultivariateNormal(mean, cov)
	if err != nil {
		t.Fatal(err)
	}
	mean[0] = 9
	cov.SetSym(0, 0, 9)
	p.Mean()[1] = 9
	p.Cov().SetSym(1, 1, 9)
	if m, c := p.Mean(), p.Cov(); m[0] != 1 || m[1] != 2 || !mat.Equal(c, mat.NewSymDense(2, []float64{1, 0.5, 0.5, 2})) {
		t.Errorf("mean %v, cov %v changed through caller values", m, mat.Formatted(c))
	}
	lo, hi := p.Bounds()
	for i := range lo {
		if !math.IsInf(lo[i], -1) || !math.IsInf(hi[i], 1) {
			t.Errorf("bounds [%v, %v], want (-Inf, +Inf)", lo[i], hi[i])
		}
	}
}

func TestMultivariateNormalExtremeMean(t *testing.T) {
	p, err := NewMultivariateNormal([]float64{math.MaxFloat64, 0}, mat.NewSymDense(2, []float64{1e300, 0, 0, 1}))
	if err != nil {
		t.Fatal(err)
	}
	m := draws(p, 200, 1)
	for i := range 200 {
		if th := m.RawRowView(i); !p.InSupport(th) || math.IsNaN(p.LogProb(th)) {
			t.Fatalf("draw %v: in support %v, LogProb %v", th, p.InSupport(th), p.LogProb(th))
		}
	}
}
