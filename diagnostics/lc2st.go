package diagnostics

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"

	"gonum.org/v1/gonum/mat"
)

// LC2STOptions configures NewLC2ST. The zero value is sbi's LC2ST with 50
// null classifiers instead of 100.
type LC2STOptions struct {
	// NullTrials is the number of classifiers trained on permuted labels,
	// whose statistics make the null distribution; 0 means 50. The
	// smallest p-value is 1/(NullTrials+1).
	NullTrials int
	// Eval is the number of posterior draws at x_o the statistic averages
	// over; 0 means 10,000.
	Eval int
	// Seed drives the posterior draws, the permutations and the
	// classifiers; 0 means 1.
	Seed uint64
	// Hidden and MaxEpochs size the classifier as C2STOptions does; 0
	// means 10·(θ dim + x dim) and 1,000 (sbi's max_iter). As in sbi, a
	// tenth of the pairs is held out, and training stops when the
	// accuracy there has not improved for 50 epochs.
	Hidden, MaxEpochs int
	// Workers is the number of classifiers trained at once; 0 means
	// GOMAXPROCS. The result does not depend on it.
	Workers int
	// Alpha is the level of the test; 0 means 0.05.
	Alpha float64
	// Progress, if not nil, is called after each classifier is trained
	// with the number done and the total.
	Progress func(done, total int)
}

// Streams of the PCG generator seeded by LC2STOptions.Seed: the
// classifiers take lc2stStream + t, t = 0 for the one on true labels.
const (
	lc2stEvalStream = 0x6c63327374657601
	lc2stStream     = 0x6c63327374000000
)

// LC2ST is the local classifier two-sample test (Linhart, Gramfort and
// Rodrigues 2023, "L-C2ST: Local diagnostics for posterior approximations
// in simulation-based inference"; sbi's LC2ST): a classifier learns once
// to tell joint pairs (θ_i, x_i) from pairs (θ̃_i, x_i) with θ̃_i drawn from
// the posterior estimate at x_i. Where the estimate is right it cannot,
// and at any observation x_o its predicted probabilities on posterior
// draws stay near 1/2. Classifiers trained on permuted labels give the
// statistic's null distribution, also once for every x_o. No reference
// posterior is needed.
//
// Test is safe for concurrent use.
type LC2ST struct {
	opts        LC2STOptions
	dim, xDim   int
	mean, scale []float64 // z-scoring of (θ, x), from the joint pairs
	mu          sync.Mutex
	clf         *classifier
	null        []*classifier
}

// LC2STResult is the outcome of the test at one observation.
type LC2STResult struct {
	X []float64 `json:"x"`
	// Statistic is the mean of (d − 1/2)² over the draws at x_o, d the
	// classifier's probability that a pair comes from the estimate.
	Statistic float64   `json:"statistic"`
	Null      []float64 `json:"null"`
	PValue    float64   `json:"p_value"`
	Alpha     float64   `json:"alpha"`
	Valid     bool      `json:"valid"` // PValue ≥ Alpha
	// Probabilities are the classifier's d at the first draws (at most
	// 1,000), for plots.
	Probabilities []float64 `json:"probabilities"`
}

// NewLC2ST trains the classifier and its null classifiers on the pairs
// (theta, xs) of the prior and simulator, with one posterior draw per x
// from s.
func NewLC2ST(ctx context.Context, s Sampler, theta, xs *mat.Dense, opts LC2STOptions) (*LC2ST, error) {
	n, dim, err := pairs(theta, xs)
	if err != nil {
		return nil, err
	}
	switch {
	case opts.NullTrials < 0, opts.Eval < 0, opts.Hidden < 0, opts.MaxEpochs < 0, opts.Workers < 0:
		return nil, fmt.Errorf("%w: negative L-C2ST option", ErrInvalidOption)
	case opts.Alpha < 0 || opts.Alpha >= 1:
		return nil, fmt.Errorf("%w: level %v, want 0 < alpha < 1", ErrInvalidOption, opts.Alpha)
	case n < 2:
		return nil, fmt.Errorf("%w: L-C2ST needs at least 2 pairs, got %d", ErrInvalidOption, n)
	}
	_, xDim := xs.Dims()
	in := dim + xDim
	if opts.NullTrials == 0 {
		opts.NullTrials = 50
	}
	if opts.Eval == 0 {
		opts.Eval = 10_000
	}
	if opts.Seed == 0 {
		opts.Seed = defaultSeed
	}
	if opts.Hidden == 0 {
		opts.Hidden = hiddenPerDim * in
	}
	if opts.MaxEpochs == 0 {
		opts.MaxEpochs = 1000
	}
	if opts.Workers == 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.Alpha == 0 {
		opts.Alpha = 0.05
	}
	// The estimate's pairs: one draw per observation.
	draws := mat.NewDense(n, dim, nil)
	err = eachDraws(ctx, s, xs, dim, CheckOptions{Draws: 1, Seed: opts.Seed}, func(lo int, _ *mat.Dense, d []*mat.Dense, _ *rand.Rand) error {
		for k, m := range d {
			draws.SetRow(lo+k, m.RawRowView(0))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	l := &LC2ST{opts: opts, dim: dim, xDim: xDim}
	x := make([]float64, 0, 2*n*in)
	for _, th := range []*mat.Dense{theta, draws} {
		for i := range n {
			x = append(x, th.RawRowView(i)...)
			x = append(x, xs.RawRowView(i)...)
		}
	}
	l.mean, l.scale = standardiser(x, in, n)
	l.standardise(x)
	y := make([]float64, 2*n)
	for i := n; i < 2*n; i++ {
		y[i] = 1
	}
	idx := make([]int, 2*n)
	for i := range idx {
		idx[i] = i
	}
	// Classifier 0 learns the true labels; classifier t ≥ 1 a permutation
	// of them drawn from its own stream.
	total := 1 + opts.NullTrials
	clfs := make([]*classifier, total)
	errs := make([]error, total)
	var (
		wg   sync.WaitGroup
		pmu  sync.Mutex
		done int
	)
	sem := make(chan struct{}, opts.Workers)
	for t := range total {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			src := rand.New(rand.NewPCG(opts.Seed, lc2stStream+uint64(t)))
			labels := y
			if t > 0 {
				labels = slices.Clone(y)
				src.Shuffle(len(labels), func(i, j int) { labels[i], labels[j] = labels[j], labels[i] })
			}
			// sbi's classifier: scikit-learn's early stopping on a tenth
			// of the rows held out, patience 50.
			order := slices.Clone(idx)
			src.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			nVal := max(1, len(order)/10)
			c := newClassifier(in, opts.Hidden, min(batchSize, len(order)-nVal), src)
			c.early = &earlyStop{val: order[:nVal], noChange: 50, best: -1}
			if _, errs[t] = c.fit(ctx, x, labels, order[nVal:], opts.MaxEpochs, src); errs[t] == nil {
				clfs[t] = c
			}
			if opts.Progress != nil {
				pmu.Lock()
				done++
				opts.Progress(done, total)
				pmu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	l.clf, l.null = clfs[0], clfs[1:]
	return l, nil
}

// standardise z-scores rows of (θ, x) in place.
func (l *LC2ST) standardise(x []float64) {
	in := l.dim + l.xDim
	for i, v := range x {
		j := i % in
		x[i] = (v - l.mean[j]) * l.scale[j]
	}
}

// Test draws Eval samples from s at xo and returns the statistic and its
// permutation p-value there.
func (l *LC2ST) Test(ctx context.Context, s Sampler, xo []float64) (*LC2STResult, error) {
	if len(xo) != l.xDim {
		return nil, fmt.Errorf("%w: x_o has %d values, the pairs had %d", ErrDimensionMismatch, len(xo), l.xDim)
	}
	xm := mat.NewDense(1, l.xDim, slices.Clone(xo))
	if _, _, err := sampleDims("x_o", xm); err != nil {
		return nil, err
	}
	draws, err := s.SampleEach(ctx, xm, l.opts.Eval, rand.NewPCG(l.opts.Seed, lc2stEvalStream))
	if err != nil {
		return nil, fmt.Errorf("diagnostics: posterior draws at x_o: %w", err)
	}
	if len(draws) != 1 {
		return nil, fmt.Errorf("diagnostics: sampler returned %d sample sets for one observation", len(draws))
	}
	if r, c := draws[0].Dims(); r != l.opts.Eval || c != l.dim {
		return nil, fmt.Errorf("%w: sampler returned %d×%d draws, want %d×%d", ErrDimensionMismatch, r, c, l.opts.Eval, l.dim)
	}
	in := l.dim + l.xDim
	x := make([]float64, 0, l.opts.Eval*in)
	for i := range l.opts.Eval {
		x = append(x, draws[0].RawRowView(i)...)
		x = append(x, xo...)
	}
	l.standardise(x)
	l.mu.Lock()
	defer l.mu.Unlock()
	res := &LC2STResult{X: slices.Clone(xo), Alpha: l.opts.Alpha}
	p := l.clf.proba(x, l.opts.Eval)
	res.Statistic = msd(p)
	res.Probabilities = p[:min(len(p), 1000)]
	above := 0
	for _, c := range l.null {
		t := msd(c.proba(x, l.opts.Eval))
		res.Null = append(res.Null, t)
		if t >= res.Statistic {
			above++
		}
	}
	res.PValue = float64(1+above) / float64(1+len(l.null))
	res.Valid = res.PValue >= l.opts.Alpha
	return res, nil
}

// msd is the mean of (p − 1/2)².
func msd(p []float64) float64 {
	var s float64
	for _, v := range p {
		s += (v - 0.5) * (v - 0.5)
	}
	return s / float64(len(p))
}

// proba returns the predicted probabilities of label 1 for the n rows of x.
func (c *classifier) proba(x []float64, n int) []float64 {
	out := make([]float64, 0, n)
	rows := make([]int, 0, c.batch)
	for lo := 0; lo < n; lo += c.batch {
		rows = rows[:0]
		for i := lo; i < min(lo+c.batch, n); i++ {
			rows = append(rows, i)
		}
		c.load(x, rows)
		out = append(out, c.forward(len(rows))...)
	}
	return out
}

// Verdict is a one-paragraph reading of the result.
func (r *LC2STResult) Verdict() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Local C2ST at x_o = %v: ", r.X)
	if r.Valid {
		b.WriteString("the classifier cannot tell the estimate from the true posterior there")
	} else {
		b.WriteString("the estimate is NOT VALID there: the classifier tells it from the true posterior")
	}
	fmt.Fprintf(&b, " (statistic %.4g, permutation p = %.3g over %d null classifiers, level %g).", r.Statistic, r.PValue, len(r.Null), r.Alpha)
	return b.String()
}
