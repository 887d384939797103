package diagnostics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// mul must agree with the definition of GEMM for every transposition,
// including the one-column and one-inner-term shapes it hands to Gemv and
// Ger.
func TestMul(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	fill := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = r.NormFloat64()
		}
		return v
	}
	trans := []blas.Transpose{blas.NoTrans, blas.Trans}
	for _, s := range [][3]int{{7, 5, 3}, {13, 20, 1}, {13, 1, 20}, {1, 1, 1}} {
		m, k, n := s[0], s[1], s[2]
		for _, tA := range trans {
			for _, tB := range trans {
				for _, beta := range []float64{0, 0.5} {
					a, b, c0 := fill(m*k), fill(k*n), fill(m*n)
					// op(a) is m×k and op(b) k×n: a stored transposed is k×m.
					ga, gb := general(a, m, k), general(b, k, n)
					at := func(i, p int) float64 { return a[i*k+p] }
					bt := func(p, j int) float64 { return b[p*n+j] }
					if tA == blas.Trans {
						ga = general(a, k, m)
						at = func(i, p int) float64 { return a[p*m+i] }
					}
					if tB == blas.Trans {
						gb = general(b, n, k)
						bt = func(p, j int) float64 { return b[j*k+p] }
					}
					c := slices.Clone(c0)
					if beta == 0 {
						for i := range c {
							c[i] = math.NaN() // must be overwritten, not scaled
						}
					}
					mul(tA, tB, 2, ga, gb, beta, general(c, m, n))
					for i := range m {
						for j := range n {
							want := beta * c0[i*n+j]
							for p := range k {
								want += 2 * at(i, p) * bt(p, j)
							}
							if got := c[i*n+j]; !(math.Abs(got-want) <= 1e-12*(1+math.Abs(want))) { // NaN fails
								t.Fatalf("%d×%d·%d×%d, %c%c, β=%v: c[%d,%d] = %v, want %v", m, k, k, n, tA, tB, beta, i, j, got, want)
							}
						}
					}
				}
			}
		}
	}
}

// forward must compute relu(relu(x·W₀+b₀)·W₁+b₁)·W₂+b₂ through the
// logistic function, with every weight matrix row-major input×output.
func TestForward(t *testing.T) {
	// Non-square shapes catch a transposed operand; 13 rows leave a
	// remainder in any blocking of the products.
	const dim, hidden, nb = 3, 5, 13
	c, x, rows := testBatch(1, dim, hidden, nb)
	c.load(x, rows)
	got := c.forward(nb)
	for k := range nb {
		a := x[k*dim : (k+1)*dim]
		for l, w := range c.w {
			in, out := c.sizes[l], c.sizes[l+1]
			z := slices.Clone(c.b[l])
			for j := range out {
				for i := range in {
					z[j] += a[i] * w[i*out+j]
				}
				if l < len(c.w)-1 {
					z[j] = max(z[j], 0)
				}
			}
			a = z
		}
		want := 1 / (1 + math.Exp(-a[0]))
		if !(math.Abs(got[k]-want) <= 1e-12) {
			t.Errorf("row %d: probability %v, want %v", k, got[k], want)
		}
	}
}

// The analytic gradient must match central differences of the loss,
// L2 penalty included, for every weight and bias.
func TestBackpropGradient(t *testing.T) {
	const dim, hidden, nb = 3, 5, 7
	c, x, rows := testBatch(2, dim, hidden, nb)
	y := make([]float64, nb)
	for i := range y {
		y[i] = float64(i % 2)
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

// testBatch is a classifier and nb rows of standard-normal inputs.
func testBatch(seed uint64, dim, hidden, nb int) (c *classifier, x []float64, rows []int) {
	r := rand.New(rand.NewPCG(seed, seed))
	c = newClassifier(dim, hidden, nb, r)
	x = make([]float64, nb*dim)
	rows = make([]int, nb)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	for i := range rows {
		rows[i] = i
	}
	return c, x, rows
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

// BenchmarkEpoch times one training epoch of the sbibm setting: in 2-D
// with 16,000 training rows (four folds of 10k against 10k), and in 10-D,
// where the hidden layers of 100 make the matrix products dominate, with
// 2,000 rows.
func BenchmarkEpoch(b *testing.B) {
	for _, s := range []struct{ dim, n int }{{2, 16000}, {10, 2000}} {
		b.Run(fmt.Sprintf("dim=%d/n=%d", s.dim, s.n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(3, 3))
			x := make([]float64, s.n*s.dim)
			y := make([]float64, s.n)
			idx := make([]int, s.n)
			for i := range x {
				x[i] = r.NormFloat64()
			}
			for i := range y {
				y[i] = float64(i % 2)
				idx[i] = i
			}
			c := newClassifier(s.dim, hiddenPerDim*s.dim, batchSize, r)
			for b.Loop() {
				if _, err := c.fit(b.Context(), x, y, idx, 1, r); err != nil {
					b.Fatal(err)
				}
			}
		})
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
