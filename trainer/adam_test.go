package trainer

import (
	"math"
	"testing"
)

// TestAdamSteps follows two steps of PyTorch's Adam formulas written out by
// hand: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − lr/(1−β₁ᵗ) ·
// m/(√v/√(1−β₂ᵗ) + ε).
func TestAdamSteps(t *testing.T) {
	a := newAdam[float64](2, 0.1, 0)
	p := []float64{1, -2}
	a.step(p, []float64{0.5, -0.1})
	// First step: m = 0.1g and v = 0.001g², so the move is
	// lr/0.1 · 0.1g/(|g|+ε) ≈ lr·sign(g).
	want := []float64{1 - 0.1*0.5/(0.5+1e-8), -2 + 0.1*0.1/(0.1+1e-8)}
	for i := range p {
		if math.Abs(p[i]-want[i]) > 1e-15 {
			t.Errorf("step 1: p[%d] = %.17g, want %.17g", i, p[i], want[i])
		}
	}
	a.step(p, []float64{0.2, 0.3})
	for i, g := range [][2]float64{{0.5, 0.2}, {-0.1, 0.3}} {
		m := 0.9*0.1*g[0] + 0.1*g[1]
		v := 0.999*0.001*g[0]*g[0] + 0.001*g[1]*g[1]
		want[i] -= 0.1 / (1 - 0.81) * m / (math.Sqrt(v)/math.Sqrt(1-0.999*0.999) + 1e-8)
		if math.Abs(p[i]-want[i]) > 1e-14 {
			t.Errorf("step 2: p[%d] = %.17g, want %.17g", i, p[i], want[i])
		}
	}
}

// TestAdamClipsGlobalNorm: a gradient whose L2 norm exceeds the bound is
// scaled as a whole (not element-wise) by bound/(norm+1e-6), as PyTorch's
// clip_grad_norm_ does; a smaller one is left alone.
func TestAdamClipsGlobalNorm(t *testing.T) {
	a := newAdam[float32](3, 1e-3, 5)
	g := []float32{6, 8, 0} // norm 10
	if norm := a.step(make([]float32, 3), g); norm != 10 {
		t.Errorf("norm %v, want 10", norm)
	}
	c := 5 / (10 + 1e-6)
	for i, want := range []float64{6 * c, 8 * c, 0} {
		if math.Abs(float64(g[i])-want) > 1e-6 {
			t.Errorf("clipped gradient[%d] = %v, want %v", i, g[i], want)
		}
		// The first moment holds (1−β₁)·clipped gradient.
		if math.Abs(float64(a.m[i])-0.1*want) > 1e-6 {
			t.Errorf("m[%d] = %v, want %v", i, a.m[i], 0.1*want)
		}
	}
	small := []float32{3, 0, 0}
	a.step(make([]float32, 3), small)
	if small[0] != 3 {
		t.Errorf("gradient of norm 3 clipped to %v", small[0])
	}
	// A non-finite gradient leaves parameters and state alone.
	p := []float32{1, 2, 3}
	m0, steps := a.m[0], a.t
	if norm := a.step(p, []float32{float32(math.NaN()), 0, 0}); !math.IsNaN(norm) || p[0] != 1 || a.m[0] != m0 || a.t != steps {
		t.Errorf("NaN gradient: norm %v, params %v, moment %v, steps %d", norm, p, a.m[0], a.t)
	}
}

func TestAdamAllocatesNothing(t *testing.T) {
	a := newAdam[float32](1000, 1e-3, 5)
	p, g := make([]float32, 1000), make([]float32, 1000)
	for i := range g {
		g[i] = float32(i)
	}
	if n := testing.AllocsPerRun(10, func() { a.step(p, g) }); n != 0 {
		t.Errorf("%v allocations per step", n)
	}
}
