package tasks

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/benchmarks"
	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/simulator"
)

const (
	glmBins = 100 // time bins of the spike train
	glmLags = 9   // taps of the stimulus filter
	glmDim  = 1 + glmLags
)

// glmDesign is the 100×10 design matrix X: X[t,0] = 1 and X[t,k+1] = I[t-k]
// for t ≥ k, else 0.
var glmDesign = sync.OnceValues(func() (*mat.Dense, error) {
	// sbibm's fixed white-noise stimulus, numpy RandomState(42).randn(100)
	// cast to float32; always the compiled-in copy, whatever
	// $AMORTIZE_BENCHMARKS says.
	stim, err := readCSVFile(benchmarks.FS, "bernoulli_glm/stimulus.csv")
	if err != nil {
		return nil, fmt.Errorf("reading embedded stimulus: %w", err)
	}
	if r, c := stim.Dims(); r != glmBins || c != 2 {
		return nil, fmt.Errorf("%w: embedded stimulus is %d×%d, want %d×2", ErrShape, r, c, glmBins)
	}
	x := mat.NewDense(glmBins, glmDim, nil)
	for t := range glmBins {
		x.Set(t, 0, 1)
		for k := 0; k < glmLags && k <= t; k++ {
			x.Set(t, k+1, stim.At(t-k, 1))
		}
	}
	return x, nil
})

// glmPrecision is sbibm's prior precision: P[0,0] = 0.5 and the filter
// block FᵀF with F = D² + diag(√(j/9)), D the first-difference matrix. It
// penalises second differences (a smooth filter) plus a ridge growing with
// the lag.
func glmPrecision() *mat.SymDense {
	d := mat.NewDense(glmLags, glmLags, nil)
	for i := range glmLags {
		d.Set(i, i, 1)
		if i > 0 {
			d.Set(i, i-1, -1)
		}
	}
	var f mat.Dense
	f.Mul(d, d)
	for j := range glmLags {
		f.Set(j, j, f.At(j, j)+math.Sqrt(float64(j)/glmLags))
	}
	p := mat.NewSymDense(glmDim, nil)
	p.SetSym(0, 0, 0.5)
	var ftf mat.Dense
	ftf.Mul(f.T(), &f)
	for i := range glmLags {
		for j := i; j < glmLags; j++ {
			p.SetSym(i+1, j+1, ftf.At(i, j))
		}
	}
	return p
}

// bernoulliGLM is sbibm's bernoulli_glm with summary statistics x = Xᵀy
// (TASKS.md).
func bernoulliGLM() (*Task, error) {
	design, err := glmDesign()
	if err != nil {
		return nil, err
	}
	var chol mat.Cholesky
	if !chol.Factorize(glmPrecision()) {
		return nil, fmt.Errorf("prior precision is not positive definite")
	}
	var cov mat.SymDense
	if err := chol.InverseTo(&cov); err != nil {
		return nil, fmt.Errorf("inverting prior precision: %w", err)
	}
	p, err := prior.NewMultivariateNormal(make([]float64, glmDim), &cov)
	if err != nil {
		return nil, err
	}
	xd := design.RawMatrix().Data // contiguous: design was built by NewDense
	newKernel := func() simulator.Kernel {
		y := make([]float64, glmBins)
		return func(x, theta []float64, rnd *rand.Rand) {
			for t := range y {
				row := xd[t*glmDim : (t+1)*glmDim]
				var psi float64
				for j, v := range row {
					psi += v * theta[j]
				}
				y[t] = 0
				if rnd.Float64() < 1/(1+math.Exp(-psi)) {
					y[t] = 1
				}
			}
			glmSummary(x, y, xd)
		}
	}
	thetaNames := []string{"offset"}
	xNames := []string{"spike_count"}
	for k := range glmLags {
		thetaNames = append(thetaNames, fmt.Sprintf("filter_lag_%d", k))
		xNames = append(xNames, fmt.Sprintf("sta_lag_%d", k))
	}
	return &Task{
		Name:        "bernoulli_glm",
		Prior:       p,
		Simulator:   simulator.Rows(glmDim, glmDim, newKernel),
		ThetaNames:  thetaNames,
		XNames:      xNames,
		Description: "Bernoulli GLM (sbibm, summary statistics): a neuron spikes in 100 bins with probability logistic(offset + 9-tap filter · white-noise stimulus); x = Xᵀy is the spike count and the spike-triggered stimulus sums at lags 0..8. Prior N(0, P⁻¹) favours smooth filters.",
	}, nil
}

// glmSummary writes x = Xᵀy for a spike train y and the row-major design xd.
func glmSummary(x, y, xd []float64) {
	for j := range x {
		x[j] = 0
	}
	for t, yt := range y {
		if yt == 0 {
			continue
		}
		for j, v := range xd[t*glmDim : (t+1)*glmDim] {
			x[j] += yt * v
		}
	}
}
