package trainer

import (
	"math"
	"testing"
)

// TestFastMath: the float32 kernels' exp, tanh and sigmoid agree with the
// math package to the relative errors their comments derive, over a fine
// grid that covers both branches and the over- and underflow clamps.
func TestFastMath(t *testing.T) {
	worst := func(f, ref func(float64) float64, lo, hi float64) (float64, float64) {
		var w, at float64
		for i := 0; i <= 200000; i++ {
			x := lo + (hi-lo)*float64(i)/200000
			want := ref(x)
			if want == 0 || math.IsInf(want, 0) {
				continue
			}
			if e := math.Abs(f(x)-want) / math.Abs(want); e > w {
				w, at = e, x
			}
		}
		return w, at
	}
	sigmoid := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	for _, c := range []struct {
		name   string
		f, ref func(float64) float64
		lo, hi float64
		bound  float64
	}{
		{"exp", exp32, math.Exp, -100, 88, 1e-8},
		{"tanh", tanh32, math.Tanh, -20, 20, 2.5e-8},
		{"tanh small", tanh32, math.Tanh, -0.2, 0.2, 2.5e-8},
		{"sigmoid", sigmoid32, sigmoid, -100, 100, 1e-8},
	} {
		if w, at := worst(c.f, c.ref, c.lo, c.hi); w > c.bound {
			t.Errorf("%s: relative error %.3g at %v, bound %.3g", c.name, w, at, c.bound)
		}
	}
	if !math.IsNaN(exp32(math.NaN())) || !math.IsNaN(tanh32(math.NaN())) || exp32(1000) < math.MaxFloat32 ||
		exp32(-1000) > 1e-45 || tanh32(1000) != 1 || tanh32(-1000) != -1 || tanh32(0) != 0 {
		t.Error("NaN or a clamp is handled wrongly")
	}
}
