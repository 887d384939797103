// Package diagnostics checks the quality of posterior approximations.
//
// C2ST, the classifier two-sample test, reproduces the recipe behind the
// published sbibm benchmark numbers; it needs reference samples. SBC,
// ExpectedCoverage, TARP, LC2ST and PPC need none: they check a posterior
// against the prior and the simulator, through the Sampler and LogDensity
// interfaces that any posterior can implement (see docs/DIAGNOSTICS.md).
// Every function in the package is safe for concurrent use: none keeps
// state between calls, and an LC2ST guards its classifiers.
package diagnostics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/amortize/amortize/internal/zscore"
	"gonum.org/v1/gonum/mat"
)

var (
	// ErrEmptySamples reports a sample set that is nil or has no rows.
	ErrEmptySamples = errors.New("diagnostics: empty sample set")
	// ErrDimensionMismatch reports sample sets of different dimension.
	ErrDimensionMismatch = errors.New("diagnostics: dimension mismatch")
	// ErrNonFinite reports a NaN or infinite sample value.
	ErrNonFinite = errors.New("diagnostics: non-finite value")
	// ErrInvalidOption reports an option outside its valid range.
	ErrInvalidOption = errors.New("diagnostics: invalid option")
	// ErrDiverged reports a classifier whose training loss became NaN or
	// infinite, as unscaled samples of huge magnitude can make it.
	ErrDiverged = errors.New("diagnostics: classifier training diverged")
)

// C2STOptions configures C2ST. The zero value is sbibm's recipe.
type C2STOptions struct {
	// Folds is the number of cross-validation folds; 0 means 5. At least 2
	// and at most the total number of samples.
	Folds int
	// Seed drives the fold split, the weight initialisation and the
	// mini-batch shuffling; 0 means 1 (sbibm's random_state).
	Seed uint64
	// Hidden is the width of each of the two hidden layers; 0 means
	// 10·dim.
	Hidden int
	// MaxEpochs caps the training epochs per fold; 0 means 10,000
	// (scikit-learn's max_iter as sbibm sets it).
	MaxEpochs int
	// NoZScore skips standardising both sets by the reference set's mean
	// and standard deviation. sbibm's headline number is z-scored.
	NoZScore bool
	// Workers is the number of folds trained at once; 0 means GOMAXPROCS.
	// The result does not depend on it.
	Workers int
}

const (
	defaultFolds     = 5
	defaultSeed      = 1
	defaultMaxEpochs = 10000
	hiddenPerDim     = 10

	// Streams of the PCG generator seeded by C2STOptions.Seed.
	splitStream = 0x6332737473706c74 // "c2stsplt"
	trainStream = 0x633273746d6c7031 // "c2stmlp1"
)

// C2ST returns the classifier two-sample test score of alg against ref: the
// cross-validated accuracy of a classifier trained to tell the rows of alg
// (label 1) from the rows of ref (label 0). 0.5 means the sets cannot be
// told apart; 1 means they are perfectly separable.
//
// The recipe is sbibm's: z-score both sets by the mean and standard
// deviation (N−1 denominator) of ref, then average the held-out accuracy
// over a shuffled K-fold split of a scikit-learn style MLPClassifier with two
// ReLU hidden layers of 10·dim units, a logistic output, Adam (learning rate
// 1e-3), L2 penalty 1e-4, mini-batches of min(200, n), Glorot-uniform
// initialisation and training until the epoch loss has not improved by 1e-4
// for more than 10 consecutive epochs. Like scikit-learn with an integer
// random_state, the classifier of every fold starts from the same seeded
// stream. A coordinate with zero spread in ref is left unscaled.
//
// The arithmetic is float64 throughout (sbibm feeds float32 tensors), and the
// random streams are Go's PCG rather than NumPy's, so values agree with sbibm
// in distribution, about to the 0.01 level, not bit for bit. For a given seed
// the result is deterministic and independent of Workers.
//
// The classifier's matrix products go through gonum's blas64, pure Go by
// default. A program that registers a native BLAS with blas64.Use, as
// linking package trainer with OpenBLAS does, runs them several times
// faster; its rounding may differ in the last bits, and so may the score,
// slightly.
//
// C2ST returns an error wrapping ctx.Err() when ctx is done before it
// finishes.
func C2ST(ctx context.Context, ref, alg *mat.Dense, opts C2STOptions) (float64, error) {
	nRef, dim, err := sampleDims("reference", ref)
	if err != nil {
		return 0, err
	}
	nAlg, algDim, err := sampleDims("algorithm", alg)
	if err != nil {
		return 0, err
	}
	if algDim != dim {
		return 0, fmt.Errorf("%w: reference has %d columns, algorithm %d", ErrDimensionMismatch, dim, algDim)
	}
	n := nRef + nAlg
	opts, err = opts.withDefaults(dim, n)
	if err != nil {
		return 0, err
	}

	x := make([]float64, 0, n*dim)
	for i := range nRef {
		x = append(x, ref.RawRowView(i)...)
	}
	for i := range nAlg {
		x = append(x, alg.RawRowView(i)...)
	}
	if !opts.NoZScore {
		if err := zScore(x, dim, nRef); err != nil {
			return 0, err
		}
	}
	y := make([]float64, n)
	for i := nRef; i < n; i++ {
		y[i] = 1
	}

	// scikit-learn's KFold(shuffle=True): permute, then cut into folds whose
	// sizes differ by at most one, the larger ones first.
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	rand.New(rand.NewPCG(opts.Seed, splitStream)).Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	bounds := make([]int, opts.Folds+1)
	for f := range opts.Folds {
		size := n / opts.Folds
		if f < n%opts.Folds {
			size++
		}
		bounds[f+1] = bounds[f] + size
	}

	acc := make([]float64, opts.Folds)
	errs := make([]error, opts.Folds)
	var wg sync.WaitGroup
	sem := make(chan struct{}, opts.Workers)
	for f := range opts.Folds {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			acc[f], errs[f] = foldAccuracy(ctx, x, y, dim, perm, bounds[f], bounds[f+1], opts)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	var sum float64
	for _, a := range acc {
		sum += a
	}
	return sum / float64(opts.Folds), nil
}

// withDefaults fills in zero fields and checks the rest for samples of
// dimension dim, n rows in all.
func (o C2STOptions) withDefaults(dim, n int) (C2STOptions, error) {
	switch {
	case o.Folds < 0 || o.Folds == 1:
		return o, fmt.Errorf("%w: %d folds, need at least 2", ErrInvalidOption, o.Folds)
	case o.Hidden < 0:
		return o, fmt.Errorf("%w: hidden width %d", ErrInvalidOption, o.Hidden)
	case o.MaxEpochs < 0:
		return o, fmt.Errorf("%w: max epochs %d", ErrInvalidOption, o.MaxEpochs)
	case o.Workers < 0:
		return o, fmt.Errorf("%w: %d workers", ErrInvalidOption, o.Workers)
	}
	if o.Folds == 0 {
		o.Folds = defaultFolds
	}
	if o.Folds > n {
		return o, fmt.Errorf("%w: %d folds for %d samples", ErrInvalidOption, o.Folds, n)
	}
	if o.Seed == 0 {
		o.Seed = defaultSeed
	}
	if o.Hidden == 0 {
		o.Hidden = hiddenPerDim * dim
	}
	if o.MaxEpochs == 0 {
		o.MaxEpochs = defaultMaxEpochs
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o, nil
}

// sampleDims returns the shape of a sample set after checking that it has
// rows and only finite values.
func sampleDims(name string, s *mat.Dense) (rows, cols int, err error) {
	if s == nil || s.IsEmpty() {
		return 0, 0, fmt.Errorf("%w: %s samples", ErrEmptySamples, name)
	}
	rows, cols = s.Dims()
	for i := range rows {
		for j, v := range s.RawRowView(i) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, 0, fmt.Errorf("%w: %s sample %d, coordinate %d is %v", ErrNonFinite, name, i+1, j+1, v)
			}
		}
	}
	return rows, cols, nil
}

// zScore standardises the rows of x (dim columns) by the mean and N−1
// standard deviation of its first nRef rows.
func zScore(x []float64, dim, nRef int) error {
	mean, scale := standardiser(x, dim, nRef)
	for i, v := range x {
		j := i % dim
		x[i] = (v - mean[j]) * scale[j]
		// Finite inputs can still overflow here (values near MaxFloat64).
		if math.IsNaN(x[i]) || math.IsInf(x[i], 0) {
			set, row := "reference", i/dim
			if row >= nRef {
				set, row = "algorithm", row-nRef
			}
			return fmt.Errorf("%w: %s sample %d, coordinate %d overflows when z-scored", ErrNonFinite, set, row+1, j+1)
		}
	}
	return nil
}

// standardiser returns the mean and inverse N−1 standard deviation of each
// of the dim columns of the first nRef rows of x, as zscore.Fit: a column
// without spread to divide by keeps scale 1.
func standardiser(x []float64, dim, nRef int) (mean, scale []float64) {
	mean, scale = zscore.Fit(nRef, dim, func(i int) []float64 { return x[i*dim : (i+1)*dim] })
	for j, sd := range scale {
		scale[j] = 1 / sd
	}
	return mean, scale
}

// foldAccuracy trains a classifier on every sample outside perm[lo:hi] and
// returns its accuracy on the samples inside.
func foldAccuracy(ctx context.Context, x, y []float64, dim int, perm []int, lo, hi int, opts C2STOptions) (float64, error) {
	n := len(y)
	held := make([]bool, n)
	for _, i := range perm[lo:hi] {
		held[i] = true
	}
	train := make([]int, 0, n-(hi-lo))
	for i, h := range held {
		if !h {
			train = append(train, i)
		}
	}
	src := rand.New(rand.NewPCG(opts.Seed, trainStream))
	c := newClassifier(dim, opts.Hidden, min(batchSize, len(train)), src)
	if _, err := c.fit(ctx, x, y, train, opts.MaxEpochs, src); err != nil {
		return 0, err
	}
	return c.accuracy(x, y, perm[lo:hi]), nil
}
