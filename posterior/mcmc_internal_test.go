package posterior

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The log-Jacobian of every kind of bound matches a central difference of
// the map, and the inverse undoes it.
func TestTransformJacobian(t *testing.T) {
	inf := math.Inf(1)
	tr := newTransform([]float64{-2, 0.5, -inf, -inf}, []float64{3, inf, 4, inf})
	rng := rand.New(rand.NewPCG(1, 1))
	theta, back := make([]float64, 4), make([]float64, 4)
	for range 200 {
		z := make([]float64, 4)
		for j := range z {
			z[j] = 3 * rng.NormFloat64()
		}
		lj := tr.forward(theta, z)
		want := 0.0
		for j := range z {
			const h = 1e-5
			zp, zm := append([]float64(nil), z...), append([]float64(nil), z...)
			zp[j] += h
			zm[j] -= h
			tp, tm := make([]float64, 4), make([]float64, 4)
			tr.forward(tp, zp)
			tr.forward(tm, zm)
			want += math.Log((tp[j] - tm[j]) / (2 * h))
		}
		if math.Abs(lj-want) > 1e-6*(1+math.Abs(want)) {
			t.Fatalf("z %v: log-Jacobian %v, finite differences %v", z, lj, want)
		}
		tr.inverse(back, theta)
		for j := range z {
			if math.Abs(back[j]-z[j]) > 1e-8*(1+math.Abs(z[j])) {
				t.Fatalf("z %v: inverse gives %v", z, back)
			}
		}
	}
	// Points on a closed bound map to finite z, and back inside.
	tr.inverse(back, []float64{-2, 0.5, 4, 0})
	tr.forward(theta, back)
	for j, v := range back {
		if math.IsInf(v, 0) || math.IsNaN(v) {
			t.Fatalf("bound maps to z[%d] = %v", j, v)
		}
	}
	if theta[0] < -2 || theta[1] < 0.5 || theta[2] > 4 {
		t.Fatalf("bounds map back outside: %v", theta)
	}
}

// ar1 returns m chains of an AR(1) process x_t = ρ·x_{t−1} + ε, stationary
// from the start, whose integrated autocorrelation time is (1+ρ)/(1−ρ).
func ar1(m, n int, rho float64, offsets []float64, src rand.Source) [][]float64 {
	rng := rand.New(src)
	out := make([][]float64, m)
	sd := math.Sqrt(1 - rho*rho)
	for c := range m {
		out[c] = make([]float64, n)
		x := rng.NormFloat64()
		for k := range n {
			x = rho*x + sd*rng.NormFloat64()
			out[c][k] = x
			if offsets != nil {
				out[c][k] += offsets[c]
			}
		}
	}
	return out
}

// ESS of AR(1) chains is N/τ within its sampling error (about 5% at ρ 0.9), R-hat of mixed
// chains is about 1, and chains stuck apart give a large R-hat.
func TestConvergenceDiagnostics(t *testing.T) {
	for _, rho := range []float64{0, 0.5, 0.9} {
		ch := ar1(8, 10_000, rho, nil, rand.NewPCG(2, uint64(rho*10)))
		tau := (1 + rho) / (1 - rho)
		want := 8 * 10_000 / tau
		got := BulkESS(ch)
		if math.Abs(got/want-1) > 0.15 {
			t.Errorf("ρ %.1f: ESS %.0f, want %.0f ± 15%%", rho, got, want)
		}
		if r := RHat(ch); r > 1.01 {
			t.Errorf("ρ %.1f: R-hat %.4f of mixed chains", rho, r)
		}
	}
	stuck := ar1(4, 500, 0.5, []float64{0, 0, 0, 1}, rand.NewPCG(3, 3))
	if r := RHat(stuck); r < 1.05 {
		t.Errorf("one chain offset by one sd: R-hat %.4f, want > 1.05", r)
	}
	// A chain that only differs in spread shows in the folded R-hat.
	wide := ar1(4, 1000, 0, nil, rand.NewPCG(4, 4))
	for k := range wide[3] {
		wide[3][k] *= 3
	}
	if r := RHat(wide); r < 1.05 {
		t.Errorf("one chain three times as wide: R-hat %.4f, want > 1.05", r)
	}
	// A trend within each chain shows through the split.
	trend := ar1(4, 1000, 0, nil, rand.NewPCG(5, 5))
	for _, c := range trend {
		for k := range c {
			c[k] += 2 * float64(k) / float64(len(c))
		}
	}
	if r := RHat(trend); r < 1.05 {
		t.Errorf("drifting chains: R-hat %.4f, want > 1.05", r)
	}
}
