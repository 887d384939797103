package trainer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/amortize/amortize/internal/zscore"
	"github.com/amortize/amortize/models"
	"gonum.org/v1/gonum/mat"
	"gorgonia.org/tensor"
)

// Options configure Train. Zero values take sbi's defaults.
type Options struct {
	BatchSize          int     // rows per gradient step; default 200 (NLE: 50, as sbi's likelihood estimators)
	LearningRate       float64 // Adam's step size; default 5e-4
	ValidationFraction float64 // share of rows held out for early stopping; default 0.1
	StopAfterEpochs    int     // epochs without validation improvement before stopping; default 20
	ClipMaxNorm        float64 // global gradient-norm clip; default 5; NoClip (any negative) disables
	MaxEpochs          int     // default (0) 2³¹−1, as sbi
	Seed               uint64  // fixes initialisation, split and minibatch order

	// LRDecay, if set, multiplies the learning rate by this factor in (0, 1)
	// whenever the validation loss has not improved for more than
	// LRPatience epochs in a row (PyTorch's ReduceLROnPlateau); the count
	// restarts after each decay. Early stopping still counts the epochs
	// since the best. The default, 0, keeps the rate constant, as sbi does.
	// A decaying rate lets a run settle into the minimum that a constant
	// rate keeps jumping around, which matters for narrow posteriors.
	LRDecay    float64
	LRPatience int // default 10

	// Float64 trains in float64 instead of float32 (slower; for checks).
	Float64 bool

	// Loss is a classifier's (NRE's) loss and its settings; the zero value
	// is NRE-B, sbi's NRE. Density estimators (NPE, NLE) always minimise
	// −mean log q and refuse any other kind.
	Loss models.Loss

	// Progress, if set, is called after every epoch.
	Progress func(Progress)

	// CheckpointPath, if set, is where the training state is written
	// (atomically) after every epoch and when ctx is cancelled. With
	// Resume, training continues from the checkpoint there if one exists,
	// and ends with the same weights as a run that was never interrupted.
	CheckpointPath string
	Resume         bool

	// Threads is the number of threads OpenBLAS runs the matrix products
	// on, set by Train for the whole process; default 1, which is fastest
	// for networks of sbi's default sizes. A seed gives the same weights
	// on the same thread count; on another, OpenBLAS shares the products
	// out differently and the weights can differ in their last bits.
	Threads int
}

// NoClip as Options.ClipMaxNorm turns gradient clipping off (zero takes
// sbi's default, 5).
const NoClip = -1.0

// Progress reports one finished epoch. Losses are −mean log q(θ|x) with θ
// in raw units, as sbi reports them (the z-score Jacobian included), so the
// numbers do not depend on the standardisation.
type Progress struct {
	Epoch                  int
	TrainLoss, ValLoss     float64
	BestValLoss            float64
	EpochsSinceImprovement int
	Elapsed                time.Duration
	Steps                  int     // gradient steps so far
	LearningRate           float64 // for the next epoch
}

var (
	// ErrData is returned for training data that cannot be used.
	ErrData = errors.New("trainer: bad training data")
	// ErrDiverged is returned when a loss or gradient becomes NaN or infinite.
	ErrDiverged = errors.New("trainer: training diverged")
	// ErrCheckpoint is returned for a checkpoint that cannot be resumed.
	ErrCheckpoint = errors.New("trainer: unusable checkpoint")
)

func (o Options) withDefaults(method string) (Options, error) {
	if o.BatchSize == 0 {
		o.BatchSize = 200
		if method == models.MethodNLE {
			o.BatchSize = 50
		}
	}
	if method == models.MethodNRE {
		var err error
		if o.Loss, err = o.Loss.WithDefaults(); err != nil {
			return o, err
		}
	} else if o.Loss != (models.Loss{}) && o.Loss.Kind != models.LossNLL {
		return o, fmt.Errorf("%w: a %s density estimator trains by nll, not %s", models.ErrLoss, method, o.Loss.Kind)
	} else {
		o.Loss = models.Loss{}
	}
	if o.LearningRate == 0 {
		o.LearningRate = 5e-4
	}
	if o.ValidationFraction == 0 {
		o.ValidationFraction = 0.1
	}
	if o.StopAfterEpochs == 0 {
		o.StopAfterEpochs = 20
	}
	switch {
	case o.ClipMaxNorm == 0:
		o.ClipMaxNorm = 5
	case o.ClipMaxNorm < 0:
		o.ClipMaxNorm = NoClip // one value for "off", as checkpoints compare it
	}
	if o.MaxEpochs == 0 {
		o.MaxEpochs = math.MaxInt32
	}
	if o.LRPatience == 0 {
		o.LRPatience = 10
	}
	switch {
	case o.BatchSize < 1:
		return o, fmt.Errorf("trainer: batch size %d", o.BatchSize)
	case !(o.LearningRate > 0) || math.IsInf(o.LearningRate, 0):
		return o, fmt.Errorf("trainer: learning rate %v", o.LearningRate)
	case !(o.ValidationFraction > 0 && o.ValidationFraction < 1):
		return o, fmt.Errorf("trainer: validation fraction %v not in (0, 1)", o.ValidationFraction)
	case o.StopAfterEpochs < 1:
		return o, fmt.Errorf("trainer: stop after %d epochs", o.StopAfterEpochs)
	case o.MaxEpochs < 1:
		return o, fmt.Errorf("trainer: at most %d epochs", o.MaxEpochs)
	case o.LRDecay != 0 && !(o.LRDecay > 0 && o.LRDecay < 1):
		return o, fmt.Errorf("trainer: learning-rate decay %v not in (0, 1)", o.LRDecay)
	case math.IsNaN(o.ClipMaxNorm):
		return o, fmt.Errorf("trainer: gradient clip %v", o.ClipMaxNorm)
	case o.LRPatience < 1:
		return o, fmt.Errorf("trainer: learning-rate patience %d", o.LRPatience)
	case o.Resume && o.CheckpointPath == "":
		return o, errors.New("trainer: resume needs a checkpoint path")
	}
	return o, nil
}

// Train fits a network of the given spec to simulations, by the spec's
// method: neural posterior estimation (minimising −mean log q(θ|x)),
// neural likelihood estimation (−mean log q(x|θ)) or neural ratio
// estimation (a classifier of (θ, x) pairs trained by Options.Loss). It
// steps Adam over minibatches, stops once the validation loss has not
// improved for StopAfterEpochs epochs, and returns the model with the best
// validation loss. theta and x hold one simulation per row, in raw units;
// θ and x are z-scored with the training split's mean and (unbiased) std,
// which the model keeps. The caller fills the model's names and prior, or
// calls TrainDataset, which does.
//
// The same seed and data give the same model, bit for bit. Cancelling ctx
// stops between gradient steps with an error wrapping ctx.Err(), after
// writing the checkpoint if there is a path.
func Train(ctx context.Context, spec models.Spec, theta, x *mat.Dense, opts Options) (*models.Model, error) {
	opts, err := opts.withDefaults(spec.MethodName())
	if err != nil {
		return nil, err
	}
	e, err := newNetwork(spec)
	if err != nil {
		return nil, err
	}
	if err := checkData(e.Spec(), theta, x); err != nil {
		return nil, err
	}
	setThreads(max(opts.Threads, 1))
	if opts.Float64 {
		return train[float64](ctx, e, theta, x, opts)
	}
	return train[float32](ctx, e, theta, x, opts)
}

// newNetwork builds the network spec's method trains: an NRE classifier or
// a density estimator.
func newNetwork(spec models.Spec) (models.Network, error) {
	if spec.Method == models.MethodNRE {
		return models.NewClassifier(spec)
	}
	return models.New(spec)
}

// checkData reports mismatched shapes and non-finite values.
func checkData(s models.Spec, theta, x *mat.Dense) error {
	if theta == nil || x == nil {
		return fmt.Errorf("%w: missing θ or x", ErrData)
	}
	tr, tc := theta.Dims()
	xr, xc := x.Dims()
	switch {
	case tr != xr:
		return fmt.Errorf("%w: %d rows of θ but %d rows of x", ErrData, tr, xr)
	case tc != s.ThetaDim:
		return fmt.Errorf("%w: θ has %d columns, the %s spec %d", ErrData, tc, s.Kind, s.ThetaDim)
	case xc != s.XDim:
		return fmt.Errorf("%w: x has %d columns, the %s spec %d", ErrData, xc, s.Kind, s.XDim)
	}
	var bad []int
	count := 0
	for i := range tr {
		if !finite(theta.RawRowView(i)) || !finite(x.RawRowView(i)) {
			count++
			if len(bad) < 10 {
				bad = append(bad, i)
			}
		}
	}
	if count > 0 {
		more := ""
		if count > len(bad) {
			more = ", …"
		}
		return fmt.Errorf("%w: %d rows hold NaN or ±Inf (rows %s%s)", ErrData, count, joinInts(bad), more)
	}
	return nil
}

func finite(v []float64) bool {
	for _, f := range v {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
	}
	return true
}

func joinInts(v []int) string {
	s := ""
	for i, n := range v {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(n)
	}
	return s
}

// Streams of the seeded generator, one per use, so that changing one use
// never shifts another.
const (
	streamInit        = 1
	streamSplit       = 2
	streamValContrast = 3
	streamEpoch       = 1 << 32 // + epoch number
	streamContrast    = 1 << 56 // + epoch<<24 + step
)

// split shuffles the rows and holds out the last share for validation, as
// sbi does.
func split(n int, fraction float64, seed uint64) (train, val []int, err error) {
	nTrain := int((1 - fraction) * float64(n))
	if nTrain < 1 || nTrain >= n {
		return nil, nil, fmt.Errorf("%w: %d rows cannot be split into training and validation (fraction %v)", ErrData, n, fraction)
	}
	perm := rand.New(rand.NewPCG(seed, streamSplit)).Perm(n)
	return perm[:nTrain], perm[nTrain:], nil
}

// fitZScore is the mean and unbiased std of the columns of m over rows.
func fitZScore(m *mat.Dense, rows []int) (mean, std []float64) {
	_, c := m.Dims()
	return zscore.Fit(len(rows), c, func(i int) []float64 { return m.RawRowView(rows[i]) })
}

// standardized is m z-scored and flattened row-major.
func standardized[T float](m *mat.Dense, mean, std []float64) []T {
	r, c := m.Dims()
	out := make([]T, r*c)
	for i := range r {
		for j, v := range m.RawRowView(i) {
			out[i*c+j] = T((v - mean[j]) / std[j])
		}
	}
	return out
}

// state is one training run; it is what a checkpoint saves.
type state[T float] struct {
	e    models.Network
	spec models.Spec
	opts Options

	theta, x  []T // z-scored, row-major
	trainRows []int
	valRows   []int
	thetaMean []float64
	thetaStd  []float64
	xMean     []float64
	xStd      []float64
	logJac    float64 // Σ log std of the density's variable: raw-unit loss = z-space loss + logJac
	dataHash  uint64

	w                *weights
	params           []T // w's flat slice
	opt              *adam[T]
	trainNet, valNet *net[T]
	order            []int // this epoch's order of training rows

	best             []T
	bestValLoss      float64 // z-space
	bestEpoch        int
	sinceImprovement int
	plateau          plateau
	epoch            int     // epochs finished
	step             int     // steps finished in the current epoch
	trainLossSum     float64 // Σ per-row loss so far in the current epoch
	steps            int
	elapsed          time.Duration // before this process's start
}

func train[T float](ctx context.Context, e models.Network, theta, x *mat.Dense, opts Options) (*models.Model, error) {
	start := time.Now()
	n, _ := theta.Dims()
	t := &state[T]{
		e: e, spec: e.Spec(), opts: opts, bestValLoss: math.Inf(1), dataHash: fingerprint(theta, x),
		plateau: plateau{factor: opts.LRDecay, patience: opts.LRPatience},
	}
	resumed := false
	if opts.Resume {
		var err error
		if resumed, err = t.restore(n); err != nil {
			return nil, err
		}
	}
	if !resumed {
		var err error
		if t.trainRows, t.valRows, err = split(n, opts.ValidationFraction, opts.Seed); err != nil {
			return nil, err
		}
		t.thetaMean, t.thetaStd = fitZScore(theta, t.trainRows)
		t.xMean, t.xStd = fitZScore(x, t.trainRows)
		values := models.InitParams(e, rand.NewPCG(opts.Seed, streamInit))
		if err := t.setup(values); err != nil {
			return nil, err
		}
	}
	if cols := opts.Loss.Columns(); t.spec.Method == models.MethodNRE && min(len(t.trainRows), len(t.valRows)) < cols {
		return nil, fmt.Errorf("%w: %d training and %d validation rows, the %s loss pairs each x with %d θ", ErrData,
			len(t.trainRows), len(t.valRows), opts.Loss.Kind, cols)
	}
	t.theta = standardized[T](theta, t.thetaMean, t.thetaStd)
	t.x = standardized[T](x, t.xMean, t.xStd)
	switch t.spec.Method {
	case models.MethodNRE: // a classifier's loss has no Jacobian
	case models.MethodNLE:
		t.logJac = sumLog(t.xStd)
	default:
		t.logJac = sumLog(t.thetaStd)
	}
	var err error
	if t.trainNet, err = newNet[T](e, t.w, min(opts.BatchSize, len(t.trainRows)), true, opts.Loss); err != nil {
		return nil, err
	}
	if t.valNet, err = newNet[T](e, t.w, min(opts.BatchSize, len(t.valRows)), false, opts.Loss); err != nil {
		return nil, err
	}
	t.order = make([]int, len(t.trainRows))

	for t.epoch < opts.MaxEpochs && t.sinceImprovement < opts.StopAfterEpochs {
		t.shuffle()
		batches := (len(t.order) + t.trainNet.rows - 1) / t.trainNet.rows
		for ; t.step < batches; t.step++ {
			if err := ctx.Err(); err != nil {
				if cerr := t.checkpoint(start); cerr != nil {
					return nil, errors.Join(fmt.Errorf("trainer: stopped in epoch %d: %w", t.epoch+1, err), cerr)
				}
				return nil, fmt.Errorf("trainer: stopped in epoch %d: %w", t.epoch+1, err)
			}
			lo := t.step * t.trainNet.rows
			count := t.feed(t.trainNet, t.order[lo:min(lo+t.trainNet.rows, len(t.order))], t.trainRows, t.contrastRNG())
			if err := t.trainNet.run(); err != nil {
				return nil, err
			}
			loss := float64(t.trainNet.loss[0])
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return nil, fmt.Errorf("%w: training loss %v in epoch %d, step %d", ErrDiverged, loss, t.epoch+1, t.step+1)
			}
			if norm := t.opt.step(t.params, t.trainNet.grad); math.IsNaN(norm) || math.IsInf(norm, 0) {
				return nil, fmt.Errorf("%w: gradient norm %v in epoch %d, step %d", ErrDiverged, norm, t.epoch+1, t.step+1)
			}
			t.trainLossSum += loss * float64(count)
			t.steps++
		}
		val, err := t.validate()
		if err != nil {
			return nil, err
		}
		if math.IsNaN(val) || math.IsInf(val, 0) {
			return nil, fmt.Errorf("%w: validation loss %v in epoch %d", ErrDiverged, val+t.logJac, t.epoch+1)
		}
		t.epoch++
		improved := val < t.bestValLoss
		if improved {
			t.bestValLoss, t.bestEpoch, t.sinceImprovement = val, t.epoch, 0
			copy(t.best, t.params)
		} else {
			t.sinceImprovement++
		}
		t.opt.lr = t.plateau.next(improved, t.opt.lr)
		trainLoss := t.trainLossSum/float64(len(t.trainRows)) + t.logJac
		t.step, t.trainLossSum = 0, 0
		if err := t.checkpoint(start); err != nil {
			return nil, err
		}
		if opts.Progress != nil {
			opts.Progress(Progress{
				Epoch: t.epoch, TrainLoss: trainLoss, ValLoss: val + t.logJac, BestValLoss: t.bestValLoss + t.logJac,
				EpochsSinceImprovement: t.sinceImprovement, Elapsed: t.elapsed + time.Since(start), Steps: t.steps,
				LearningRate: t.opt.lr,
			})
		}
	}
	return t.model(n, start), nil
}

// plateau is PyTorch's ReduceLROnPlateau in mode "min" with threshold 0 and
// no cooldown: after more than patience epochs without improvement, counted
// since the best epoch or the last decay, the rate is multiplied by factor.
// A zero factor never decays.
type plateau struct {
	factor   float64
	patience int
	bad      int // epochs without improvement since the best or the last decay
}

// next returns the learning rate after an epoch that improved or not.
func (p *plateau) next(improved bool, lr float64) float64 {
	if improved || p.factor == 0 {
		p.bad = 0
		return lr
	}
	if p.bad++; p.bad > p.patience {
		p.bad = 0
		return lr * p.factor
	}
	return lr
}

// setup lays out fresh weights, optimiser state and best weights.
func (t *state[T]) setup(values map[string][]float64) error {
	var dt tensor.Dtype = tensor.Float32
	if _, ok := any(T(0)).(float64); ok {
		dt = tensor.Float64
	}
	w, err := newWeights(t.e, values, dt)
	if err != nil {
		return err
	}
	t.w = w
	t.params = w.flat.([]T)
	t.opt = newAdam[T](len(t.params), t.opts.LearningRate, t.opts.ClipMaxNorm)
	t.best = append([]T(nil), t.params...)
	return nil
}

// shuffle orders the training rows for the current epoch; the order
// depends only on the seed and the epoch, so a resumed run repeats it.
func (t *state[T]) shuffle() {
	copy(t.order, t.trainRows)
	rng := rand.New(rand.NewPCG(t.opts.Seed, streamEpoch+uint64(t.epoch)))
	rng.Shuffle(len(t.order), func(i, j int) { t.order[i], t.order[j] = t.order[j], t.order[i] })
}

func sumLog(v []float64) float64 {
	var s float64
	for _, f := range v {
		s += math.Log(f)
	}
	return s
}

// contrastRNG draws the contrasting θ of the current step; it depends only
// on the seed, the epoch and the step, so a resumed run repeats it.
func (t *state[T]) contrastRNG() *rand.Rand {
	return rand.New(rand.NewPCG(t.opts.Seed, streamContrast+uint64(t.epoch)<<24+uint64(t.step)))
}

// feed copies the given rows into n's inputs and returns how many there
// are. Rows past them repeat the first row with loss weight 0, so that the
// padded last batch neither changes the loss nor produces NaN.
//
// A classifier's row is an x with its own θ and, per group of
// Loss.Contrasts, θ of other rows of the batch drawn by rng without
// replacement (sbi's contrasting θ). A batch too small for that draws from
// the rest of split as well.
func (t *state[T]) feed(n *net[T], rows, split []int, rng *rand.Rand) int {
	d, xd := t.spec.ThetaDim, t.spec.XDim
	var pool []int
	for i := range n.rows {
		bi := 0
		if i < len(rows) {
			bi = i
		}
		r := rows[bi]
		at := i * n.cols
		copy(n.theta[at*d:(at+1)*d], t.theta[r*d:(r+1)*d])
		for c := range n.cols {
			copy(n.x[(at+c)*xd:(at+c+1)*xd], t.x[r*xd:(r+1)*xd])
		}
		if n.cols == 1 {
			continue
		}
		at++
		for _, k := range t.opts.Loss.Contrasts() {
			pool = contrastPool(pool[:0], rows, bi, split, k)
			for j := range k {
				p := j + rng.IntN(len(pool)-j)
				pool[j], pool[p] = pool[p], pool[j]
				copy(n.theta[at*d:(at+1)*d], t.theta[pool[j]*d:(pool[j]+1)*d])
				at++
			}
		}
	}
	if n.w != nil {
		wi := T(1 / float64(len(rows)))
		for i := range n.w {
			if i < len(rows) {
				n.w[i] = wi
			} else {
				n.w[i] = 0
			}
		}
	}
	return len(rows)
}

// contrastPool appends to dst the rows of the batch other than rows[self]
// and, when they are fewer than k, further rows of split that are not in
// the batch, enough for k.
func contrastPool(dst, rows []int, self int, split []int, k int) []int {
	for j, r := range rows {
		if j != self {
			dst = append(dst, r)
		}
	}
	if len(dst) >= k {
		return dst
	}
	in := make(map[int]bool, len(rows))
	for _, r := range rows {
		in[r] = true
	}
	for _, r := range split {
		if len(dst) == k {
			break
		}
		if !in[r] {
			dst = append(dst, r)
		}
	}
	return dst
}

// validate is the z-space validation loss: −mean log q for a density; a
// classifier's batch losses, weighted by their rows, with contrasts from a
// stream fixed for the run, so that epochs compare on the same pairs.
func (t *state[T]) validate() (float64, error) {
	var sum float64
	n := t.valNet
	rng := rand.New(rand.NewPCG(t.opts.Seed, streamValContrast))
	for lo := 0; lo < len(t.valRows); lo += n.rows {
		count := t.feed(n, t.valRows[lo:min(lo+n.rows, len(t.valRows))], t.valRows, rng)
		if err := n.run(); err != nil {
			return 0, err
		}
		var bal float64
		for i, v := range n.lp[:count] {
			sum -= float64(v)
			if n.bal != nil {
				bal += float64(n.bal[i])
			}
		}
		if n.bal != nil {
			bal /= float64(count)
			sum += t.opts.Loss.Lambda * bal * bal * float64(count)
		}
	}
	return sum / float64(len(t.valRows)), nil
}

// model packages the best weights.
func (t *state[T]) model(n int, start time.Time) *models.Model {
	var loss *models.Loss
	switch t.spec.Method {
	case models.MethodNLE:
		loss = &models.Loss{Kind: models.LossNLL}
	case models.MethodNRE:
		l := t.opts.Loss
		loss = &l
	}
	weights := make(map[string][]float32, len(t.w.specs))
	off := 0
	for _, p := range t.w.specs {
		v := make([]float32, p.Size())
		for j := range v {
			v[j] = float32(t.best[off+j])
		}
		weights[p.Name] = v
		off += p.Size()
	}
	return &models.Model{
		Spec:      t.spec,
		Weights:   weights,
		ThetaMean: t.thetaMean, ThetaStd: t.thetaStd,
		XMean: t.xMean, XStd: t.xStd,
		Method: t.spec.MethodName(),
		Loss:   loss,
		Summary: models.Summary{
			Simulations:  n,
			Epochs:       t.epoch,
			BestEpoch:    t.bestEpoch,
			BestValLoss:  t.bestValLoss + t.logJac,
			Seed:         t.opts.Seed,
			TrainSeconds: (t.elapsed + time.Since(start)).Seconds(),
		},
	}
}
