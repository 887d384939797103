package models_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/models/eager"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distmv"
)

// mdnEpsilon is the lower bound on the diagonal of the precision factors.
const mdnEpsilon = 1e-4

// mdnComponent is one mixture component, computed in plain Go.
type mdnComponent struct {
	w   float64
	mu  []float64
	u   *mat.Dense    // upper-triangular precision factor
	cov *mat.SymDense // (UᵀU)⁻¹
}

// mdnRef is the mixture at x, read from the weights in sbi's layout:
// component-major heads, the part above U's diagonal in triu_indices order.
func mdnRef(t testing.TB, s models.Spec, p map[string][]float64, x []float64) []mdnComponent {
	t.Helper()
	k, d := s.Components, s.ThetaDim
	pairs := d * (d - 1) / 2
	h := gmHidden(s, p, x)
	logits := gmLinear(p, "logits", h, k)
	lse := floats.LogSumExp(logits)
	means := gmLinear(p, "means", h, k*d)
	diag := gmLinear(p, "diag", h, k*d)
	var upper []float64
	if pairs > 0 {
		upper = gmLinear(p, "upper", h, k*pairs)
	}
	cs := make([]mdnComponent, k)
	for c := range cs {
		u := mat.NewDense(d, d, nil)
		at := c * pairs
		for i := range d {
			v := diag[c*d+i]
			u.Set(i, i, math.Max(v, 0)+math.Log1p(math.Exp(-math.Abs(v)))+mdnEpsilon)
			for j := i + 1; j < d; j++ {
				u.Set(i, j, upper[at])
				at++
			}
		}
		var inv, cov mat.Dense
		if err := inv.Inverse(u); err != nil {
			t.Fatal(err)
		}
		cov.Mul(&inv, inv.T())
		sym := mat.NewSymDense(d, nil)
		for i := range d {
			for j := i; j < d; j++ {
				sym.SetSym(i, j, (cov.At(i, j)+cov.At(j, i))/2)
			}
		}
		cs[c] = mdnComponent{w: math.Exp(logits[c] - lse), mu: means[c*d : (c+1)*d], u: u, cov: sym}
	}
	return cs
}

// mdnRefLogProb is log Σ_k w_k N(θ; μ_k, Σ_k) with gonum's multivariate normal.
func mdnRefLogProb(t testing.TB, cs []mdnComponent, theta []float64) float64 {
	t.Helper()
	terms := make([]float64, len(cs))
	for i, c := range cs {
		n, ok := distmv.NewNormal(c.mu, c.cov, nil)
		if !ok {
			t.Fatal("component covariance is not positive definite")
		}
		terms[i] = math.Log(c.w) + n.LogProb(theta)
	}
	return floats.LogSumExp(terms)
}

func mdnSpec(d, x, k int) models.Spec {
	return models.Spec{Kind: "mdn", ThetaDim: d, XDim: x, Hidden: 8, Components: k}
}

func TestMDNBadSpec(t *testing.T) {
	for _, s := range []models.Spec{
		{ThetaDim: 0, XDim: 2},
		{ThetaDim: 2, XDim: -1},
		{ThetaDim: 2, XDim: 2, Components: -2},
		{ThetaDim: 2, XDim: 2, Layers: -1},
		{ThetaDim: 2, XDim: 2, Transforms: 3},
		{ThetaDim: 2, XDim: 2, Bins: 8},
		{ThetaDim: 2, XDim: 2, TailBound: 3},
		{ThetaDim: 2, XDim: 2, Activation: "gelu"},
	} {
		s.Kind = "mdn"
		if _, err := models.New(s); err == nil {
			t.Errorf("New(%+v) accepted a bad spec", s)
		}
	}
}

func TestMDNParams(t *testing.T) {
	for _, d := range []int{1, 3} {
		e, err := models.New(models.Spec{Kind: "mdn", ThetaDim: d, XDim: 2, Hidden: 6, Components: 4})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][2]int{
			"hidden0.w": {2, 6}, "hidden0.b": {1, 6},
			"hidden1.w": {6, 6}, "hidden1.b": {1, 6},
			"logits.w": {6, 4}, "logits.b": {1, 4},
			"means.w": {6, 4 * d}, "means.b": {1, 4 * d},
			"diag.w": {6, 4 * d}, "diag.b": {1, 4 * d},
		}
		if d > 1 {
			// sbi has no upper layer for one dimension.
			want["upper.w"], want["upper.b"] = [2]int{6, 4 * 3}, [2]int{1, 4 * 3}
		}
		gmCheckParams(t, e, want)

		// sbi's custom initialisation starts near equal weights and U = I.
		p := models.InitParams(e, rand.NewPCG(1, 2))
		for _, c := range mdnRef(t, e.Spec(), p, []float64{0.5, -1}) {
			if math.Abs(c.w-0.25) > 1e-3 {
				t.Errorf("D=%d: initial weight %v, want ≈ 1/4", d, c.w)
			}
			var id mat.Dense
			id.Sub(c.u, eyeDense(d))
			if n := mat.Norm(&id, math.Inf(1)); n > 1e-2 {
				t.Errorf("D=%d: initial precision factor is %v from I", d, n)
			}
		}
		// The constant bias softplus⁻¹(1−ε) puts the diagonal of U at 1.
		for _, b := range p["diag.b"] {
			if got := math.Log1p(math.Exp(b)) + mdnEpsilon; math.Abs(got-1) > 1e-15 {
				t.Errorf("D=%d: diag bias gives %v, want 1", d, got)
			}
		}
	}
}

func eyeDense(d int) *mat.Dense {
	m := mat.NewDense(d, d, nil)
	for i := range d {
		m.Set(i, i, 1)
	}
	return m
}

// LogProb equals gonum's multivariate normal (K = 1) and mixture thereof,
// from the same weights.
func TestMDNClosedForm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct{ d, k int }{{1, 1}, {3, 1}, {3, 4}, {5, 3}, {1, 5}} {
		e, p, o := gmSetup(t, mdnSpec(tc.d, 2, tc.k), uint64(10*tc.d+tc.k), 0.3)
		theta, x := gmRandom(20, tc.d, rng.NormFloat64), gmRandom(20, 2, rng.NormFloat64)
		got := gmColumn(e.LogProb(o, gmMatrix(theta), gmMatrix(x)))
		for i := range theta {
			want := mdnRefLogProb(t, mdnRef(t, e.Spec(), p, x[i]), theta[i])
			if math.Abs(got[i]-want) > 1e-9*(1+math.Abs(want)) {
				t.Errorf("D=%d K=%d row %d: LogProb %v, distmv %v", tc.d, tc.k, i, got[i], want)
			}
		}
	}
}

// The density integrates to one. Midpoint rule over a box reaching 9
// marginal standard deviations past every component, with a step of half the
// smallest principal standard deviation: the rule's aliasing error is below
// e^{−2π²·4} ≈ 10⁻³⁴ and the mass outside below 2Φ(−9)·D ≈ 10⁻¹⁸, so only
// rounding remains.
func TestMDNNormalises(t *testing.T) {
	for d := 1; d <= 2; d++ {
		e, p, o := gmSetup(t, mdnSpec(d, 2, 3), uint64(d), 0.3)
		x := []float64{0.3, -0.8}
		cs := mdnRef(t, e.Spec(), p, x)
		lo, hi := make([]float64, d), make([]float64, d)
		step := math.Inf(1)
		for i := range d {
			lo[i], hi[i] = math.Inf(1), math.Inf(-1)
		}
		for _, c := range cs {
			var eig mat.EigenSym
			if !eig.Factorize(c.cov, false) {
				t.Fatal("eigen decomposition failed")
			}
			step = math.Min(step, math.Sqrt(floats.Min(eig.Values(nil)))/2)
			for i := range d {
				s := math.Sqrt(c.cov.At(i, i))
				lo[i] = math.Min(lo[i], c.mu[i]-9*s)
				hi[i] = math.Max(hi[i], c.mu[i]+9*s)
			}
		}
		axes := make([][]float64, d)
		cell := 1.0
		for i := range d {
			n := int(math.Ceil((hi[i] - lo[i]) / step))
			if n > 600 {
				t.Fatalf("D=%d: %d grid points per axis; the test weights spread too far", d, n)
			}
			h := (hi[i] - lo[i]) / float64(n)
			cell *= h
			for j := range n {
				axes[i] = append(axes[i], lo[i]+(float64(j)+0.5)*h)
			}
		}
		got := gmIntegrate(e, o, axes, x, cell)
		t.Logf("D=%d: %d×%d grid, integral − 1 = %.1e", d, len(axes[0]), len(axes[d-1]), got-1)
		if math.Abs(got-1) > 1e-9 {
			t.Errorf("D=%d: density integrates to %v", d, got)
		}
	}
}

// mdnDraw is Sample's noise for one draw: ε then u.
func mdnDraw(rng *rand.Rand, d int) []float64 {
	v := make([]float64, d+1)
	for i := range d {
		v[i] = rng.NormFloat64()
	}
	v[d] = rng.Float64()
	return v
}

// mdnSampledComponent is the component whose U(θ−μ) reproduces ε, or −1.
func mdnSampledComponent(cs []mdnComponent, theta, eps []float64) int {
	d := len(eps)
	for k, c := range cs {
		var scale, worst float64
		for i := range d {
			var r float64
			for j := i; j < d; j++ {
				r += c.u.At(i, j) * (theta[j] - c.mu[j])
				scale += math.Abs(c.u.At(i, j) * (theta[j] - c.mu[j]))
			}
			worst = math.Max(worst, math.Abs(r-eps[i]))
		}
		if worst <= 1e-12*(1+scale) {
			return k
		}
	}
	return -1
}

// mdnInverseCDF is the component whose cumulative-weight interval holds u.
func mdnInverseCDF(cs []mdnComponent, u float64) int {
	var c float64
	for k := range cs {
		c += cs[k].w
		if u < c {
			return k
		}
	}
	return len(cs) - 1
}

// Sample's log-prob is LogProb's, and each draw is μ_k + U_k⁻¹ε for the
// component the inverse CDF of the weights picks at u.
func TestMDNSampleConsistent(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, tc := range []struct{ d, k int }{{1, 3}, {5, 4}} {
		e, p, o := gmSetup(t, mdnSpec(tc.d, 2, tc.k), 5, 0.5)
		var noise, x [][]float64
		for range 100 {
			noise = append(noise, mdnDraw(rng, tc.d))
			x = append(x, []float64{rng.NormFloat64(), rng.NormFloat64()})
		}
		theta, lp := e.Sample(o, gmMatrix(noise), gmMatrix(x))
		again := gmColumn(e.LogProb(o, theta, gmMatrix(x)))
		th := eager.Dense(theta)
		for i, l := range gmColumn(lp) {
			if math.Abs(l-again[i]) > 1e-9 {
				t.Errorf("D=%d row %d: Sample log-prob %v, LogProb %v", tc.d, i, l, again[i])
			}
			cs := mdnRef(t, e.Spec(), p, x[i])
			got := mdnSampledComponent(cs, th.RawRowView(i), noise[i][:tc.d])
			if want := mdnInverseCDF(cs, noise[i][tc.d]); got != want {
				t.Errorf("D=%d row %d: drew from component %d, inverse CDF of u=%v picks %d", tc.d, i, got, noise[i][tc.d], want)
			}
		}
	}
}

// u at either end of [0, 1] picks the first or last component, even where
// the cumulative weights round below 1; with ε = 0 the draw is its mean.
func TestMDNSampleEdges(t *testing.T) {
	e, p, o := gmSetup(t, mdnSpec(2, 2, 4), 6, 0.5)
	x := []float64{0.1, 0.2}
	cs := mdnRef(t, e.Spec(), p, x)
	for _, tc := range []struct {
		u    float64
		want int
	}{{0, 0}, {math.Nextafter(1, 0), 3}, {1, 3}} {
		theta, _ := e.Sample(o, gmMatrix([][]float64{{0, 0, tc.u}}), gmMatrix([][]float64{x}))
		got := eager.Dense(theta).RawRowView(0)
		if !floats.EqualApprox(got, cs[tc.want].mu, 1e-12) {
			t.Errorf("u=%v: θ = %v, want the mean of component %d, %v", tc.u, got, tc.want, cs[tc.want].mu)
		}
	}
}

// Many draws at one x: component frequencies match the weights, and the
// sample mean and covariance match the mixture's, each within 4.5 standard
// errors (binomial for frequencies, Var/n for means, the product's
// empirical variance for covariances).
func TestMDNSampleMoments(t *testing.T) {
	const n, z = 20000, 4.5
	const d, k = 2, 3
	e, p, o := gmSetup(t, mdnSpec(d, 2, k), 7, 0.5)
	x := []float64{-0.4, 0.9}
	cs := mdnRef(t, e.Spec(), p, x)

	rng := rand.New(rand.NewPCG(8, 8))
	noise, xs := make([][]float64, n), make([][]float64, n)
	for i := range noise {
		noise[i], xs[i] = mdnDraw(rng, d), x
	}
	theta, _ := e.Sample(o, gmMatrix(noise), gmMatrix(xs))
	th := eager.Dense(theta)

	counts := make([]float64, k)
	for i := range n {
		c := mdnSampledComponent(cs, th.RawRowView(i), noise[i][:d])
		if c < 0 {
			t.Fatalf("draw %d matches no component", i)
		}
		counts[c]++
	}
	for c := range cs {
		w := cs[c].w
		if se := math.Sqrt(w * (1 - w) / n); math.Abs(counts[c]/n-w) > z*se {
			t.Errorf("component %d drawn %.4f of the time, weight %.4f (se %.4f)", c, counts[c]/n, w, se)
		}
	}

	mean := make([]float64, d)
	cov := mat.NewSymDense(d, nil)
	for _, c := range cs {
		floats.AddScaled(mean, c.w, c.mu)
	}
	for i := range d {
		for j := i; j < d; j++ {
			var v float64
			for _, c := range cs {
				v += c.w * (c.cov.At(i, j) + (c.mu[i]-mean[i])*(c.mu[j]-mean[j]))
			}
			cov.SetSym(i, j, v)
		}
	}
	for i := range d {
		var m float64
		for r := range n {
			m += th.At(r, i)
		}
		m /= n
		if se := math.Sqrt(cov.At(i, i) / n); math.Abs(m-mean[i]) > z*se {
			t.Errorf("mean_%d: sample %v, mixture %v (se %v)", i, m, mean[i], se)
		}
		for j := i; j < d; j++ {
			prods := make([]float64, n)
			for r := range n {
				prods[r] = (th.At(r, i) - mean[i]) * (th.At(r, j) - mean[j])
			}
			m := floats.Sum(prods) / n
			var v float64
			for _, q := range prods {
				v += (q - m) * (q - m)
			}
			if se := math.Sqrt(v / (n - 1) / n); math.Abs(m-cov.At(i, j)) > z*se {
				t.Errorf("cov_%d%d: sample %v, mixture %v (se %v)", i, j, m, cov.At(i, j), se)
			}
		}
	}
}

// mdnCountingOps counts the operations an estimator records: the size of
// the graph a recording backend (ONNX, gorgonia) would build.
type mdnCountingOps struct {
	models.Ops
	n int
}

func (c *mdnCountingOps) Param(name string) models.Tensor { c.n++; return c.Ops.Param(name) }
func (c *mdnCountingOps) Const(r, k int, v []float64) models.Tensor {
	c.n++
	return c.Ops.Const(r, k, v)
}
func (c *mdnCountingOps) Scalar(v float64) models.Tensor { c.n++; return c.Ops.Scalar(v) }
func (c *mdnCountingOps) Slice(a models.Tensor, f, t int) models.Tensor {
	c.n++
	return c.Ops.Slice(a, f, t)
}
func (c *mdnCountingOps) Concat(ts ...models.Tensor) models.Tensor { c.n++; return c.Ops.Concat(ts...) }
func (c *mdnCountingOps) Reshape(a models.Tensor, k int) models.Tensor {
	c.n++
	return c.Ops.Reshape(a, k)
}
func (c *mdnCountingOps) Add(a, b models.Tensor) models.Tensor     { c.n++; return c.Ops.Add(a, b) }
func (c *mdnCountingOps) Sub(a, b models.Tensor) models.Tensor     { c.n++; return c.Ops.Sub(a, b) }
func (c *mdnCountingOps) Mul(a, b models.Tensor) models.Tensor     { c.n++; return c.Ops.Mul(a, b) }
func (c *mdnCountingOps) Div(a, b models.Tensor) models.Tensor     { c.n++; return c.Ops.Div(a, b) }
func (c *mdnCountingOps) Maximum(a, b models.Tensor) models.Tensor { c.n++; return c.Ops.Maximum(a, b) }
func (c *mdnCountingOps) Minimum(a, b models.Tensor) models.Tensor { c.n++; return c.Ops.Minimum(a, b) }
func (c *mdnCountingOps) MatMul(a, b models.Tensor) models.Tensor  { c.n++; return c.Ops.MatMul(a, b) }
func (c *mdnCountingOps) Neg(a models.Tensor) models.Tensor        { c.n++; return c.Ops.Neg(a) }
func (c *mdnCountingOps) Exp(a models.Tensor) models.Tensor        { c.n++; return c.Ops.Exp(a) }
func (c *mdnCountingOps) Log(a models.Tensor) models.Tensor        { c.n++; return c.Ops.Log(a) }
func (c *mdnCountingOps) Sqrt(a models.Tensor) models.Tensor       { c.n++; return c.Ops.Sqrt(a) }
func (c *mdnCountingOps) Square(a models.Tensor) models.Tensor     { c.n++; return c.Ops.Square(a) }
func (c *mdnCountingOps) Abs(a models.Tensor) models.Tensor        { c.n++; return c.Ops.Abs(a) }
func (c *mdnCountingOps) Tanh(a models.Tensor) models.Tensor       { c.n++; return c.Ops.Tanh(a) }
func (c *mdnCountingOps) Sigmoid(a models.Tensor) models.Tensor    { c.n++; return c.Ops.Sigmoid(a) }
func (c *mdnCountingOps) ReLU(a models.Tensor) models.Tensor       { c.n++; return c.Ops.ReLU(a) }
func (c *mdnCountingOps) Step(a, b models.Tensor) models.Tensor    { c.n++; return c.Ops.Step(a, b) }
func (c *mdnCountingOps) SumCols(a models.Tensor) models.Tensor    { c.n++; return c.Ops.SumCols(a) }
func (c *mdnCountingOps) MaxCols(a models.Tensor) models.Tensor    { c.n++; return c.Ops.MaxCols(a) }

// mdnGraphSize counts the operations of LogProb and of Sample.
func mdnGraphSize(t *testing.T, d, k int) (logProb, sample int) {
	e, _, o := gmSetup(t, mdnSpec(d, 2, k), 1, 0)
	c := &mdnCountingOps{Ops: o}
	rng := rand.New(rand.NewPCG(1, 1))
	x := gmMatrix(gmRandom(3, 2, rng.NormFloat64))
	e.LogProb(c, gmMatrix(gmRandom(3, d, rng.NormFloat64)), x)
	logProb, c.n = c.n, 0
	e.Sample(c, gmMatrix(gmRandom(3, d+1, rng.Float64)), x)
	return logProb, c.n
}

// The graph does not grow with the number of components, LogProb's does not
// grow with the dimension either, and Sample's grows by a constant per
// dimension (the back-substitution).
func TestMDNGraphSize(t *testing.T) {
	lp1, s1 := mdnGraphSize(t, 4, 1)
	lp10, s10 := mdnGraphSize(t, 4, 10)
	lp8, s8 := mdnGraphSize(t, 8, 10)
	lp12, s12 := mdnGraphSize(t, 12, 10)
	t.Logf("ops at D=4: LogProb %d, Sample %d; at D=12: %d, %d", lp10, s10, lp12, s12)
	if lp1 != lp10 || s1 != s10 {
		t.Errorf("graph grows with K: LogProb %d → %d, Sample %d → %d ops for K 1 → 10", lp1, lp10, s1, s10)
	}
	if lp8 != lp12 {
		t.Errorf("LogProb grows with D: %d ops at D=8, %d at D=12", lp8, lp12)
	}
	if s8-s10 != s12-s8 {
		t.Errorf("Sample is not linear in D: %d, %d, %d ops at D = 4, 8, 12", s10, s8, s12)
	}
}

func Example_mdn() {
	e, _ := models.New(models.Spec{Kind: "mdn", ThetaDim: 2, XDim: 1, Components: 2})
	// Start from sbi's initialisation (U = I), then silence the network and
	// set the output biases: weights (1/4, 3/4), means (−2, 0) and (2, 0).
	w := models.InitParams(e, rand.NewPCG(1, 1))
	for name, v := range w {
		if name != "diag.b" {
			clear(v)
		}
	}
	copy(w["logits.b"], []float64{0, math.Log(3)})
	copy(w["means.b"], []float64{-2, 0, 2, 0})
	o, _ := eager.New(e, w)

	// Noise columns: ε₁, ε₂, then u, which picks the component.
	x := eager.Matrix(2, 1, []float64{0, 0})
	noise := eager.Matrix(2, 3, []float64{
		0, 1, 0.2, // u < 1/4: first component
		0, 1, 0.9, // u ≥ 1/4: second component
	})
	theta, logProb := e.Sample(o, noise, x)
	for i := range 2 {
		fmt.Printf("θ = %.2f, log q = %.4f\n", eager.Dense(theta).RawRowView(i), eager.Dense(logProb).At(i, 0))
	}
	// Output:
	// θ = [-2.00 1.00], log q = -3.7232
	// θ = [2.00 1.00], log q = -2.6254
}

func benchmarkMDN(b *testing.B, sample bool) {
	const n = 256
	spec, _ := models.DefaultSpec("mdn", 3, 3)
	e, _, o := gmSetup(b, spec, 1, 0)
	rng := rand.New(rand.NewPCG(1, 1))
	x := gmMatrix(gmRandom(n, 3, rng.NormFloat64))
	theta := gmMatrix(gmRandom(n, 3, rng.NormFloat64))
	noise := gmMatrix(gmRandom(n, 4, rng.Float64))
	b.ResetTimer()
	for range b.N {
		if sample {
			e.Sample(o, noise, x)
		} else {
			e.LogProb(o, theta, x)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "rows/s")
}

// Eager float64 reference speed for sbi's default MDN, batch 256.
func BenchmarkMDNLogProb(b *testing.B) { benchmarkMDN(b, false) }
func BenchmarkMDNSample(b *testing.B)  { benchmarkMDN(b, true) }
