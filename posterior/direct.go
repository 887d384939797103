// Package posterior turns a loaded estimator into a posterior p(θ | x):
// amortized sampling restricted to the prior's support, log-probabilities
// with optional leakage correction, and MAP estimates.
//
// A Direct posterior is safe for concurrent use: it shares the runtime
// model (itself goroutine-safe) and keeps only mutex-guarded state.
package posterior

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/runtime"
	"gonum.org/v1/gonum/mat"
)

// Errors of the posterior.
var (
	ErrLowAcceptance = errors.New("posterior: too few samples fall inside the prior support")
	ErrInput         = errors.New("posterior: bad input")
	// ErrNoPrior is returned for a model file without a prior when the
	// options give none either.
	ErrNoPrior = errors.New("posterior: the model file has no prior")
)

// Direct samples the estimator q(θ|x) and rejects draws outside the prior
// support, as sbi's DirectPosterior does, with explicit bounds instead of
// an endless loop when almost nothing is accepted. Its sampling is the
// rejection engine a Sampler shares among concurrent callers, run in the
// caller's goroutine: both give the same Samples for the same source.
type Direct struct {
	eng  *engine
	opts DirectOptions

	mu      sync.Mutex
	leakage map[string]float64 // log accepted mass per x
}

// DirectOptions bound the rejection loop. Zero values take the defaults.
// A deadline or cancellation comes with the context of each call.
type DirectOptions struct {
	// Prior overrides the prior stored in the model file.
	Prior prior.Prior
	// MinAcceptance: once an observation has had MinProposals draws, an
	// acceptance rate below this is an error (default 1e-4).
	MinAcceptance float64
	// MinProposals before the acceptance rate is judged (default 10,000).
	MinProposals int
	// MaxBatch bounds the draws per round of runtime calls (default
	// 100,000).
	MaxBatch int
	// LeakageDraws estimate the accepted mass for NormalizedLogProb
	// (default 10,000).
	LeakageDraws int
}

// NewDirect returns the direct posterior of a loaded model.
func NewDirect(m *runtime.Model, opts DirectOptions) (*Direct, error) {
	if opts.MaxBatch < 0 || opts.LeakageDraws < 0 {
		return nil, fmt.Errorf("%w: MaxBatch %d and LeakageDraws %d: want 0 (the default) or more", ErrInput, opts.MaxBatch, opts.LeakageDraws)
	}
	if opts.MaxBatch == 0 {
		opts.MaxBatch = 100_000
	}
	if opts.LeakageDraws == 0 {
		opts.LeakageDraws = 10_000
	}
	eng, err := newEngine(m, opts.Prior, opts.MinAcceptance, opts.MinProposals, opts.MaxBatch)
	if err != nil {
		return nil, err
	}
	opts.MaxBatch = eng.maxDraws
	return &Direct{eng: eng, opts: opts, leakage: map[string]float64{}}, nil
}

// Sample draws n samples from p(θ | x) with noise from the first stream
// split from src.
func (d *Direct) Sample(ctx context.Context, x []float64, n int, src rand.Source) (*Samples, error) {
	return sampleOne(ctx, d.SampleBatched, x, n, src)
}

// sampleOne is Sample through batched, with x as a one-row matrix.
func sampleOne(ctx context.Context, batched func(context.Context, *mat.Dense, int, rand.Source) ([]*Samples, error),
	x []float64, n int, src rand.Source) (*Samples, error) {
	xs, err := row(x)
	if err != nil {
		return nil, err
	}
	out, err := batched(ctx, xs, n, src)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// SampleBatched draws n samples for each row of xs, row i from the i-th
// stream split from src, so that its samples do not depend on the other
// rows. Each round serves all observations still short of n draws in
// shared runtime calls; the first round in which an observation fails
// ends the call with the error of the first that failed.
func (d *Direct) SampleBatched(ctx context.Context, xs *mat.Dense, n int, src rand.Source) ([]*Samples, error) {
	streams, err := d.eng.streams(ctx, xs, n, src)
	if err != nil {
		return nil, err
	}
	var b batch
	for active := slices.Clone(streams); len(active) > 0; {
		active = d.eng.round(active, &b)
		for _, st := range streams {
			if st.err != nil {
				return nil, st.err
			}
		}
	}
	out := make([]*Samples, len(streams))
	for i, st := range streams {
		out[i] = d.eng.result(st, xs.RawRowView(i))
	}
	return out, nil
}

// LogProb returns log q(θ|x) for each row of theta inside the prior
// support and −Inf outside: the estimator's density, not renormalized over
// the support (sbi's log_prob with norm_posterior=False). ctx is checked
// before the runtime call.
func (d *Direct) LogProb(ctx context.Context, theta *mat.Dense, x []float64) ([]float64, error) {
	m := d.eng.model
	n, dim := theta.Dims()
	if dim != m.ThetaDim() {
		return nil, fmt.Errorf("%w: θ has dimension %d, the model expects %d", ErrInput, dim, m.ThetaDim())
	}
	xs, err := row(x)
	if err != nil {
		return nil, err
	}
	if err := checkX(m, xs); err != nil {
		return nil, err
	}
	t32 := make([]float32, 0, n*dim)
	for i := range n {
		for j, v := range theta.RawRowView(i) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%w: θ[%d][%d] is %v", ErrInput, i, j, v)
			}
			t32 = append(t32, float32(v))
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	lp, err := m.LogProb(f32(x), 1, t32, n)
	if err != nil {
		return nil, err
	}
	out := make([]float64, n)
	for i := range n {
		if !d.eng.prior.InSupport(theta.RawRowView(i)) {
			out[i] = math.Inf(-1)
			continue
		}
		out[i] = float64(lp[i])
	}
	return out, nil
}

// NormalizedLogProb is LogProb less the log of the estimator's mass inside
// the support, estimated once per x from LeakageDraws draws from src and
// cached, so that the density integrates to one over the support: sbi's
// leakage correction (norm_posterior=True). ctx is checked before each
// runtime call.
func (d *Direct) NormalizedLogProb(ctx context.Context, theta *mat.Dense, x []float64, src rand.Source) ([]float64, error) {
	lp, err := d.LogProb(ctx, theta, x)
	if err != nil {
		return nil, err
	}
	shift, err := d.logMass(ctx, x, src)
	if err != nil {
		return nil, err
	}
	for i := range lp {
		lp[i] -= shift // −Inf stays −Inf
	}
	return lp, nil
}

// maxCached bounds the observations whose accepted mass is remembered.
const maxCached = 4096

// logMass is log P_q(θ ∈ support | x), cached per x.
func (d *Direct) logMass(ctx context.Context, x []float64, src rand.Source) (float64, error) {
	key := keyOf(x)
	d.mu.Lock()
	v, ok := d.leakage[key]
	d.mu.Unlock()
	if ok {
		return v, nil
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := d.opts.LeakageDraws
	dim := d.eng.model.ThetaDim()
	theta := make([]float64, dim)
	in := 0
	// In calls of at most MaxBatch draws: one source, so the same draws.
	for done := 0; done < n; {
		k := min(n-done, d.opts.MaxBatch)
		draws, _, err := d.eng.model.Sample(f32(x), 1, k, src)
		if err != nil {
			return 0, err
		}
		for s := range k {
			for j := range dim {
				theta[j] = float64(draws[s*dim+j])
			}
			if d.eng.prior.InSupport(theta) {
				in++
			}
		}
		done += k
	}
	if in == 0 {
		return 0, fmt.Errorf("%w: none of %d draws for this x is inside the prior support", ErrLowAcceptance, n)
	}
	v = math.Log(float64(in) / float64(n))
	d.mu.Lock()
	// A service scoring ever new observations must not grow without bound;
	// forgetting everything at once is simple and costs one re-estimate.
	if len(d.leakage) >= maxCached {
		clear(d.leakage)
	}
	d.leakage[key] = v
	d.mu.Unlock()
	return v, nil
}

// row is x as a one-row matrix (mat panics on an empty one).
func row(x []float64) (*mat.Dense, error) {
	if len(x) == 0 {
		return nil, fmt.Errorf("%w: empty x", ErrInput)
	}
	return mat.NewDense(1, len(x), slices.Clone(x)), nil
}

func keyOf(x []float64) string {
	var b strings.Builder
	for _, v := range x {
		b.WriteString(strconv.FormatUint(math.Float64bits(v), 16))
		b.WriteByte(',')
	}
	return b.String()
}

func f32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}
