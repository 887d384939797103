package diagnostics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	goruntime "runtime"
	"sync"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Sampler draws posterior samples for many observations in one call: the
// calibration checks (SBC, expected coverage, TARP, local C2ST, posterior
// predictive checks) need L draws for each of N observations, and an
// amortized posterior serves them all in a few batched runtime calls.
// posterior.Direct implements it; so can any posterior, MCMC included,
// that samples many observations at once.
type Sampler interface {
	// SampleEach returns n draws of θ (an n×θ-dim matrix) for each row of
	// xs, with randomness from src, the same for the same src.
	SampleEach(ctx context.Context, xs *mat.Dense, n int, src rand.Source) ([]*mat.Dense, error)
}

// LogDensity scores parameters under a posterior for many observations in
// one call. Expected coverage ranks θ by it.
type LogDensity interface {
	// LogDensityEach returns log p(θ | x) for the rows of theta[i] given
	// row i of xs, up to an additive constant per observation (an MCMC
	// posterior's potential, or an NPE's log-density without its leakage
	// correction), and −Inf outside the support.
	LogDensityEach(ctx context.Context, xs *mat.Dense, theta []*mat.Dense) ([][]float64, error)
}

// Posterior samples and scores: what ExpectedCoverage needs.
type Posterior interface {
	Sampler
	LogDensity
}

// SamplerFunc adapts a function to Sampler.
type SamplerFunc func(ctx context.Context, xs *mat.Dense, n int, src rand.Source) ([]*mat.Dense, error)

// SampleEach calls f.
func (f SamplerFunc) SampleEach(ctx context.Context, xs *mat.Dense, n int, src rand.Source) ([]*mat.Dense, error) {
	return f(ctx, xs, n, src)
}

// ErrMiscalibrated is wrapped by errors that callers raise on a failed
// check, as the CLI's --fail-on-miscalibration does.
var ErrMiscalibrated = errors.New("diagnostics: posterior miscalibrated")

// CheckOptions are the settings the calibration checks share. The zero
// value draws 1,000 posterior samples per observation and judges at the
// family-wise level 0.01.
type CheckOptions struct {
	// Draws is L, the posterior draws per observation; 0 means 1,000.
	Draws int
	// Seed drives the posterior draws, the tie-breaking jitter and the
	// reference points; 0 means 1.
	Seed uint64
	// Alpha is the family-wise level of the verdict: a check fails when
	// any of its p-values is below Alpha divided by the number of tests
	// (Bonferroni). 0 means 0.01.
	Alpha float64
	// Bins is the number of χ² bins over the ranks; 0 means
	// min(20, L+1, N/5), at least 2.
	Bins int
	// Chunk is the number of observations per sampler call; 0 means 100,
	// or fewer to keep one call's draws under about 16 million values.
	Chunk int
	// Workers is the number of sampler calls at once; 0 means GOMAXPROCS.
	// The results do not depend on it.
	Workers int
	// Progress, if not nil, is called after each sampler call with the
	// observations done and the total; calls are serialised.
	Progress func(done, total int)
}

const (
	defaultDraws = 1000
	defaultAlpha = 0.01
	defaultChunk = 100
	maxChunkVals = 1 << 24
	// maxDraws bounds L so that N·L counts stay far from overflow.
	maxDraws = 1 << 24

	// Streams of the PCG generator seeded by CheckOptions.Seed.
	jitterStream = 0x6a69747465720000 // tie-breaking (+ chunk) and rank jitter
	normStream   = 0x6e6f726d616c0001 // V in the normalised ranks (r+V)/(L+1)
	refStream    = 0x7461727072656601 // TARP reference points
	bandStream   = 0x62616e6473696d01 // ECDF band simulations
)

func (o CheckOptions) withDefaults() (CheckOptions, error) {
	switch {
	case o.Draws < 0 || o.Draws > maxDraws:
		return o, fmt.Errorf("%w: %d draws per observation (1 to %d)", ErrInvalidOption, o.Draws, maxDraws)
	case o.Alpha < 0 || o.Alpha >= 1 || math.IsNaN(o.Alpha):
		return o, fmt.Errorf("%w: level %v, want 0 < alpha < 1", ErrInvalidOption, o.Alpha)
	case o.Bins < 0 || o.Bins == 1:
		return o, fmt.Errorf("%w: %d bins, need at least 2", ErrInvalidOption, o.Bins)
	case o.Chunk < 0:
		return o, fmt.Errorf("%w: chunk of %d observations", ErrInvalidOption, o.Chunk)
	case o.Workers < 0:
		return o, fmt.Errorf("%w: %d workers", ErrInvalidOption, o.Workers)
	}
	if o.Draws == 0 {
		o.Draws = defaultDraws
	}
	if o.Seed == 0 {
		o.Seed = defaultSeed
	}
	if o.Alpha == 0 {
		o.Alpha = defaultAlpha
	}
	return o, nil
}

// prepare checks the (θ, x) pairs of a calibration check and completes its
// options.
func prepare(theta, xs *mat.Dense, opts CheckOptions) (n, dim int, o CheckOptions, err error) {
	if n, dim, err = pairs(theta, xs); err != nil {
		return 0, 0, opts, err
	}
	o, err = opts.withDefaults()
	return n, dim, o, err
}

// pairs checks a set of N (θ, x) pairs and returns N and the θ dimension.
func pairs(theta, xs *mat.Dense) (n, dim int, err error) {
	n, dim, err = sampleDims("θ", theta)
	if err != nil {
		return 0, 0, err
	}
	nx, _, err := sampleDims("x", xs)
	if err != nil {
		return 0, 0, err
	}
	if nx != n {
		return 0, 0, fmt.Errorf("%w: %d θ rows for %d x rows", ErrDimensionMismatch, n, nx)
	}
	return n, dim, nil
}

// eachDraws asks s for opts.Draws posterior draws of every row of xs, a
// chunk of observations per call, Workers calls at once, and hands each
// chunk to fn: the index of its first row, its rows of xs, their draws and
// a generator for tie-breaking. The draws of chunk c come from the stream
// (Seed, c) and its generator from (Seed, jitterStream+c), so results
// depend on Chunk but not on Workers or on timing; fn must touch only its
// chunk's rows of shared results.
func eachDraws(ctx context.Context, s Sampler, xs *mat.Dense, dim int, opts CheckOptions, fn func(lo int, xs *mat.Dense, draws []*mat.Dense, rnd *rand.Rand) error) error {
	n, xd := xs.Dims()
	chunk := opts.Chunk
	if chunk == 0 {
		chunk = max(1, min(defaultChunk, maxChunkVals/(opts.Draws*dim)))
	}
	chunks := (n + chunk - 1) / chunk
	workers := opts.Workers
	if workers == 0 {
		workers = goruntime.GOMAXPROCS(0)
	}
	errs := make([]error, chunks)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int
	)
	sem := make(chan struct{}, workers)
	for c := range chunks {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			lo, hi := c*chunk, min((c+1)*chunk, n)
			errs[c] = oneChunk(ctx, s, xs.Slice(lo, hi, 0, xd).(*mat.Dense), lo, dim, c, opts, fn)
			if errs[c] == nil && opts.Progress != nil {
				mu.Lock()
				done += hi - lo
				opts.Progress(done, n)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// oneChunk is eachDraws' work on chunk c, rows lo… of xs.
func oneChunk(ctx context.Context, s Sampler, sub *mat.Dense, lo, dim, c int, opts CheckOptions, fn func(int, *mat.Dense, []*mat.Dense, *rand.Rand) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("diagnostics: stopped: %w", err)
	}
	m, _ := sub.Dims()
	hi := lo + m
	draws, err := s.SampleEach(ctx, sub, opts.Draws, rand.NewPCG(opts.Seed, uint64(c)))
	if err != nil {
		return fmt.Errorf("diagnostics: posterior draws for observations %d–%d: %w", lo, hi-1, err)
	}
	if len(draws) != m {
		return fmt.Errorf("diagnostics: sampler returned %d sample sets for %d observations", len(draws), m)
	}
	for k, d := range draws {
		if d == nil {
			return fmt.Errorf("diagnostics: sampler returned no draws for observation %d", lo+k)
		}
		if r, cols := d.Dims(); r != opts.Draws || cols != dim {
			return fmt.Errorf("%w: sampler returned %d×%d draws for observation %d, want %d×%d", ErrDimensionMismatch, r, cols, lo+k, opts.Draws, dim)
		}
	}
	return fn(lo, sub, draws, rand.New(rand.NewPCG(opts.Seed, jitterStream+uint64(c))))
}

// rankOf returns the rank of v among vals, the number of vals below v,
// with ties broken uniformly at random: under calibration it is uniform on
// 0…len(vals) even for draws of limited precision. NaN is an error.
func rankOf(v float64, vals []float64, rnd *rand.Rand) (int, error) {
	if math.IsNaN(v) {
		return 0, fmt.Errorf("%w: NaN statistic", ErrNonFinite)
	}
	below, ties := 0, 0
	for _, w := range vals {
		switch {
		case math.IsNaN(w):
			return 0, fmt.Errorf("%w: NaN statistic of a posterior draw", ErrNonFinite)
		case w < v:
			below++
		case w == v:
			ties++
		}
	}
	if ties > 0 {
		below += rnd.IntN(ties + 1)
	}
	return below, nil
}

// Uniformity tests whether ranks r on 0…L are uniform, as they are for a
// calibrated posterior. The continuous tests use u = (r + V)/(L+1) with V
// uniform on [0, 1), exactly uniform on [0, 1) under calibration.
type Uniformity struct {
	KS       float64 `json:"ks"`        // Kolmogorov–Smirnov distance of u from U(0,1)
	KSP      float64 `json:"ks_p"`      // its p-value (Kolmogorov's limit with Stephens' correction)
	ChiSq    float64 `json:"chisq"`     // Pearson's χ² of the rank histogram
	ChiSqDOF int     `json:"chisq_dof"` // bins − 1
	ChiSqP   float64 `json:"chisq_p"`   // its p-value
	// Mean is the mean of u: 0.5 under calibration (standard error
	// 1/√(12N)); above, the truth tends to lie above the draws.
	Mean float64 `json:"mean"`
	// Central is the fraction of u in [1/4, 3/4): 0.5 under calibration
	// (standard error 1/(2√N)); above, the draws are too wide.
	Central float64 `json:"central"`
	// Tails is the fraction of u below 1/10 or from 9/10 up: 0.2 under
	// calibration (standard error 0.4/√N); above, the draws are too
	// narrow.
	Tails float64 `json:"tails"`
	// InBand reports whether the ECDF of u stays inside the simultaneous
	// band of ECDFBand.
	InBand bool `json:"in_band"`
}

// P is the smaller of the two p-values.
func (u Uniformity) P() float64 { return math.Min(u.KSP, u.ChiSqP) }

// MeanZ and CentralZ are Mean and Central as z-scores against their
// values under calibration.
func (u Uniformity) MeanZ(n int) float64    { return (u.Mean - 0.5) * math.Sqrt(12*float64(n)) }
func (u Uniformity) CentralZ(n int) float64 { return (u.Central - 0.5) * 2 * math.Sqrt(float64(n)) }

// TailsZ is Tails as a z-score.
func (u Uniformity) TailsZ(n int) float64 { return (u.Tails - 0.2) / 0.4 * math.Sqrt(float64(n)) }

// normalised returns u = (r + V)/(L+1) for ranks r on 0…L.
func normalised(ranks []int, L int, rnd *rand.Rand) []float64 {
	u := make([]float64, len(ranks))
	for i, r := range ranks {
		u[i] = (float64(r) + rnd.Float64()) / float64(L+1)
	}
	return u
}

// defaultBins is min(20, L+1, N/5), at least 2: expected counts of five
// or more, so that Pearson's χ² law holds.
func defaultBins(n, L int) int { return max(2, min(20, L+1, n/5)) }

// rankBin returns the bin of rank r on 0…L among bins equal-count bins:
// widths differ by at most one rank value.
func rankBin(r, L, bins int) int { return r * bins / (L + 1) }

// binWidths returns the number of rank values in each bin.
func binWidths(L, bins int) []int {
	w := make([]int, bins)
	for r := 0; r <= L; r++ {
		w[rankBin(r, L, bins)]++
	}
	return w
}

// uniformity tests ranks on 0…L with bins χ² bins, u their normalised
// values, and band the simultaneous ECDF band for len(u) values.
func uniformity(ranks []int, u []float64, L, bins int, band *ECDFBand) Uniformity {
	n := len(ranks)
	var res Uniformity
	res.KS = ksDistance(u)
	res.KSP = ksPValue(res.KS, n)
	counts := make([]int, bins)
	for _, r := range ranks {
		counts[rankBin(r, L, bins)]++
	}
	for b, w := range binWidths(L, bins) {
		want := float64(n) * float64(w) / float64(L+1)
		d := float64(counts[b]) - want
		res.ChiSq += d * d / want
	}
	res.ChiSqDOF = bins - 1
	res.ChiSqP = distuv.ChiSquared{K: float64(bins - 1)}.Survival(res.ChiSq)
	for _, v := range u {
		res.Mean += v
		if v >= 0.25 && v < 0.75 {
			res.Central++
		}
		if v < 0.1 || v >= 0.9 {
			res.Tails++
		}
	}
	res.Mean /= float64(n)
	res.Central /= float64(n)
	res.Tails /= float64(n)
	res.InBand = band.Contains(u)
	return res
}

// ksDistance is sup |F̂(t) − t| for values on [0, 1).
func ksDistance(u []float64) float64 {
	s := sortedCopy(u)
	n := float64(len(s))
	d := 0.0
	for i, v := range s {
		d = math.Max(d, math.Max(float64(i+1)/n-v, v-float64(i)/n))
	}
	return d
}

// ksPValue is P(D ≥ d) for n uniform values: Kolmogorov's limiting law at
// (√n + 0.12 + 0.11/√n)·d (Stephens 1970), accurate to about 0.01 for
// n ≥ 5 and far better in the tail that decides.
func ksPValue(d float64, n int) float64 {
	sn := math.Sqrt(float64(n))
	l := (sn + 0.12 + 0.11/sn) * d
	if l < 0.2 {
		return 1
	}
	p := 0.0
	for k := 1; k <= 100; k++ {
		term := math.Exp(-2 * float64(k*k) * l * l)
		if k%2 == 1 {
			p += term
		} else {
			p -= term
		}
		if term < 1e-16 {
			break
		}
	}
	return math.Min(1, math.Max(0, 2*p))
}
