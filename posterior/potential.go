package posterior

import (
	"context"
	"fmt"
	"math"

	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/runtime"
)

// A Potential is an unnormalised log posterior density, log p(θ) + log
// p(x_o | θ) up to a constant in θ (sbi's potential function), evaluated
// for many MCMC chains in one call. It is the seam between the samplers and
// what they sample: a neural likelihood, ratio or posterior estimator
// (NewLikelihoodPotential, NewRatioPotential, NewPosteriorPotential), or an
// analytic density written by hand (PotentialFunc).
type Potential interface {
	// ThetaDim is the dimension of θ.
	ThetaDim() int
	// XDim is the number of values of one observation (one trial of an iid
	// set for a likelihood or ratio potential); 0 when the potential takes
	// no observation.
	XDim() int
	// LogPotential sets dst[i] to the potential of row i of theta
	// (len(dst) × ThetaDim, row-major) given the observation xs[obs[i]]:
	// −Inf where θ lies outside the prior support, never NaN. A bad
	// observation is an error wrapping ErrInput.
	LogPotential(ctx context.Context, dst, theta []float64, xs [][]float64, obs []int) error
}

// PotentialFunc is a Potential that evaluates one θ at a time, for
// analytic densities written by hand: F(θ, x) is the log potential of θ
// given the observation x (nil when XLen is 0).
type PotentialFunc struct {
	Dim  int
	XLen int
	F    func(theta, x []float64) float64
}

// ThetaDim returns Dim.
func (p PotentialFunc) ThetaDim() int { return p.Dim }

// XDim returns XLen.
func (p PotentialFunc) XDim() int { return p.XLen }

// LogPotential calls F once per row; a NaN becomes −Inf.
func (p PotentialFunc) LogPotential(ctx context.Context, dst, theta []float64, xs [][]float64, obs []int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for i := range dst {
		var x []float64
		if len(xs) > 0 {
			x = xs[obs[i]]
		}
		v := p.F(theta[i*p.Dim:(i+1)*p.Dim], x)
		if math.IsNaN(v) {
			v = math.Inf(-1)
		}
		dst[i] = v
	}
	return nil
}

// LikelihoodEstimator is a neural likelihood q(x | θ) (NLE): log q for b
// parameter vectors θ (b × ThetaDim) and n iid observations each (x: b × n
// × XDim), returning b × n values. *runtime.Model of method "nle" is one.
type LikelihoodEstimator interface {
	ThetaDim() int
	XDim() int
	LogLikelihood(theta []float32, b int, x []float32, n int) ([]float32, error)
}

// RatioEstimator is a neural ratio r(θ, x) (NRE): log r for b observations
// x (b × XDim) and n parameter vectors each (theta: b × n × ThetaDim),
// returning b × n values. *runtime.Model of method "nre" is one.
type RatioEstimator interface {
	ThetaDim() int
	XDim() int
	LogRatio(x []float32, b int, theta []float32, n int) ([]float32, error)
}

// PosteriorEstimator is a neural posterior q(θ | x) (NPE): log q for
// nTheta parameter vectors per observation. *runtime.Model is one.
type PosteriorEstimator interface {
	ThetaDim() int
	XDim() int
	LogProb(x []float32, b int, theta []float32, nTheta int) ([]float32, error)
}

// A loaded model file is each estimator; which of them answers depends on
// the file's method.
var (
	_ LikelihoodEstimator = (*runtime.Model)(nil)
	_ RatioEstimator      = (*runtime.Model)(nil)
	_ PosteriorEstimator  = (*runtime.Model)(nil)
)

// modelPotential holds what the three estimator potentials share: the
// prior, the dimensions and the float32 buffers of one call.
type modelPotential struct {
	prior     prior.Prior
	dim, xDim int
	iid       bool // an observation may hold several trials
}

func newModelPotential(p prior.Prior, dim, xDim int, iid bool) (modelPotential, error) {
	if p == nil {
		return modelPotential{}, fmt.Errorf("%w: no prior; the potential needs one", ErrInput)
	}
	if p.Dim() != dim {
		return modelPotential{}, fmt.Errorf("%w: prior dimension %d, model θ dimension %d", ErrInput, p.Dim(), dim)
	}
	return modelPotential{prior: p, dim: dim, xDim: xDim, iid: iid}, nil
}

func (m modelPotential) ThetaDim() int { return m.dim }
func (m modelPotential) XDim() int     { return m.xDim }

// trials checks the observations of a call and returns the trials each
// holds: 1, or for an iid potential the same count for all.
func (m modelPotential) trials(xs [][]float64) (int, error) {
	if len(xs) == 0 {
		return 0, fmt.Errorf("%w: no observation", ErrInput)
	}
	n := len(xs[0]) / m.xDim
	for i, x := range xs {
		switch {
		case !m.iid && len(x) != m.xDim:
			return 0, fmt.Errorf("%w: x has %d values, the model expects %d", ErrInput, len(x), m.xDim)
		case len(x) == 0 || len(x)%m.xDim != 0:
			return 0, fmt.Errorf("%w: x has %d values, not a multiple of the model's x dimension %d", ErrInput, len(x), m.xDim)
		case len(x)/m.xDim != n:
			return 0, fmt.Errorf("%w: observation %d has %d iid trials, observation 0 has %d; sample them in separate calls", ErrInput, i, len(x)/m.xDim, n)
		}
	}
	return n, nil
}

// pack converts the rows of theta to float32 for a runtime call, padded
// to a multiple of runtime.Lanes rows so that a row's value does not depend
// on the rows around it. Rows outside the prior support, or beyond
// float32, are not the model's to judge: they are replaced by the first
// good row (or zeros) and reported in inside as false.
func (m modelPotential) pack(theta []float64, rows int) (t32 []float32, inside []bool, padded int) {
	padded = roundUp(rows, runtime.Lanes)
	t32 = make([]float32, padded*m.dim)
	inside = make([]bool, rows)
	good := -1
	for i := range rows {
		r := theta[i*m.dim : (i+1)*m.dim]
		inside[i] = m.prior.InSupport(r) && fitsFloat32(r)
		if inside[i] && good < 0 {
			good = i
		}
	}
	for i := range padded {
		src := min(i, rows-1)
		if src < 0 || !inside[src] {
			src = good
		}
		for j := range m.dim {
			v := float32(0)
			if src >= 0 {
				v = float32(theta[src*m.dim+j])
			}
			t32[i*m.dim+j] = v
		}
	}
	return t32, inside, padded
}

func fitsFloat32(r []float64) bool {
	for _, v := range r {
		if math.Abs(v) > math.MaxFloat32 {
			return false
		}
	}
	return true
}

// xRows appends, for each of the padded rows, the observation of its
// chain as float32 (the last chain's for padding rows).
func xRows(dst []float32, xs [][]float64, obs []int, padded int) []float32 {
	dst = dst[:0]
	for i := range padded {
		for _, v := range xs[obs[min(i, len(obs)-1)]] {
			dst = append(dst, float32(v))
		}
	}
	return dst
}

// LikelihoodPotential is log p(θ) + Σ_j log q(x_j | θ) over the iid trials
// x_j of an observation (NLE), all chains and trials in one runtime call.
type LikelihoodPotential struct {
	modelPotential
	model LikelihoodEstimator
}

// NewLikelihoodPotential returns the potential of a likelihood estimator
// under prior p. An observation passed to it holds one or more iid trials
// of XDim values each, concatenated.
func NewLikelihoodPotential(m LikelihoodEstimator, p prior.Prior) (*LikelihoodPotential, error) {
	mp, err := newModelPotential(p, m.ThetaDim(), m.XDim(), true)
	if err != nil {
		return nil, err
	}
	return &LikelihoodPotential{mp, m}, nil
}

// LogPotential implements Potential.
func (l *LikelihoodPotential) LogPotential(ctx context.Context, dst, theta []float64, xs [][]float64, obs []int) error {
	n, err := l.trials(xs)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t32, inside, padded := l.pack(theta, len(dst))
	x32 := xRows(make([]float32, 0, padded*n*l.xDim), xs, obs, padded)
	lq, err := l.model.LogLikelihood(t32, padded, x32, n)
	if err != nil {
		return fmt.Errorf("posterior: likelihood: %w", err)
	}
	for i := range dst {
		if !inside[i] {
			dst[i] = math.Inf(-1)
			continue
		}
		s := l.prior.LogProb(theta[i*l.dim : (i+1)*l.dim])
		for _, v := range lq[i*n : (i+1)*n] {
			s += float64(v)
		}
		dst[i] = finiteOrNegInf(s)
	}
	return nil
}

// RatioPotential is log p(θ) + Σ_j log r(θ, x_j) over the iid trials x_j of
// an observation (NRE), all chains and trials in one runtime call.
type RatioPotential struct {
	modelPotential
	model RatioEstimator
}

// NewRatioPotential returns the potential of a ratio estimator under
// prior p. An observation holds one or more iid trials, concatenated.
func NewRatioPotential(m RatioEstimator, p prior.Prior) (*RatioPotential, error) {
	mp, err := newModelPotential(p, m.ThetaDim(), m.XDim(), true)
	if err != nil {
		return nil, err
	}
	return &RatioPotential{mp, m}, nil
}

// LogPotential implements Potential.
func (r *RatioPotential) LogPotential(ctx context.Context, dst, theta []float64, xs [][]float64, obs []int) error {
	n, err := r.trials(xs)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t32, inside, padded := r.pack(theta, len(dst))
	// One (x_j, θ) pair per "observation" of the call: trial j of row i is
	// call row i·n + j, with one θ each.
	xd := r.xDim
	x32 := make([]float32, 0, padded*n*xd)
	th := make([]float32, 0, padded*n*r.dim)
	for i := range padded {
		x := xs[obs[min(i, len(obs)-1)]]
		for j := range n {
			for _, v := range x[j*xd : (j+1)*xd] {
				x32 = append(x32, float32(v))
			}
			th = append(th, t32[i*r.dim:(i+1)*r.dim]...)
		}
	}
	lr, err := r.model.LogRatio(x32, padded*n, th, 1)
	if err != nil {
		return fmt.Errorf("posterior: ratio: %w", err)
	}
	for i := range dst {
		if !inside[i] {
			dst[i] = math.Inf(-1)
			continue
		}
		s := r.prior.LogProb(theta[i*r.dim : (i+1)*r.dim])
		for _, v := range lr[i*n : (i+1)*n] {
			s += float64(v)
		}
		dst[i] = finiteOrNegInf(s)
	}
	return nil
}

// PosteriorPotential is log q(θ | x_o) inside the prior support and −Inf
// outside (NPE sampled by MCMC, sbi's sample_with="mcmc"): for posteriors
// whose mass lies so much outside the support that rejection is hopeless.
type PosteriorPotential struct {
	modelPotential
	model PosteriorEstimator
}

// NewPosteriorPotential returns the potential of a posterior estimator
// restricted to the support of p.
func NewPosteriorPotential(m PosteriorEstimator, p prior.Prior) (*PosteriorPotential, error) {
	mp, err := newModelPotential(p, m.ThetaDim(), m.XDim(), false)
	if err != nil {
		return nil, err
	}
	return &PosteriorPotential{mp, m}, nil
}

// LogPotential implements Potential.
func (q *PosteriorPotential) LogPotential(ctx context.Context, dst, theta []float64, xs [][]float64, obs []int) error {
	if _, err := q.trials(xs); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t32, inside, padded := q.pack(theta, len(dst))
	x32 := xRows(make([]float32, 0, padded*q.xDim), xs, obs, padded)
	lp, err := q.model.LogProb(x32, padded, t32, 1)
	if err != nil {
		return fmt.Errorf("posterior: log-prob: %w", err)
	}
	for i := range dst {
		if !inside[i] {
			dst[i] = math.Inf(-1)
			continue
		}
		dst[i] = finiteOrNegInf(float64(lp[i]))
	}
	return nil
}

// finiteOrNegInf maps NaN and +Inf, which no density should give, to −Inf
// so that a sampler never moves there.
func finiteOrNegInf(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 1) {
		return math.Inf(-1)
	}
	return v
}
