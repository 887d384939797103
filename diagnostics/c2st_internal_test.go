package diagnostics

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	// Sizes cover the 4×2 blocks and every kind of leftover row and column.
	for _, s := range [][3]int{{1, 1, 1}, {4, 3, 2}, {7, 5, 3}, {8, 1, 9}, {13, 20, 1}, {200, 20, 20}, {3, 200, 4}} {
		m, k, n := s[0], s[1], s[2]
		a, b := make([]float64, m*k), make([]float64, k*n)
		for i := range a {
			a[i] = r.NormFloat64()
		}
		for i := range b {
			b[i] = r.NormFloat64()
		}
		c := make([]float64, m*n)
		for i := range c {
			c[i] = math.NaN() // matMul must overwrite, not accumulate
		}
		matMul(c, a, b, m, k, n)
		for i := range m {
			for j := range n {
				var want float64
				for p := range k {
					want += a[i*k+p] * b[p*n+j]
				}
				if got := c[i*n+j]; math.Abs(got-want) > 1e-12*(1+math.Abs(want)) {
					t.Fatalf("%d×%d·%d×%d: c[%d,%d] = %v, want %v", m, k, k, n, i, j, got, want)
				}
			}
		}
	}
}

// The analytic gradient must match central differences of the loss,
// L2 penalty included, for every weight and bias.
func TestBackpropGradient(t *testing.T) {
	const dim, hidden, nb = 3, 5, 7
	r := rand.New(rand.NewPCG(2, 2))
	c := newClassifier(dim, hidden, nb, r)
	x := make([]float64, nb*dim)
	y := make([]float64, nb)
	rows := make([]int, nb)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	for i := range y {
		y[i] = float64(i % 2)
		rows[i] = i
	}
	loss := func() float64 {
		c.load(x, rows)
		return c.backprop(nb, y)
	}
	loss()
	grad := append([]float64(nil), c.grad...)
	const h = 1e-6
	for i := range c.params {
		p := c.params[i]
		c.params[i] = p + h
		up := loss()
		c.params[i] = p - h
		down := loss()
		c.params[i] = p
		want := (up - down) / (2 * h)
		// Central differences are accurate to O(h²) plus rounding of
		// order 1e-16/h; a ReLU kink inside ±h would show as a large error.
		if math.Abs(grad[i]-want) > 1e-6 {
			t.Errorf("parameter %d: gradient %v, finite difference %v", i, grad[i], want)
		}
	}
}

// The stopping rule is scikit-learn's: count epochs whose loss is not
// lossTol below the best so far, reset on a real improvement, stop once the
// count exceeds patience.
func TestPlateau(t *testing.T) {
	p := plateau{best: math.Inf(1)}
	if p.stop(1) {
		t.Fatal("stopped after the first epoch")
	}
	// Improvements smaller than lossTol do not reset the count, but still
	// lower the best loss.
	loss := 1.0
	for epoch := 1; epoch <= patience; epoch++ {
		loss -= lossTol / 2
		if p.stop(loss) {
			t.Fatalf("stopped after %d stale epochs", epoch)
		}
	}
	if p.best != loss {
		t.Errorf("best = %v, want %v", p.best, loss)
	}
	// A drop of more than lossTol resets the count.
	loss -= 2 * lossTol
	if p.stop(loss) || p.stale != 0 {
		t.Fatalf("improvement by 2·tol: stale = %d", p.stale)
	}
	for epoch := 1; epoch <= patience; epoch++ {
		if p.stop(loss + 1) {
			t.Fatalf("stopped after %d stale epochs", epoch)
		}
	}
	if !p.stop(loss + 1) {
		t.Errorf("did not stop after %d stale epochs", patience+1)
	}
}

// BenchmarkEpoch times one training epoch of the sbibm 2-D setting: 16,000
// training rows (four folds of 10k against 10k) and hidden layers of 20.
func BenchmarkEpoch(b *testing.B) {
	const n, dim = 16000, 2
	r := rand.New(rand.NewPCG(3, 3))
	x := make([]float64, n*dim)
	y := make([]float64, n)
	idx := make([]int, n)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	for i := range y {
		y[i] = float64(i % 2)
		idx[i] = i
	}
	c := newClassifier(dim, 10*dim, batchSize, r)
	for b.Loop() {
		if _, err := c.fit(b.Context(), x, y, idx, 1, r); err != nil {
			b.Fatal(err)
		}
	}
}

// Training ends by the plateau rule on easy data and at the epoch cap
// otherwise.
func TestFitEpochs(t *testing.T) {
	const n = 400
	r := rand.New(rand.NewPCG(4, 4))
	x := make([]float64, n)
	y := make([]float64, n)
	idx := make([]int, n)
	for i := range x {
		y[i] = float64(i % 2)
		x[i] = 10*y[i] + r.NormFloat64()
		idx[i] = i
	}
	c := newClassifier(1, 10, batchSize, r)
	epochs, err := c.fit(t.Context(), x, y, idx, 3, r)
	if err != nil || epochs != 3 {
		t.Errorf("fit with at most 3 epochs: %d epochs, error %v", epochs, err)
	}
	epochs, err = c.fit(t.Context(), x, y, idx, 10000, r)
	if err != nil || epochs <= patience || epochs >= 10000 {
		t.Errorf("fit on separable data: %d epochs, error %v; want a plateau stop", epochs, err)
	}
	if acc := c.accuracy(x, y, idx); acc < 0.99 {
		t.Errorf("training accuracy on classes 10 sd apart: %v", acc)
	}
}
