package trainer

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/models/eager"
	"gonum.org/v1/gonum/mat"
	"gorgonia.org/tensor"
)

// Estimator is a network for a training loop of one's own (sbi's training
// interface): Build it from data, ask Loss for a batch's per-row losses,
// Step an optimizer, Sample it, and hand Model to export or the posteriors.
// It trains in float32; z-scoring is fitted once, by Build.
//
// An Estimator is not safe for concurrent use.
type Estimator struct {
	net  models.Network
	spec models.Spec
	loss models.Loss
	m    models.Model // z-scoring, method, loss; weights filled by Model
	w    *weights
	nets map[int]*net[float32] // by batch rows
	rng  *rand.Rand            // NRE contrasts
	grad []float32             // gradient of the last Loss's mean
}

// BuildOptions configure Build.
type BuildOptions struct {
	Seed uint64      // initialisation and NRE contrasts
	Loss models.Loss // NRE's loss (zero: NRE-B, sbi's NRE); density estimators ignore it

	// Threads is OpenBLAS's thread count, set by Build for the whole
	// process, as Options.Threads; default 1.
	Threads int
}

// Build returns a freshly initialised network of spec (method NPE, NLE or
// NRE) whose z-scoring is the mean and unbiased std of theta's and x's
// columns (one simulation per row, raw units), as sbi's builders fit it to
// the data they are given.
func Build(spec models.Spec, theta, x *mat.Dense, opts BuildOptions) (*Estimator, error) {
	loss := models.Loss{}
	if spec.Method == models.MethodNRE {
		var err error
		if loss, err = opts.Loss.WithDefaults(); err != nil {
			return nil, err
		}
	}
	n, err := newNetwork(spec)
	if err != nil {
		return nil, err
	}
	spec = n.Spec()
	if err := checkData(spec, theta, x); err != nil {
		return nil, err
	}
	setThreads(max(opts.Threads, 1))
	rows, _ := theta.Dims()
	all := make([]int, rows)
	for i := range all {
		all[i] = i
	}
	e := &Estimator{net: n, spec: spec, loss: loss, nets: map[int]*net[float32]{}, rng: rand.New(rand.NewPCG(opts.Seed, streamContrast-1))}
	e.m = models.Model{Spec: spec, Method: spec.MethodName()}
	e.m.ThetaMean, e.m.ThetaStd = fitZScore(theta, all)
	e.m.XMean, e.m.XStd = fitZScore(x, all)
	switch spec.Method {
	case models.MethodNLE:
		e.m.Loss = &models.Loss{Kind: models.LossNLL}
	case models.MethodNRE:
		e.m.Loss = &loss
	}
	if e.w, err = newWeights(n, models.InitParams(n, rand.NewPCG(opts.Seed, streamInit)), tensor.Float32); err != nil {
		return nil, err
	}
	return e, nil
}

// ErrNoGradient is returned by Adam.Step before any Loss.
var ErrNoGradient = errors.New("trainer: no gradient to step with (call Loss first)")

// Loss returns the per-row losses of a batch in raw units and keeps the
// gradient of their mean for the next optimizer step. input is what the
// network scores and condition what it is conditioned on: θ and x for NPE,
// x and θ for NLE (losses −log q), θ and x for NRE (losses −objective of
// each x paired with its own θ and θ of other rows, Options.Loss). BNRE's
// regulariser belongs to the batch, not to a row: the gradient includes it,
// the returned losses do not.
func (e *Estimator) Loss(input, condition *mat.Dense) ([]float64, error) {
	theta, x := input, condition
	if e.spec.Method == models.MethodNLE {
		theta, x = condition, input
	}
	if err := checkData(e.spec, theta, x); err != nil {
		return nil, err
	}
	rows, _ := theta.Dims()
	if e.spec.Method == models.MethodNRE && rows < e.loss.Columns() {
		return nil, fmt.Errorf("%w: %d rows, the %s loss pairs each x with %d θ of the batch", ErrData, rows, e.loss.Kind, e.loss.Columns())
	}
	n, ok := e.nets[rows]
	if !ok {
		var err error
		if n, err = newNet[float32](e.net, e.w, rows, true, e.loss); err != nil {
			return nil, err
		}
		e.nets[rows] = n
	}
	// The trainer's feed, on a state holding this batch alone.
	st := &state[float32]{spec: e.spec, opts: Options{Loss: e.loss},
		theta: standardized[float32](theta, e.m.ThetaMean, e.m.ThetaStd), x: standardized[float32](x, e.m.XMean, e.m.XStd)}
	all := make([]int, rows)
	for i := range all {
		all[i] = i
	}
	st.feed(n, all, all, e.rng)
	if err := n.run(); err != nil {
		return nil, err
	}
	jac := 0.0
	if e.spec.Method != models.MethodNRE {
		jac = e.m.LogJacobian()
	}
	out := make([]float64, rows)
	for i, v := range n.lp {
		out[i] = jac - float64(v)
	}
	e.grad = n.grad
	return out, nil
}

// AdamOptions configure an optimizer; zero values take sbi's defaults.
type AdamOptions struct {
	LearningRate float64 // default 5e-4
	ClipMaxNorm  float64 // global gradient-norm clip, default 5; negative disables
}

// Adam is PyTorch's Adam with sbi's gradient clipping over an Estimator's
// parameters.
type Adam struct {
	e *Estimator
	a *adam[float32]
}

// Adam returns an optimizer of e's parameters.
func (e *Estimator) Adam(o AdamOptions) *Adam {
	if o.LearningRate == 0 {
		o.LearningRate = 5e-4
	}
	if o.ClipMaxNorm == 0 {
		o.ClipMaxNorm = 5
	}
	return &Adam{e: e, a: newAdam[float32](len(e.w.flat.([]float32)), o.LearningRate, o.ClipMaxNorm)}
}

// Step updates the parameters with the gradient of the last Loss.
func (a *Adam) Step() error {
	if a.e.grad == nil {
		return ErrNoGradient
	}
	if norm := a.a.step(a.e.w.flat.([]float32), a.e.grad); math.IsNaN(norm) || math.IsInf(norm, 0) {
		return fmt.Errorf("%w: gradient norm %v", ErrDiverged, norm)
	}
	a.e.grad = nil
	return nil
}

// Model is a snapshot of the network as a trained model, for export.Write
// (then runtime and the posteriors) or models/eager. The caller fills its
// names, prior and summary.
func (e *Estimator) Model() *models.Model {
	m := e.m
	m.Weights = make(map[string][]float32, len(e.w.specs))
	flat, off := e.w.flat.([]float32), 0
	for _, p := range e.w.specs {
		m.Weights[p.Name] = append([]float32(nil), flat[off:off+p.Size()]...)
		off += p.Size()
	}
	return &m
}

// Sample draws n values of a density estimator's variable (θ for NPE, x
// for NLE) given one raw condition, in float64 with models/eager.
func (e *Estimator) Sample(condition []float64, n int, src rand.Source) (*mat.Dense, error) {
	if e.spec.Method == models.MethodNRE {
		return nil, fmt.Errorf("%w: a classifier draws no samples", models.ErrMethod)
	}
	if len(condition) != e.spec.CondDim() || n < 1 || n > 10_000_000 {
		return nil, fmt.Errorf("%w: %d condition values (want %d) and %d draws", ErrData, len(condition), e.spec.CondDim(), n)
	}
	o, est, err := eager.FromModel(e.Model())
	if err != nil {
		return nil, err
	}
	nn, nu := est.Noise()
	rng := rand.New(src)
	noise, cond := mat.NewDense(n, nn+nu, nil), mat.NewDense(n, len(condition), nil)
	for i := range n {
		for j := range nn + nu {
			if j < nn {
				noise.Set(i, j, rng.NormFloat64())
			} else {
				noise.Set(i, j, rng.Float64())
			}
		}
		cond.SetRow(i, condition)
	}
	s, _ := e.m.Sample(o, est, noise, cond)
	return eager.Dense(s), nil
}
