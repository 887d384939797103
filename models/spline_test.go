package models_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/amortize/amortize/internal/splinetest"
	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/models/eager"
)

// splineCase is a batch of spline inputs with one parameter row per input.
type splineCase struct {
	c       models.SplineConfig
	x       []float64
	w, h, d [][]float64
}

func splineConfig(bins int, bound float64) models.SplineConfig {
	return models.SplineConfig{
		Bins:          bins,
		TailBound:     bound,
		MinBinWidth:   models.DefaultMinBinWidth,
		MinBinHeight:  models.DefaultMinBinHeight,
		MinDerivative: models.DefaultMinDerivative,
	}
}

// newSplineCase draws parameters ~ N(0, spread²), far less uniform than a
// freshly initialised flow's, and inputs from xs (one row each).
func newSplineCase(seed uint64, c models.SplineConfig, spread float64, xs []float64) splineCase {
	rng := rand.New(rand.NewPCG(seed, 1))
	draw := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = spread * rng.NormFloat64()
		}
		return v
	}
	s := splineCase{c: c, x: xs}
	for range xs {
		s.w = append(s.w, draw(c.Bins))
		s.h = append(s.h, draw(c.Bins))
		s.d = append(s.d, draw(c.Bins-1))
	}
	return s
}

func splineUniform(seed uint64, n int, lo, hi float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 2))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = lo + (hi-lo)*rng.Float64()
	}
	return xs
}

func splineRows(rows [][]float64) models.Tensor {
	var data []float64
	for _, r := range rows {
		data = append(data, r...)
	}
	return eager.Matrix(len(rows), len(rows[0]), data)
}

func splineColumn(t models.Tensor) []float64 {
	m := eager.Dense(t)
	r, _ := m.Dims()
	v := make([]float64, r)
	for i := range v {
		v[i] = m.At(i, 0)
	}
	return v
}

// run evaluates the spline with o, or with plain eager ops when o is nil.
func (s splineCase) run(o models.Ops, x []float64, inverse bool) (y, lad []float64) {
	if o == nil {
		o = new(eager.Ops)
	}
	yt, lt := models.RQSpline(o, eager.Matrix(len(x), 1, x), splineRows(s.w), splineRows(s.h), splineRows(s.d), inverse, s.c)
	return splineColumn(yt), splineColumn(lt)
}

func (s splineCase) scalar(i int, x float64, inverse bool) (float64, float64) {
	return splinetest.RQSpline(x, s.w[i], s.h[i], s.d[i], inverse, s.c)
}

// The composite and the scalar reference evaluate the same formulas and
// differ only in rounding: knots differ by a few ulps (the softmax is
// normalised in log space in one, linear space in the other), which the
// division by a bin width of at least 2B·1e-3 amplifies by at most ~170.
const splineRoundoff = 1e-11

func TestRQSplineMatchesScalar(t *testing.T) {
	for _, bins := range []int{2, 5, 10} {
		for _, inverse := range []bool{false, true} {
			c := splineConfig(bins, 3)
			xs := append(splineUniform(uint64(bins), 400, -4.5, 4.5), -3, 3, 0, math.Nextafter(3, 0), math.Nextafter(-3, 0))
			s := newSplineCase(uint64(bins), c, 2, xs)
			y, lad := s.run(nil, xs, inverse)
			for i, x := range xs {
				wy, wl := s.scalar(i, x, inverse)
				if math.Abs(y[i]-wy) > splineRoundoff || math.Abs(lad[i]-wl) > splineRoundoff {
					t.Fatalf("bins %d inverse %v x=%v: composite (%v, %v), scalar (%v, %v)", bins, inverse, x, y[i], lad[i], wy, wl)
				}
			}
		}
	}
}

func TestRQSplineInverse(t *testing.T) {
	c := splineConfig(10, 3)
	xs := append(splineUniform(7, 2000, -3.5, 3.5), -3, 3)
	s := newSplineCase(7, c, 2, xs)
	y, lad := s.run(nil, xs, false)
	back, ladBack := s.run(nil, y, true)
	for i, x := range xs {
		// A rounding error of a few ulps of B in y moves the solution of
		// the bin's quadratic by that much over the local slope.
		tol := 64 * 0x1p-52 * c.TailBound / math.Min(1, math.Exp(lad[i]))
		if math.Abs(back[i]-x) > tol {
			t.Errorf("x=%v: forward %v, inverse back to %v (tolerance %.2g)", x, y[i], back[i], tol)
		}
		if math.Abs(ladBack[i]+lad[i]) > 1e-9 {
			t.Errorf("x=%v: log|det| forward %v, inverse %v", x, lad[i], ladBack[i])
		}
	}
}

func TestRQSplineLogDetIsDerivative(t *testing.T) {
	// Central differences: the error of the step-h quotient is about a
	// third of its distance to the step-2h quotient (both err ∝ h²), and
	// rounding adds ε·|y|/h ≈ 1e-10.
	const step = 1e-5
	c := splineConfig(10, 3)
	xs := splineUniform(11, 300, -2.99, 2.99)
	s := newSplineCase(11, c, 1.5, xs)
	for _, inverse := range []bool{false, true} {
		_, lad := s.run(nil, xs, inverse)
		diff := func(h float64) []float64 {
			up, _ := s.run(nil, shift(xs, h), inverse)
			down, _ := s.run(nil, shift(xs, -h), inverse)
			out := make([]float64, len(xs))
			for i := range out {
				out[i] = (up[i] - down[i]) / (2 * h)
			}
			return out
		}
		fine, coarse := diff(step), diff(2*step)
		for i, x := range xs {
			tol := math.Abs(fine[i]-coarse[i]) + 1e-9*math.Max(1, fine[i])
			if got := math.Exp(lad[i]); math.Abs(got-fine[i]) > tol {
				t.Errorf("inverse %v x=%v: exp(log|det|) = %v, numerical derivative %v ± %.1e", inverse, x, got, fine[i], tol)
			}
		}
	}
}

func shift(xs []float64, by float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x + by
	}
	return out
}

func TestRQSplineTailsAreIdentity(t *testing.T) {
	c := splineConfig(10, 3)
	xs := []float64{math.Nextafter(3, 4), -math.Nextafter(3, 4), 3.5, -3.5, 30, -30, 1e300, -1e300, math.MaxFloat64, -math.MaxFloat64}
	s := newSplineCase(3, c, 2, xs)
	for _, inverse := range []bool{false, true} {
		y, lad := s.run(nil, xs, inverse)
		for i, x := range xs {
			if y[i] != x || lad[i] != 0 {
				t.Errorf("inverse %v x=%v: got (%v, %v), want (%v, 0)", inverse, x, y[i], lad[i], x)
			}
		}
	}
}

func TestRQSplineMonotone(t *testing.T) {
	c := splineConfig(10, 3)
	const n = 2001
	for row := range 5 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = -4 + 8*float64(i)/(n-1)
		}
		// One parameter row shared by every input: a single spline curve.
		s := newSplineCase(uint64(100+row), c, 3, xs[:1])
		for i := 1; i < n; i++ {
			s.w, s.h, s.d = append(s.w, s.w[0]), append(s.h, s.h[0]), append(s.d, s.d[0])
		}
		for _, inverse := range []bool{false, true} {
			y, _ := s.run(nil, xs, inverse)
			for i := 1; i < n; i++ {
				if !(y[i] > y[i-1]) {
					t.Fatalf("row %d inverse %v: y(%v) = %v not above y(%v) = %v", row, inverse, xs[i], y[i], xs[i-1], y[i-1])
				}
			}
		}
		// The spline maps the ends of its interval onto themselves, so the
		// identity tails join it continuously.
		s.w, s.h, s.d = s.w[:2], s.h[:2], s.d[:2]
		ends, _ := s.run(nil, []float64{-3, 3}, false)
		for i, want := range []float64{-3, 3} {
			if math.Abs(ends[i]-want) > splineRoundoff {
				t.Errorf("row %d: spline(%v) = %v", row, want, ends[i])
			}
		}
	}
}

func TestRQSplineExtremes(t *testing.T) {
	c := splineConfig(10, 3)
	xs := []float64{-3, 3, math.Nextafter(-3, 0), math.Nextafter(3, 0), 0, math.Copysign(0, -1), 5e-324,
		math.Nextafter(3, 4), 1e300, -1e300, math.MaxFloat64, -math.MaxFloat64}
	for _, spread := range []float64{0, 1, 50, 700} {
		s := newSplineCase(5, c, spread, xs)
		for _, inverse := range []bool{false, true} {
			y, lad := s.run(nil, xs, inverse)
			for i, x := range xs {
				if math.IsNaN(y[i]) || math.IsInf(y[i], 0) || math.IsNaN(lad[i]) || math.IsInf(lad[i], 0) {
					t.Errorf("spread %v inverse %v x=%v: got (%v, %v)", spread, inverse, x, y[i], lad[i])
				}
			}
		}
	}
	// NaN propagates, in both implementations, rather than panicking.
	s := newSplineCase(5, c, 1, []float64{math.NaN()})
	for _, inverse := range []bool{false, true} {
		y, lad := s.run(nil, s.x, inverse)
		sy, sl := s.scalar(0, s.x[0], inverse)
		if !math.IsNaN(y[0]) || !math.IsNaN(lad[0]) || !math.IsNaN(sy) || !math.IsNaN(sl) {
			t.Errorf("inverse %v: NaN input gives (%v, %v), scalar (%v, %v)", inverse, y[0], lad[0], sy, sl)
		}
	}
}

// fusedSpline stands in for a backend with a fused spline op: eager ops,
// with the spline evaluated row by row by the scalar reference.
type fusedSpline struct {
	*eager.Ops
	calls int
}

func (f *fusedSpline) RQSpline(x, widths, heights, derivs models.Tensor, inverse bool, c models.SplineConfig) (y, logAbsDet models.Tensor) {
	f.calls++
	xm, wm, hm, dm := eager.Dense(x), eager.Dense(widths), eager.Dense(heights), eager.Dense(derivs)
	n, _ := xm.Dims()
	ys, lads := make([]float64, n), make([]float64, n)
	for i := range n {
		ys[i], lads[i] = splinetest.RQSpline(xm.At(i, 0), wm.RawRowView(i), hm.RawRowView(i), dm.RawRowView(i), inverse, c)
	}
	return eager.Matrix(n, 1, ys), eager.Matrix(n, 1, lads)
}

func TestRQSplineDispatchesToFusedOp(t *testing.T) {
	c := splineConfig(6, 2)
	xs := splineUniform(9, 50, -3, 3)
	s := newSplineCase(9, c, 1, xs)
	f := &fusedSpline{Ops: new(eager.Ops)}
	y, lad := s.run(f, xs, false)
	if f.calls != 1 {
		t.Fatalf("fused op called %d times, want 1", f.calls)
	}
	wy, wl := s.run(nil, xs, false)
	for i := range xs {
		if math.Abs(y[i]-wy[i]) > splineRoundoff || math.Abs(lad[i]-wl[i]) > splineRoundoff {
			t.Errorf("x=%v: fused (%v, %v), composite (%v, %v)", xs[i], y[i], lad[i], wy[i], wl[i])
		}
	}
}

func TestRQSplineShapeMismatchPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "bins") {
			t.Errorf("recovered %v, want a panic naming the bins", r)
		}
	}()
	c := splineConfig(4, 3)
	x := eager.Matrix(1, 1, []float64{0})
	p := eager.Matrix(1, 4, make([]float64, 4))
	models.RQSpline(new(eager.Ops), x, p, p, p, false, c) // derivs need 3 columns
}

func BenchmarkRQSpline(b *testing.B) {
	c := splineConfig(10, 3)
	xs := splineUniform(1, 1024, -3.5, 3.5)
	s := newSplineCase(1, c, 1, xs)
	o := new(eager.Ops)
	x, w, h, d := eager.Matrix(len(xs), 1, xs), splineRows(s.w), splineRows(s.h), splineRows(s.d)
	for b.Loop() {
		models.RQSpline(o, x, w, h, d, false, c)
	}
}
