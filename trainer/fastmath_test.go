package trainer

import (
	"math"
	"testing"
)

// TestFastMath: the float32 kernels' exp, tanh and sigmoid agree with the
// math package to the relative errors their comments derive, over a fine
// grid that covers both branches and the over- and underflow clamps.
func TestFastMath(t *testing.T) {
	const n = 200000
	worst := func(f func(out, x []float64), ref func(float64) float64, lo, hi float64) (float64, float64) {
		x, got := make([]float64, n+1), make([]float64, n+1)
		for i := range x {
			x[i] = lo + (hi-lo)*float64(i)/n
		}
		f(got, x)
		var w, at float64
		for i, v := range x {
			want := ref(v)
			if want == 0 || math.IsInf(want, 0) {
				continue
			}
			if e := math.Abs(got[i]-want) / math.Abs(want); e > w {
				w, at = e, v
			}
		}
		return w, at
	}
	exp := func(out, x []float64) {
		for i, v := range x {
			out[i] = exp32(v)
		}
	}
	sigmoid := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	for _, c := range []struct {
		name   string
		f      func(out, x []float64)
		ref    func(float64) float64
		lo, hi float64
		bound  float64
	}{
		{"exp", exp, math.Exp, -100, 88, 1e-8},
		{"tanh", tanh32[float64], math.Tanh, -20, 20, 2.5e-8},
		{"tanh small", tanh32[float64], math.Tanh, -0.2, 0.2, 2.5e-8},
		{"sigmoid", sigmoid32[float64], sigmoid, -100, 100, 1e-8},
	} {
		if w, at := worst(c.f, c.ref, c.lo, c.hi); w > c.bound {
			t.Errorf("%s: relative error %.3g at %v, bound %.3g", c.name, w, at, c.bound)
		}
	}
	special := []float64{math.NaN(), 1000, -1000, 0}
	tanh := make([]float64, len(special))
	tanh32(tanh, special)
	if !math.IsNaN(exp32(math.NaN())) || exp32(1000) < math.MaxFloat32 || exp32(-1000) > 1e-45 ||
		!math.IsNaN(tanh[0]) || tanh[1] != 1 || tanh[2] != -1 || tanh[3] != 0 {
		t.Errorf("NaN or a clamp is handled wrongly: exp %v %v %v, tanh %v", exp32(math.NaN()), exp32(1000), exp32(-1000), tanh)
	}
}
