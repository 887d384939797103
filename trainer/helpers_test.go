package trainer

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/models/eager"
	"gorgonia.org/tensor"
)

// funcEst turns a function of θ and x into an estimator, so that single
// ops can be run through the training machinery.
type funcEst struct {
	spec    models.Spec
	params  []models.ParamSpec
	logProb func(o models.Ops, theta, x models.Tensor) models.Tensor
}

func (f funcEst) Spec() models.Spec            { return f.spec }
func (f funcEst) Params() []models.ParamSpec   { return f.params }
func (f funcEst) Noise() (normal, uniform int) { return f.spec.ThetaDim, 0 }
func (f funcEst) LogProb(o models.Ops, theta, x models.Tensor) models.Tensor {
	return f.logProb(o, theta, x)
}
func (f funcEst) Sample(o models.Ops, noise, x models.Tensor) (models.Tensor, models.Tensor) {
	panic("funcEst: no sampler")
}

// mlpGauss is a small diagonal Gaussian whose mean and log-scale come from
// an MLP: the test estimator of this package, independent of the kinds
// registered in models.
type mlpGauss struct{ d, x, h int }

func (m mlpGauss) Spec() models.Spec {
	return models.Spec{Kind: "mlpgauss", ThetaDim: m.d, XDim: m.x, Hidden: m.h}
}

func (m mlpGauss) Params() []models.ParamSpec {
	p := models.LinearParams("l0", m.x, m.h)
	p = append(p, models.LinearParams("l1", m.h, m.h)...)
	return append(p, models.LinearParams("out", m.h, 2*m.d)...)
}

func (m mlpGauss) Noise() (normal, uniform int) { return m.d, 0 }

func (m mlpGauss) head(o models.Ops, x models.Tensor) (mu, logStd models.Tensor) {
	h := o.Tanh(models.Linear(o, x, "l0"))
	h = models.ELU(o, models.Linear(o, h, "l1"))
	out := models.Linear(o, h, "out")
	return o.Slice(out, 0, m.d), o.Slice(out, m.d, 2*m.d)
}

func (m mlpGauss) LogProb(o models.Ops, theta, x models.Tensor) models.Tensor {
	mu, ls := m.head(o, x)
	z := o.Div(o.Sub(theta, mu), o.Exp(ls))
	return o.Sub(models.StdNormalLogProb(o, z), o.SumCols(ls))
}

func (m mlpGauss) Sample(o models.Ops, noise, x models.Tensor) (models.Tensor, models.Tensor) {
	mu, ls := m.head(o, x)
	theta := o.Add(mu, o.Mul(noise, o.Exp(ls)))
	return theta, o.Sub(models.StdNormalLogProb(o, noise), o.SumCols(ls))
}

// mixture is a diagonal Gaussian mixture that touches every op of
// models.Ops (Reshape, Concat, LogSumExp through MaxCols, Step, Maximum,
// Minimum, Sqrt, Abs, Sigmoid) so that the gradient checks cover them all.
type mixture struct{ d, x, h, k int }

func (m mixture) Spec() models.Spec {
	return models.Spec{Kind: "mixture", ThetaDim: m.d, XDim: m.x, Hidden: m.h, Components: m.k}
}

func (m mixture) Params() []models.ParamSpec {
	p := models.LinearParams("l0", m.x, m.h)
	p = append(p, models.LinearParams("logits", m.h, m.k)...)
	p = append(p, models.LinearParams("mu", m.h, m.k*m.d)...)
	p = append(p, models.LinearParams("scale", m.h, m.k*m.d)...)
	return append(p, models.ParamSpec{Name: "tilt", Rows: 1, Cols: 1, Init: models.Uniform(1)})
}

func (m mixture) Noise() (normal, uniform int) { return m.d, 1 }

func (m mixture) LogProb(o models.Ops, theta, x models.Tensor) models.Tensor {
	h := o.Sigmoid(models.Linear(o, x, "l0"))
	logw := models.LogSoftmax(o, models.Linear(o, h, "logits"))
	mu := models.Linear(o, h, "mu")
	s := o.Sqrt(o.Add(o.Square(models.Softplus(o, models.Linear(o, h, "scale"))), o.Scalar(1e-2)))
	s = o.Minimum(o.Maximum(s, o.Scalar(1e-3)), o.Scalar(1e3))
	tiled := make([]models.Tensor, m.k)
	for i := range tiled {
		tiled[i] = theta
	}
	z := o.Div(o.Sub(o.Concat(tiled...), mu), s)
	sq := o.Reshape(o.SumCols(o.Reshape(o.Square(z), m.d)), m.k)
	logDet := o.Reshape(o.SumCols(o.Reshape(o.Log(s), m.d)), m.k)
	comp := o.Sub(o.Sub(o.Mul(o.Scalar(-0.5), sq), logDet), o.Scalar(0.5*float64(m.d)*math.Log(2*math.Pi)))
	lp := models.LogSumExp(o, o.Add(logw, comp))
	// A reshape of an input node feeding an op that gorgonia's own kernels
	// would run in place (#511): θ must come out of the run intact.
	lp = o.Add(lp, o.Mul(o.Scalar(0.01), o.SumCols(o.Reshape(o.Add(o.Reshape(theta, 1), o.Scalar(1)), m.d))))
	// An unnormalised tilt on one side of θ₀ = 0: exercises Step and Abs.
	side := o.Step(o.Slice(theta, 0, 1), o.Scalar(0))
	return o.Add(lp, o.Mul(side, o.Abs(o.Param("tilt"))))
}

func (m mixture) Sample(o models.Ops, noise, x models.Tensor) (models.Tensor, models.Tensor) {
	panic("mixture: no sampler")
}

// randn is n standard-normal draws.
func randn(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

// eagerLogProb is log q(θ|x) per row by package eager.
func eagerLogProb(t testing.TB, e models.Estimator, values map[string][]float64, theta, x []float64, rows int) []float64 {
	t.Helper()
	o, err := eager.New(e, values)
	if err != nil {
		t.Fatal(err)
	}
	s := e.Spec()
	tm, xm := eager.Matrix(rows, s.ThetaDim, theta), eager.Matrix(rows, s.XDim, x)
	if s.Method == models.MethodNLE {
		tm, xm = xm, tm
	}
	lp := eager.Dense(e.LogProb(o, tm, xm))
	return lp.RawMatrix().Data
}

// eagerLoss is −Σ wᵢ log q(θᵢ|xᵢ) by package eager.
func eagerLoss(t testing.TB, e models.Estimator, values map[string][]float64, theta, x, w []float64) float64 {
	t.Helper()
	var s float64
	for i, v := range eagerLogProb(t, e, values, theta, x, len(w)) {
		s -= w[i] * v
	}
	return s
}

// trainNet compiles a training net with the given values and batch.
func trainNet[T float](t testing.TB, e models.Estimator, values map[string][]float64, theta, x, w []float64) (*net[T], *weights) {
	t.Helper()
	return lossNet[T](t, e, models.Loss{}, values, theta, x, w)
}

// lossNet is trainNet for any network and loss.
func lossNet[T float](t testing.TB, e models.Network, l models.Loss, values map[string][]float64, theta, x, w []float64) (*net[T], *weights) {
	t.Helper()
	var dt tensor.Dtype = tensor.Float64
	if _, ok := any(T(0)).(float32); ok {
		dt = tensor.Float32
	}
	wts, err := newWeights(e, values, dt)
	if err != nil {
		t.Fatal(err)
	}
	n, err := newNet[T](e, wts, len(w), true, l)
	if err != nil {
		t.Fatal(err)
	}
	fill(n.theta, theta)
	fill(n.x, x)
	fill(n.w, w)
	return n, wts
}

func fill[T float](dst []T, src []float64) {
	for i, v := range src {
		dst[i] = T(v)
	}
}

// checkGradient compares the float64 graph's loss with the eager loss and
// its gradient with central differences of the eager loss on up to
// perParam random entries of every parameter.
//
// Central differences with step h err by O(h²·f‴) + O(ε·|loss|/h); with
// h = 1e-5·max(1,|v|) both are ≲1e-10 here, so a relative error of 1e-5
// with an absolute floor of 1e-8 can only fail on a wrong gradient (or a
// step straddling a kink, which fixed seeds avoid).
func checkGradient(t *testing.T, e models.Estimator, values map[string][]float64, theta, x, w []float64, perParam int, rng *rand.Rand) {
	t.Helper()
	n, _ := trainNet[float64](t, e, values, theta, x, w)
	if err := n.run(); err != nil {
		t.Fatal(err)
	}
	want := eagerLoss(t, e, values, theta, x, w)
	if d := math.Abs(n.loss[0] - want); d > 1e-10*math.Max(1, math.Abs(want)) {
		t.Errorf("%s: graph loss %v, eager %v (diff %g)", e.Spec().Kind, n.loss[0], want, d)
	}
	off := 0
	for _, p := range e.Params() {
		v := values[p.Name]
		for range min(perParam, p.Size()) {
			j := rng.IntN(p.Size())
			orig := v[j]
			h := 1e-5 * math.Max(1, math.Abs(orig))
			v[j] = orig + h
			up := eagerLoss(t, e, values, theta, x, w)
			v[j] = orig - h
			down := eagerLoss(t, e, values, theta, x, w)
			v[j] = orig
			fd := (up - down) / (2 * h)
			got := n.grad[off+j]
			if d := math.Abs(got - fd); d > 1e-5*math.Max(math.Abs(got), math.Abs(fd))+1e-8 {
				t.Errorf("%s: d loss/d %s[%d] = %.10g, finite difference %.10g", e.Spec().Kind, p.Name, j, got, fd)
			}
		}
		off += p.Size()
	}
}

// batch draws rows of θ and x and loss weights 1/rows.
func batch(rng *rand.Rand, rows, d, x int) (theta, xs, w []float64) {
	w = make([]float64, rows)
	for i := range w {
		w[i] = 1 / float64(rows)
	}
	return randn(rng, rows*d), randn(rng, rows*x), w
}
