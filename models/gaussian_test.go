package models_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/models/eager"
	"gonum.org/v1/gonum/stat/distuv"
)

// Helpers shared by the gaussian and mdn tests carry a gm prefix.

// gmSetup builds an estimator with seeded initial weights, each then moved by
// N(0, jitter²) so that no part of the network sits at its special start.
func gmSetup(t testing.TB, s models.Spec, seed uint64, jitter float64) (models.Estimator, map[string][]float64, *eager.Ops) {
	t.Helper()
	e, err := models.New(s)
	if err != nil {
		t.Fatal(err)
	}
	p := models.InitParams(e, rand.NewPCG(seed, 7))
	rng := rand.New(rand.NewPCG(seed, 8))
	for _, ps := range e.Params() {
		for i := range p[ps.Name] {
			p[ps.Name][i] += jitter * rng.NormFloat64()
		}
	}
	o, err := eager.New(e, p)
	if err != nil {
		t.Fatal(err)
	}
	return e, p, o
}

// gmMatrix stacks rows into a tensor.
func gmMatrix(rows [][]float64) models.Tensor {
	var v []float64
	for _, r := range rows {
		v = append(v, r...)
	}
	return eager.Matrix(len(rows), len(rows[0]), v)
}

// gmRandom is n rows of cols draws from f.
func gmRandom(n, cols int, f func() float64) [][]float64 {
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = make([]float64, cols)
		for j := range rows[i] {
			rows[i][j] = f()
		}
	}
	return rows
}

// gmColumn is the single column of a [N,1] tensor.
func gmColumn(t models.Tensor) []float64 {
	d := eager.Dense(t)
	r, _ := d.Dims()
	out := make([]float64, r)
	for i := range out {
		out[i] = d.At(i, 0)
	}
	return out
}

// gmLinear is a·W + b in plain Go, W row-major [len(a), out].
func gmLinear(p map[string][]float64, name string, a []float64, out int) []float64 {
	w, b := p[name+".w"], p[name+".b"]
	y := append([]float64(nil), b...)
	for i, ai := range a {
		for j := range out {
			y[j] += ai * w[i*out+j]
		}
	}
	return y
}

// gmHidden is the hidden network in plain Go: the reference the Ops code is
// compared with.
func gmHidden(s models.Spec, p map[string][]float64, x []float64) []float64 {
	h := x
	for l := range s.Layers {
		h = gmLinear(p, fmt.Sprintf("hidden%d", l), h, s.Hidden)
		for i, v := range h {
			switch s.Activation {
			case "tanh":
				h[i] = math.Tanh(v)
			case "elu":
				if v <= 0 {
					h[i] = math.Expm1(v)
				}
			default:
				h[i] = math.Max(v, 0)
			}
		}
	}
	return h
}

// gaussianRef is μ and σ of the gaussian kind at x, in plain Go.
func gaussianRef(s models.Spec, p map[string][]float64, x []float64) (mu, sigma []float64) {
	out := gmLinear(p, "out", gmHidden(s, p, x), 2*s.ThetaDim)
	mu = out[:s.ThetaDim]
	for _, lv := range out[s.ThetaDim:] {
		sigma = append(sigma, math.Exp(lv/2))
	}
	return mu, sigma
}

func TestGaussianBadSpec(t *testing.T) {
	for _, s := range []models.Spec{
		{ThetaDim: 0, XDim: 2},
		{ThetaDim: 2, XDim: 0},
		{ThetaDim: 2, XDim: 2, Components: 3},
		{ThetaDim: 2, XDim: 2, Transforms: 3},
		{ThetaDim: 2, XDim: 2, Bins: 8},
		{ThetaDim: 2, XDim: 2, TailBound: 3},
		{ThetaDim: 2, XDim: 2, Hidden: -1},
		{ThetaDim: 2, XDim: 2, Activation: "sigmoid"},
	} {
		s.Kind = "gaussian"
		if _, err := models.New(s); err == nil {
			t.Errorf("New(%+v) accepted a bad spec", s)
		}
	}
}

func TestGaussianParams(t *testing.T) {
	s := models.Spec{Kind: "gaussian", ThetaDim: 3, XDim: 4, Hidden: 6, Layers: 3}
	e, err := models.New(s)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int{
		"hidden0.w": {4, 6}, "hidden0.b": {1, 6},
		"hidden1.w": {6, 6}, "hidden1.b": {1, 6},
		"hidden2.w": {6, 6}, "hidden2.b": {1, 6},
		"out.w": {6, 6}, "out.b": {1, 6},
	}
	gmCheckParams(t, e, want)
	// PyTorch's default: U(−1/√in, 1/√in).
	p := models.InitParams(e, rand.NewPCG(1, 2))
	for name, v := range p {
		bound := 1 / math.Sqrt(float64(want[name][0]))
		if name[len(name)-1] == 'b' {
			bound = 1 / math.Sqrt(float64(want[name[:len(name)-1]+"w"][0]))
		}
		for _, x := range v {
			if math.Abs(x) > bound {
				t.Fatalf("%s holds %v, outside ±%v", name, x, bound)
			}
		}
	}
}

// gmCheckParams checks names, shapes and that a seed fixes the values.
func gmCheckParams(t *testing.T, e models.Estimator, want map[string][2]int) {
	t.Helper()
	seen := map[string]bool{}
	for _, p := range e.Params() {
		if seen[p.Name] {
			t.Errorf("parameter %q declared twice", p.Name)
		}
		seen[p.Name] = true
		if w, ok := want[p.Name]; !ok || w != [2]int{p.Rows, p.Cols} {
			t.Errorf("parameter %q is %d×%d, want %v (declared: %v)", p.Name, p.Rows, p.Cols, w, ok)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d parameters, want %d", len(seen), len(want))
	}
	a := models.InitParams(e, rand.NewPCG(3, 4))
	if b := models.InitParams(e, rand.NewPCG(3, 4)); !reflect.DeepEqual(a, b) {
		t.Error("InitParams differs for the same seed")
	}
	if c := models.InitParams(e, rand.NewPCG(5, 4)); reflect.DeepEqual(a, c) {
		t.Error("InitParams is the same for different seeds")
	}
}

// LogProb is a product of normal densities whose moments the reference
// network computes.
func TestGaussianClosedForm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, act := range []string{"relu", "tanh", "elu"} {
		s := models.Spec{Kind: "gaussian", ThetaDim: 3, XDim: 2, Hidden: 7, Activation: act}
		e, p, o := gmSetup(t, s, 2, 0.3)
		s = e.Spec()
		theta, x := gmRandom(20, 3, rng.NormFloat64), gmRandom(20, 2, rng.NormFloat64)
		got := gmColumn(e.LogProb(o, gmMatrix(theta), gmMatrix(x)))
		for i := range theta {
			mu, sigma := gaussianRef(s, p, x[i])
			var want float64
			for j := range mu {
				want += distuv.Normal{Mu: mu[j], Sigma: sigma[j]}.LogProb(theta[i][j])
			}
			if math.Abs(got[i]-want) > 1e-12*(1+math.Abs(want)) {
				t.Errorf("%s row %d: LogProb %v, closed form %v", act, i, got[i], want)
			}
		}
	}
}

// The density integrates to one: midpoint rule over μ ± 10σ per axis with
// step σ/4. For a Gaussian the rule's error is e^{−2π²(σ/h)²} ≈ 10⁻¹³⁷ and
// the mass outside is 2Φ(−10) ≈ 10⁻²³ per axis, so only rounding remains.
func TestGaussianNormalises(t *testing.T) {
	for d := 1; d <= 2; d++ {
		s := models.Spec{Kind: "gaussian", ThetaDim: d, XDim: 2, Hidden: 5}
		e, p, o := gmSetup(t, s, uint64(d), 0.5)
		x := []float64{0.3, -0.8}
		mu, sigma := gaussianRef(e.Spec(), p, x)
		const half, perSigma = 10, 4
		n := 2 * half * perSigma
		axes := make([][]float64, d)
		cell := 1.0
		for j := range d {
			h := sigma[j] / perSigma
			cell *= h
			for i := range n {
				axes[j] = append(axes[j], mu[j]-half*sigma[j]+(float64(i)+0.5)*h)
			}
		}
		got := gmIntegrate(e, o, axes, x, cell)
		if math.Abs(got-1) > 1e-9 {
			t.Errorf("D=%d: density integrates to %v", d, got)
		}
	}
}

// gmIntegrate sums exp(LogProb)·cell over the grid the axes span (D ≤ 2).
func gmIntegrate(e models.Estimator, o *eager.Ops, axes [][]float64, x []float64, cell float64) float64 {
	var theta, xs [][]float64
	if len(axes) == 1 {
		for _, a := range axes[0] {
			theta = append(theta, []float64{a})
		}
	} else {
		for _, a := range axes[0] {
			for _, b := range axes[1] {
				theta = append(theta, []float64{a, b})
			}
		}
	}
	for range theta {
		xs = append(xs, x)
	}
	var sum float64
	for _, lp := range gmColumn(e.LogProb(o, gmMatrix(theta), gmMatrix(xs))) {
		sum += math.Exp(lp)
	}
	return sum * cell
}

// A sample is μ + σε, and Sample's log-prob is LogProb's.
func TestGaussianSampleConsistent(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	s := models.Spec{Kind: "gaussian", ThetaDim: 4, XDim: 3, Hidden: 9}
	e, p, o := gmSetup(t, s, 3, 0.3)
	noise, x := gmRandom(50, 4, rng.NormFloat64), gmRandom(50, 3, rng.NormFloat64)
	theta, lp := e.Sample(o, gmMatrix(noise), gmMatrix(x))
	again := gmColumn(e.LogProb(o, theta, gmMatrix(x)))
	th := eager.Dense(theta)
	for i, l := range gmColumn(lp) {
		if math.Abs(l-again[i]) > 1e-9 {
			t.Errorf("row %d: Sample log-prob %v, LogProb %v", i, l, again[i])
		}
		mu, sigma := gaussianRef(e.Spec(), p, x[i])
		for j := range mu {
			if want := mu[j] + sigma[j]*noise[i][j]; math.Abs(th.At(i, j)-want) > 1e-12*(1+math.Abs(want)) {
				t.Errorf("row %d θ_%d = %v, want μ+σε = %v", i, j, th.At(i, j), want)
			}
		}
	}
}

func Example_gaussian() {
	e, _ := models.New(models.Spec{Kind: "gaussian", ThetaDim: 2, XDim: 1})
	// Zero weights with an output bias of μ = (1, −1) and log σ² = (0, 2 log 2):
	// q(θ|x) = N(1, 1) × N(−1, 4) for every x.
	w := models.InitParams(e, rand.NewPCG(1, 1))
	for _, v := range w {
		clear(v)
	}
	copy(w["out.b"], []float64{1, -1, 0, 2 * math.Ln2})
	o, _ := eager.New(e, w)

	x := eager.Matrix(1, 1, []float64{0})
	theta, logProb := e.Sample(o, eager.Matrix(1, 2, []float64{0.5, 0.5}), x)
	fmt.Printf("θ = %.2f, log q = %.4f\n", eager.Dense(theta).RawRowView(0), eager.Dense(logProb).At(0, 0))
	fmt.Printf("closed form: %.4f\n", distuv.Normal{Mu: 1, Sigma: 1}.LogProb(1.5)+distuv.Normal{Mu: -1, Sigma: 2}.LogProb(0))
	// Output:
	// θ = [1.50 0.00], log q = -2.7810
	// closed form: -2.7810
}
