package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/amortize/amortize/format"
)

// Each method's calls over Run: NPE's log-probabilities and samples, NLE's
// likelihoods and simulated x, NRE's log-ratios.

// is returns an error wrapping ErrInput unless the model is of method.
func (m *Model) is(method, call string) error {
	if m.meta.Method != method {
		return fmt.Errorf("%w: %s needs an %s model, this one is %s", ErrInput, call, method, m.meta.Method)
	}
	return nil
}

// LogProb returns log q(θ|x) of an NPE model for nTheta parameter vectors
// per observation.
func (m *Model) LogProb(x []float32, b int, theta []float32, nTheta int) ([]float32, error) {
	if err := m.is(format.MethodNPE, "LogProb"); err != nil {
		return nil, err
	}
	out, err := m.Run(x, b, theta, nTheta, nil, 0, nil)
	if err != nil {
		return nil, err
	}
	return out.LogProb, nil
}

// Sample draws n samples per observation of an NPE model with noise from
// src, returning θ (b×n×ThetaDim) and log q(θ|x) (b×n).
func (m *Model) Sample(x []float32, b, n int, src rand.Source) (theta, logProb []float32, err error) {
	if err := m.is(format.MethodNPE, "Sample"); err != nil {
		return nil, nil, err
	}
	return m.sample(x, b, n, src)
}

func (m *Model) sample(x []float32, b, n int, src rand.Source) (theta, logProb []float32, err error) {
	if b < 1 || n < 0 || (n > 0 && b > math.MaxInt32/n/max(m.meta.Noise.Dim(), m.meta.ThetaDim, m.meta.XDim)) {
		return nil, nil, fmt.Errorf("%w: %d samples for %d observations", ErrInput, n, b)
	}
	noise := m.Noise(nil, b*n, src)
	out, err := m.Run(x, b, nil, 0, noise, n, nil)
	if err != nil {
		return nil, nil, err
	}
	return out.Sample, out.SampleLogProb, nil
}

// Noise fills dst (allocated when too small) with the noise of `draws`
// samples: standard normals then uniforms per draw, as the contract lays
// out. A nil src means math/rand/v2's global generator; draws < 0 count as 0.
func (m *Model) Noise(dst []float32, draws int, src rand.Source) []float32 {
	nn, nu := m.meta.Noise.Normal, m.meta.Noise.Uniform
	dst = grow(dst, max(draws, 0)*(nn+nu))
	if src == nil {
		src = globalSource{}
	}
	rng := rand.New(src)
	for i := 0; i < len(dst); {
		for range nn {
			dst[i] = float32(rng.NormFloat64())
			i++
		}
		for range nu {
			dst[i] = float32(rng.Float64())
			i++
		}
	}
	return dst
}

// globalSource draws from math/rand/v2's goroutine-safe global generator.
type globalSource struct{}

func (globalSource) Uint64() uint64 { return rand.Uint64() }

// LogLikelihood returns log q(x | θ) of an NLE model for b parameter
// vectors θ (b×ThetaDim) and n observations per θ (x: b×n×XDim), b×n
// values in one evaluation: the log-likelihood of n iid trials of one θ is
// the sum of its row (LogLikelihoodIID sums it).
func (m *Model) LogLikelihood(theta []float32, b int, x []float32, n int) ([]float32, error) {
	if err := m.is(format.MethodNLE, "LogLikelihood"); err != nil {
		return nil, err
	}
	out, err := m.Run(theta, b, x, n, nil, 0, nil)
	if err != nil {
		return nil, err
	}
	return out.LogProb, nil
}

// LogLikelihoodIID returns Σ_j log q(x_j | θ_i) of an NLE model for b
// parameter vectors θ (b×ThetaDim) and one set of n iid trials x (n×XDim)
// shared by all of them: one evaluation of b·n rows, summed in float64.
func (m *Model) LogLikelihoodIID(theta []float32, b int, x []float32, n int) ([]float64, error) {
	xd := m.meta.XDim
	if b < 1 || n < 1 || !holds(x, 1, n, xd) || b > math.MaxInt32/n/xd {
		return nil, fmt.Errorf("%w: %d trials (x has %d values, x_dim %d) for %d parameter vectors", ErrInput, n, len(x), xd, b)
	}
	rep := make([]float32, 0, b*n*xd)
	for range b {
		rep = append(rep, x...)
	}
	lp, err := m.LogLikelihood(theta, b, rep, n)
	if err != nil {
		return nil, err
	}
	sums := make([]float64, b)
	for i := range b {
		for _, v := range lp[i*n : (i+1)*n] {
			sums[i] += float64(v)
		}
	}
	return sums, nil
}

// SampleX draws n observations x ~ q(x | θ) per parameter vector of an NLE
// model (theta: b×ThetaDim) with noise from src, returning x (b×n×XDim) and
// log q(x|θ) (b×n): the model as a surrogate simulator.
func (m *Model) SampleX(theta []float32, b, n int, src rand.Source) (x, logProb []float32, err error) {
	if err := m.is(format.MethodNLE, "SampleX"); err != nil {
		return nil, nil, err
	}
	return m.sample(theta, b, n, src)
}

// LogRatio returns an NRE model's log r(θ, x) for b observations x
// (b×XDim) and n parameter vectors per observation (theta: b×n×ThetaDim):
// b×n logits, log p(x|θ) − log p(x) up to a constant of x for NRE-B/C.
func (m *Model) LogRatio(x []float32, b int, theta []float32, n int) ([]float32, error) {
	if err := m.is(format.MethodNRE, "LogRatio"); err != nil {
		return nil, err
	}
	out, err := m.Run(x, b, theta, n, nil, 0, nil)
	if err != nil {
		return nil, err
	}
	return out.LogProb, nil
}
