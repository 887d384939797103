// Package posterior turns a loaded estimator into a posterior p(θ | x):
// amortized sampling restricted to the prior's support, log-probabilities
// with optional leakage correction, and MAP estimates.
//
// A Direct posterior is safe for concurrent use: it shares the runtime
// model (itself goroutine-safe) and keeps only a mutex-guarded cache.
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
	"time"

	"github.com/amortize/amortize/format"
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
// an endless loop when almost nothing is accepted.
type Direct struct {
	model *runtime.Model
	prior prior.Prior
	opts  DirectOptions

	mu      sync.Mutex
	leakage map[string]float64 // log accepted mass per x
}

// DirectOptions bound the rejection loop. Zero values take the defaults.
type DirectOptions struct {
	// Prior overrides the prior stored in the model file.
	Prior prior.Prior
	// MinAcceptance: after MinProposals draws for an observation, an
	// acceptance rate below this is an error (default 1e-4).
	MinAcceptance float64
	// MinProposals before the acceptance rate is judged (default 10,000).
	MinProposals int
	// Timeout bounds one Sample call (default: none beyond ctx).
	Timeout time.Duration
	// MaxBatch bounds the draws per runtime call (default 100,000).
	MaxBatch int
	// LeakageDraws estimate the accepted mass for log-prob correction
	// (default 10,000).
	LeakageDraws int
}

func (o *DirectOptions) defaults() {
	if o.MinAcceptance == 0 {
		o.MinAcceptance = 1e-4
	}
	if o.MinProposals == 0 {
		o.MinProposals = 10_000
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = 100_000
	}
	if o.LeakageDraws == 0 {
		o.LeakageDraws = 10_000
	}
}

// NewDirect returns the direct posterior of a loaded model.
func NewDirect(m *runtime.Model, opts DirectOptions) (*Direct, error) {
	if m.Method() != format.MethodNPE {
		return nil, fmt.Errorf("%w: a direct posterior needs an npe model, this one is %s (sample it by MCMC)", ErrInput, m.Method())
	}
	opts.defaults()
	p := opts.Prior
	if p == nil {
		p = m.Prior()
	}
	if p == nil {
		return nil, ErrNoPrior
	}
	if p.Dim() != m.ThetaDim() {
		return nil, fmt.Errorf("%w: prior dimension %d, model θ dimension %d", ErrInput, p.Dim(), m.ThetaDim())
	}
	opts.MaxBatch = callDraws(m, opts.MaxBatch)
	return &Direct{model: m, prior: p, opts: opts, leakage: map[string]float64{}}, nil
}

// MaxSampleValues bounds the θ values one sampling call returns, samples
// × observations × θ dimension (1 GiB of float64): a larger request is an
// ErrInput before anything is allocated for it.
const MaxSampleValues = 1 << 27

func checkCount(n, rows, d int) error {
	switch {
	case n < 1:
		return fmt.Errorf("%w: %d samples requested", ErrInput, n)
	case n > MaxSampleValues/d/rows:
		return fmt.Errorf("%w: %d samples for %d observations of θ dimension %d exceed the limit of %d values",
			ErrInput, n, rows, d, MaxSampleValues)
	}
	return nil
}

// maxCallValues bounds the noise values, and the θ values, of one runtime
// call: a model of many noise or θ columns gets fewer draws per call,
// rather than buffers its file's dimensions size (64 MiB each at most).
const maxCallValues = 1 << 24

// callDraws caps draws, the draws of one runtime call, at maxCallValues
// for m, keeping a whole multiple of runtime.Lanes when it cuts.
func callDraws(m *runtime.Model, draws int) int {
	return capDraws(draws, max(m.Metadata().Noise.Dim(), m.ThetaDim()))
}

func capDraws(draws, cols int) int {
	return min(draws, max(maxCallValues/cols/runtime.Lanes*runtime.Lanes, runtime.Lanes))
}

// Samples are the accepted draws for one observation.
type Samples struct {
	Theta      *mat.Dense // n × θ dim
	Proposed   int        // draws made, inside the support or not
	Inside     int        // draws inside the support (may exceed n)
	Acceptance float64    // Inside / Proposed
	// Extrapolating lists the x dimensions more than 5 training standard
	// deviations from the training mean: the estimate there is an
	// extrapolation, not a fit.
	Extrapolating []int
	// Convergence, for MCMC only, holds R-hat, ESS and the sampler's
	// figures; Proposed and Inside then count the moves proposed and
	// accepted, and Acceptance is their ratio.
	Convergence *Convergence
}

// Sample draws n samples from p(θ | x) with noise from src.
func (d *Direct) Sample(ctx context.Context, x []float64, n int, src rand.Source) (*Samples, error) {
	xs, err := row(x)
	if err != nil {
		return nil, err
	}
	out, err := d.SampleBatched(ctx, xs, n, src)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// SampleBatched draws n samples for each row of xs, serving all
// observations that still need draws in each runtime call.
func (d *Direct) SampleBatched(ctx context.Context, xs *mat.Dense, n int, src rand.Source) ([]*Samples, error) {
	if err := d.checkX(xs); err != nil {
		return nil, err
	}
	if err := checkCount(n, xs.RawMatrix().Rows, d.model.ThetaDim()); err != nil {
		return nil, err
	}
	if d.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.opts.Timeout)
		defer cancel()
	}
	b, _ := xs.Dims()
	dim := d.model.ThetaDim()
	res := make([]*Samples, b)
	accepted := make([][]float64, b)
	for i := range res {
		res[i] = &Samples{Extrapolating: d.extrapolating(xs.RawRowView(i))}
		accepted[i] = make([]float64, 0, n*dim)
	}
	var (
		noise, x32 []float32
		out        runtime.Output
		todo       []int
	)
	theta := make([]float64, dim)
	for {
		// Observations still short of n draws, and how many to propose
		// for each: the shortfall over the acceptance seen so far.
		todo = todo[:0]
		per := 0
		for i := range b {
			short := n - len(accepted[i])/dim
			if short <= 0 {
				continue
			}
			if err := d.judge(res[i], i); err != nil {
				return nil, err
			}
			// (inside+1)/(proposed+1): the rate seen, but after a round
			// with nothing accepted it assumes one more would have been,
			// so proposals grow geometrically instead of jumping to what
			// MinAcceptance would need.
			acc := math.Max(float64(res[i].Inside+1)/float64(res[i].Proposed+1), d.opts.MinAcceptance)
			todo = append(todo, i)
			per = max(per, int(math.Ceil(1.1*float64(short)/acc)))
		}
		if len(todo) == 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("posterior: sampling stopped: %w", err)
		}
		// Whole multiples of runtime.Lanes, so that each draw is the
		// Sampler's bit for bit, unless MaxBatch forbids.
		lanes := runtime.Lanes
		per = min(roundUp(per, lanes), max(d.opts.MaxBatch/len(todo)/lanes*lanes, 1))
		x32 = x32[:0]
		for _, i := range todo {
			for _, v := range xs.RawRowView(i) {
				x32 = append(x32, float32(v))
			}
		}
		noise = d.model.Noise(noise, len(todo)*per, src)
		if _, err := d.model.Run(x32, len(todo), nil, 0, noise, per, &out); err != nil {
			return nil, err
		}
		for k, i := range todo {
			res[i].Proposed += per
			for s := range per {
				row := out.Sample[(k*per+s)*dim : (k*per+s+1)*dim]
				for j, v := range row {
					theta[j] = float64(v)
				}
				if !d.prior.InSupport(theta) {
					continue
				}
				// Draws past the n-th still count towards the acceptance
				// rate, so that it is an unbiased estimate.
				res[i].Inside++
				if len(accepted[i]) < n*dim {
					accepted[i] = append(accepted[i], theta...)
				}
			}
		}
	}
	for i := range res {
		res[i].Theta = mat.NewDense(n, dim, accepted[i])
		res[i].Acceptance = float64(res[i].Inside) / float64(res[i].Proposed)
	}
	return res, nil
}

// judge fails when an observation's acceptance is hopeless, instead of
// looping for ever as sbi users meet (sbi issues #1699, #1292).
func (d *Direct) judge(s *Samples, i int) error {
	if s.Proposed < d.opts.MinProposals {
		return nil
	}
	if acc := float64(s.Inside) / float64(s.Proposed); acc < d.opts.MinAcceptance {
		return fmt.Errorf("%w: observation %d accepted %d of %d draws (rate %.2g < %.2g); the observation may be outside what the prior can produce",
			ErrLowAcceptance, i, s.Inside, s.Proposed, acc, d.opts.MinAcceptance)
	}
	return nil
}

func (d *Direct) checkX(xs *mat.Dense) error {
	if xs == nil || xs.IsEmpty() {
		return fmt.Errorf("%w: no observations", ErrInput)
	}
	b, xd := xs.Dims()
	if xd != d.model.XDim() {
		return fmt.Errorf("%w: x has dimension %d, the model expects %d", ErrInput, xd, d.model.XDim())
	}
	for i := range b {
		for j, v := range xs.RawRowView(i) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%w: x[%d][%d] is %v", ErrInput, i, j, v)
			}
		}
	}
	return nil
}

func (d *Direct) extrapolating(x []float64) []int {
	z := d.model.Metadata().ZScore
	var out []int
	for j, v := range x {
		if math.Abs(v-z.XMean[j])/z.XStd[j] > 5 {
			out = append(out, j)
		}
	}
	return out
}

// LogProb returns log p(θ|x) for each row of theta: the estimator's
// log-density inside the prior support and −Inf outside. With correct set it
// subtracts the log of the estimator's mass inside the support (estimated
// once per x from LeakageDraws draws and cached), so the density
// integrates to one over the support as sbi's leakage correction does.
// ctx is checked before each runtime call.
func (d *Direct) LogProb(ctx context.Context, theta *mat.Dense, x []float64, correct bool, src rand.Source) ([]float64, error) {
	n, dim := theta.Dims()
	if dim != d.model.ThetaDim() {
		return nil, fmt.Errorf("%w: θ has dimension %d, the model expects %d", ErrInput, dim, d.model.ThetaDim())
	}
	xs, err := row(x)
	if err != nil {
		return nil, err
	}
	if err := d.checkX(xs); err != nil {
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
	lp, err := d.model.LogProb(f32(x), 1, t32, n)
	if err != nil {
		return nil, err
	}
	shift := 0.0
	if correct {
		if shift, err = d.logMass(ctx, x, src); err != nil {
			return nil, err
		}
	}
	out := make([]float64, n)
	for i := range n {
		if !d.prior.InSupport(theta.RawRowView(i)) {
			out[i] = math.Inf(-1)
			continue
		}
		out[i] = float64(lp[i]) - shift
	}
	return out, nil
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
	dim := d.model.ThetaDim()
	theta := make([]float64, dim)
	in := 0
	// In calls of at most MaxBatch draws: one source, so the same draws.
	for done := 0; done < n; {
		k := min(n-done, d.opts.MaxBatch)
		draws, _, err := d.model.Sample(f32(x), 1, k, src)
		if err != nil {
			return 0, err
		}
		for s := range k {
			for j := range dim {
				theta[j] = float64(draws[s*dim+j])
			}
			if d.prior.InSupport(theta) {
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
