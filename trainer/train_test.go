package trainer

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/models/eager"
	"gonum.org/v1/gonum/mat"
)

// linearGaussian simulates θ ~ N(0, I₂), x = θ + N(0, σ²I₂). The posterior
// is N(x/(1+σ²), σ²/(1+σ²)·I₂).
func linearGaussian(n int, sigma float64, seed uint64) (theta, x *mat.Dense) {
	rng := rand.New(rand.NewPCG(seed, 0))
	theta, x = mat.NewDense(n, 2, nil), mat.NewDense(n, 2, nil)
	for i := range n {
		for j := range 2 {
			t := rng.NormFloat64()
			theta.Set(i, j, t)
			x.Set(i, j, t+sigma*rng.NormFloat64())
		}
	}
	return theta, x
}

func gaussianSpec(t testing.TB) models.Spec {
	t.Helper()
	s, err := models.DefaultSpec("gaussian", 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTrainLinearGaussian: training lowers the validation loss to near the
// exact posterior's, on the same validation rows, and the model's posterior
// mean is near the exact one.
func TestTrainLinearGaussian(t *testing.T) {
	const n, sigma = 3000, 0.5
	theta, x := linearGaussian(n, sigma, 1)
	var progress []Progress
	// sbi's defaults throughout.
	opts := Options{Seed: 7, Progress: func(p Progress) { progress = append(progress, p) }}
	m, err := Train(context.Background(), gaussianSpec(t), theta, x, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(progress) < 2 || progress[len(progress)-1].BestValLoss >= progress[0].ValLoss {
		t.Fatalf("validation loss did not improve: %+v", progress)
	}
	// The exact posterior's loss on the same validation rows. The gap is a
	// paired difference, so sampling noise mostly cancels; a well-trained
	// Gaussian family contains the posterior and should come within a few
	// hundredths of a nat.
	_, val, err := split(n, 0.1, opts.Seed)
	if err != nil {
		t.Fatal(err)
	}
	s2 := sigma * sigma / (1 + sigma*sigma)
	var exact float64
	for _, i := range val {
		for j := range 2 {
			d := theta.At(i, j) - x.At(i, j)/(1+sigma*sigma)
			exact += 0.5*math.Log(2*math.Pi*s2) + d*d/(2*s2)
		}
	}
	exact /= float64(len(val))
	gap := m.Summary.BestValLoss - exact
	t.Logf("epochs %d (best %d), best validation loss %.4f, exact posterior %.4f", m.Summary.Epochs, m.Summary.BestEpoch, m.Summary.BestValLoss, exact)
	if gap < -0.05 || gap > 0.1 {
		t.Errorf("best validation loss %.4f, exact posterior's %.4f", m.Summary.BestValLoss, exact)
	}
	// The model's own validation loss, recomputed in float64 from the
	// returned weights, is the best one reported: the best weights came back.
	o, e, err := eager.FromModel(m)
	if err != nil {
		t.Fatal(err)
	}
	th, xs := mat.NewDense(len(val), 2, nil), mat.NewDense(len(val), 2, nil)
	for k, i := range val {
		th.SetRow(k, theta.RawRowView(i))
		xs.SetRow(k, x.RawRowView(i))
	}
	lp := eager.Dense(m.LogProb(o, e, th, xs))
	var loss float64
	for k := range len(val) {
		loss -= lp.At(k, 0)
	}
	loss /= float64(len(val))
	if math.Abs(loss-m.Summary.BestValLoss) > 1e-4 {
		t.Errorf("returned model's validation loss %.6f, best reported %.6f", loss, m.Summary.BestValLoss)
	}
	// Posterior mean at a few x from 4000 draws; Monte Carlo error
	// σ_post/√4000 ≈ 0.007, the rest is the fit from 2700 simulations
	// (typically ≲ 0.05; the bound is a quarter of the posterior's sd).
	const draws = 4000
	rng := rand.New(rand.NewPCG(3, 3))
	for _, xo := range [][]float64{{0, 0}, {1, -0.5}, {-1.5, 1}} {
		xm := mat.NewDense(draws, 2, nil)
		for i := range draws {
			xm.SetRow(i, xo)
		}
		noise := mat.NewDense(draws, 2, randn(rng, 2*draws))
		s, _ := m.Sample(o, e, noise, xm)
		for j := range 2 {
			mean := mat.Sum(eager.Dense(s).ColView(j)) / draws
			want := xo[j] / (1 + sigma*sigma)
			if math.Abs(mean-want) > 0.1 {
				t.Errorf("posterior mean at x=%v: θ%d %.3f, exact %.3f", xo, j, mean, want)
			}
		}
	}
}

// TestEarlyStopping: training stops StopAfterEpochs epochs after the best
// one, reports each epoch, and returns the best epoch's weights.
func TestEarlyStopping(t *testing.T) {
	// x carries no information about θ: the validation loss bottoms out
	// quickly and early stopping must end the run.
	theta, _ := linearGaussian(400, 1, 2)
	_, x := linearGaussian(400, 1, 3)
	var progress []Progress
	opts := Options{Seed: 1, BatchSize: 50, LearningRate: 5e-3, StopAfterEpochs: 3, MaxEpochs: 300,
		Progress: func(p Progress) { progress = append(progress, p) }}
	m, err := Train(context.Background(), gaussianSpec(t), theta, x, opts)
	if err != nil {
		t.Fatal(err)
	}
	s := m.Summary
	if s.Epochs >= opts.MaxEpochs || s.Epochs != s.BestEpoch+opts.StopAfterEpochs || len(progress) != s.Epochs {
		t.Fatalf("stopped after %d epochs (best %d, %d reports), want best+%d", s.Epochs, s.BestEpoch, len(progress), opts.StopAfterEpochs)
	}
	best := math.Inf(1)
	for i, p := range progress {
		if p.Epoch != i+1 || p.Steps != (i+1)*8 { // 360 training rows in batches of 50
			t.Errorf("report %d: epoch %d after %d steps", i, p.Epoch, p.Steps)
		}
		best = math.Min(best, p.ValLoss)
		if p.BestValLoss != best {
			t.Errorf("epoch %d: best validation loss %v, want %v", p.Epoch, p.BestValLoss, best)
		}
	}
	if s.BestValLoss != best || progress[s.BestEpoch-1].ValLoss != best {
		t.Errorf("summary best %v in epoch %d, reports' best %v", s.BestValLoss, s.BestEpoch, best)
	}
	if last := progress[len(progress)-1]; last.EpochsSinceImprovement != opts.StopAfterEpochs {
		t.Errorf("last report %d epochs since improvement", last.EpochsSinceImprovement)
	}
}

// TestTrainReproducible: the same seed gives the same weights bit for bit
// (float32 and float64); another seed does not.
func TestTrainReproducible(t *testing.T) {
	theta, x := linearGaussian(300, 0.5, 4)
	spec := gaussianSpec(t)
	spec.Hidden = 16
	for _, f64 := range []bool{false, true} {
		opts := Options{Seed: 11, BatchSize: 64, MaxEpochs: 3, Float64: f64}
		a, err := Train(context.Background(), spec, theta, x, opts)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Train(context.Background(), spec, theta, x, opts)
		if err != nil {
			t.Fatal(err)
		}
		if d := weightDiff(a, b); d != 0 || a.Summary.BestValLoss != b.Summary.BestValLoss {
			t.Errorf("float64 %t: same seed, weights differ by %g, losses %v and %v", f64, d, a.Summary.BestValLoss, b.Summary.BestValLoss)
		}
		opts.Seed = 12
		c, err := Train(context.Background(), spec, theta, x, opts)
		if err != nil {
			t.Fatal(err)
		}
		if weightDiff(a, c) == 0 {
			t.Errorf("float64 %t: seeds 11 and 12 gave the same weights", f64)
		}
	}
}

// weightDiff is the largest absolute difference between two models' weights.
func weightDiff(a, b *models.Model) float64 {
	var d float64
	for k, w := range a.Weights {
		for i, v := range w {
			d = math.Max(d, math.Abs(float64(v-b.Weights[k][i])))
		}
	}
	return d
}

// cancelAfter is a context whose Err turns to Canceled on its nth call, so
// that a test can stop training at an exact step.
type cancelAfter struct {
	context.Context
	n, calls atomic.Int64
}

func (c *cancelAfter) Err() error {
	if c.calls.Add(1) >= c.n.Load() {
		return context.Canceled
	}
	return nil
}

func newCancelAfter(n int64) *cancelAfter {
	c := &cancelAfter{Context: context.Background()}
	c.n.Store(n)
	return c
}

// TestCancelCheckpointResume: a run cancelled mid-epoch (and one cancelled
// at an epoch's end) writes a checkpoint, and resuming from it ends with
// the weights and summary of the run that was never interrupted, with a
// constant learning rate and with one that decays on plateaus.
func TestCancelCheckpointResume(t *testing.T) {
	theta, x := linearGaussian(500, 0.5, 5)
	spec := gaussianSpec(t)
	spec.Hidden = 16
	for _, base := range []Options{
		{Seed: 3, BatchSize: 64, MaxEpochs: 4},
		// A rate this large makes the validation loss stall, so the rate
		// decays after the interruptions on a count begun before them.
		{Seed: 3, BatchSize: 64, MaxEpochs: 8, LearningRate: 0.05, LRDecay: 0.5, LRPatience: 1},
	} {
		var rates []float64
		opts := base
		opts.Progress = func(p Progress) { rates = append(rates, p.LearningRate) }
		want, err := Train(context.Background(), spec, theta, x, opts)
		if err != nil {
			t.Fatal(err)
		}
		if base.LRDecay > 0 && (rates[1] != base.LearningRate || rates[len(rates)-1] >= rates[2]) {
			t.Fatalf("learning rates %v: no decay to resume across", rates)
		}
		// 450 training rows make 8 steps an epoch: stop in epoch 2, step 4,
		// and at the start of epoch 3.
		for _, stopAt := range []int64{12, 17} {
			path := filepath.Join(t.TempDir(), "run.ckpt")
			opts := base
			opts.CheckpointPath = path
			_, err := Train(newCancelAfter(stopAt), spec, theta, x, opts)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled run returned %v", err)
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("no checkpoint after cancelling: %v", err)
			}
			opts.Resume = true
			got, err := Train(context.Background(), spec, theta, x, opts)
			if err != nil {
				t.Fatal(err)
			}
			if d := weightDiff(got, want); d != 0 {
				t.Errorf("decay %v, stopped at check %d: resumed weights differ by %g", base.LRDecay, stopAt, d)
			}
			if got.Summary.Epochs != want.Summary.Epochs || got.Summary.BestEpoch != want.Summary.BestEpoch ||
				got.Summary.BestValLoss != want.Summary.BestValLoss {
				t.Errorf("decay %v, stopped at check %d: resumed summary %+v, uninterrupted %+v", base.LRDecay, stopAt, got.Summary, want.Summary)
			}
			// Resuming a finished run returns the same model at once.
			again, err := Train(newCancelAfter(1), spec, theta, x, opts)
			if err != nil || weightDiff(again, want) != 0 {
				t.Errorf("resuming a finished run: %v", err)
			}
		}
	}
}

// TestPlateau: the rate decays after more than patience epochs without
// improvement, counted afresh after each decay and each improvement, as
// PyTorch's ReduceLROnPlateau(mode="min", threshold=0) does.
func TestPlateau(t *testing.T) {
	p := plateau{factor: 0.5, patience: 2}
	lr := 1.0
	var got []float64
	for _, improved := range []bool{true, false, false, false, false, false, false, true, false, false, false} {
		lr = p.next(improved, lr)
		got = append(got, lr)
	}
	want := []float64{1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.125}
	if !slices.Equal(got, want) {
		t.Errorf("rates %v, want %v", got, want)
	}
	off := plateau{patience: 1}
	if lr := off.next(false, 1); off.next(false, lr) != 1 {
		t.Error("a zero factor decayed the rate")
	}
}

// checkpointed trains the short run whose checkpoint the resume tests
// resume, and returns its inputs and options; opts.CheckpointPath holds the
// checkpoint, in a fresh folder, and opts.Resume is set.
func checkpointed(t *testing.T) (theta, x *mat.Dense, spec models.Spec, opts Options) {
	t.Helper()
	theta, x = linearGaussian(200, 0.5, 6)
	spec = gaussianSpec(t)
	spec.Hidden = 8
	path := filepath.Join(t.TempDir(), "run.ckpt")
	opts = Options{Seed: 3, BatchSize: 64, MaxEpochs: 1, CheckpointPath: path, Resume: true}
	if _, err := Train(context.Background(), spec, theta, x, opts); err != nil {
		t.Fatal(err)
	}
	return theta, x, spec, opts
}

// TestResumeMismatch: a checkpoint is never resumed with other data or
// other settings.
func TestResumeMismatch(t *testing.T) {
	theta, x, spec, opts := checkpointed(t)
	other := mat.DenseCopyOf(theta)
	other.Set(0, 0, 1.5)
	if _, err := Train(context.Background(), spec, other, x, opts); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("other data: %v", err)
	}
	opts.LRPatience = 3 // unused without a decay
	if _, err := Train(context.Background(), spec, theta, x, opts); err != nil {
		t.Errorf("other patience without decay: %v", err)
	}
	opts.BatchSize = 32
	if _, err := Train(context.Background(), spec, theta, x, opts); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("other batch size: %v", err)
	}
	opts.BatchSize, opts.LRDecay = 64, 0.5
	if _, err := Train(context.Background(), spec, theta, x, opts); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("other learning-rate decay: %v", err)
	}
	if err := os.WriteFile(opts.CheckpointPath, []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Train(context.Background(), spec, theta, x, opts); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("corrupt checkpoint: %v", err)
	}
}

// TestBadInput: unusable data and options are errors naming the problem.
func TestBadInput(t *testing.T) {
	spec := gaussianSpec(t)
	theta, x := linearGaussian(50, 0.5, 7)
	nan := mat.DenseCopyOf(theta)
	nan.Set(3, 1, math.NaN())
	inf := mat.DenseCopyOf(x)
	inf.Set(7, 0, math.Inf(-1))
	cases := []struct {
		name     string
		spec     models.Spec
		theta, x *mat.Dense
		opts     Options
		is       error
		says     string
	}{
		{"nan", spec, nan, inf, Options{}, ErrData, "rows 3, 7"},
		{"rows", spec, theta, mat.NewDense(49, 2, nil), Options{}, ErrData, "50 rows of θ but 49 rows of x"},
		{"theta dim", spec, mat.NewDense(50, 3, nil), x, Options{}, ErrData, "θ has 3 columns"},
		{"x dim", spec, theta, mat.NewDense(50, 1, nil), Options{}, ErrData, "x has 1 columns"},
		{"too few", spec, theta.Slice(0, 1, 0, 2).(*mat.Dense), x.Slice(0, 1, 0, 2).(*mat.Dense), Options{}, ErrData, "cannot be split"},
		{"small fraction", spec, theta, x, Options{ValidationFraction: 1e-17}, ErrData, "cannot be split"},
		{"kind", models.Spec{Kind: "nope", ThetaDim: 2, XDim: 2}, theta, x, Options{}, models.ErrUnknownKind, "nope"},
		{"fraction", spec, theta, x, Options{ValidationFraction: 1}, nil, "validation fraction"},
		{"batch", spec, theta, x, Options{BatchSize: -1}, nil, "batch size"},
		{"resume", spec, theta, x, Options{Resume: true}, nil, "checkpoint path"},
		{"decay", spec, theta, x, Options{LRDecay: 1}, nil, "learning-rate decay 1 not in (0, 1)"},
		{"decay patience", spec, theta, x, Options{LRDecay: 0.5, LRPatience: -1}, nil, "learning-rate patience -1"},
	}
	for _, c := range cases {
		_, err := Train(context.Background(), c.spec, c.theta, c.x, c.opts)
		if err == nil || (c.is != nil && !errors.Is(err, c.is)) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.says)
		}
	}
}

// TestDivergence: a loss that turns NaN or infinite stops training with an
// error naming the epoch, never a model.
func TestDivergence(t *testing.T) {
	theta, x := linearGaussian(200, 0.5, 8)
	m, err := Train(context.Background(), gaussianSpec(t), theta, x, Options{LearningRate: 1e6, ClipMaxNorm: -1, MaxEpochs: 50, Seed: 1})
	if !errors.Is(err, ErrDiverged) || !strings.Contains(err.Error(), "epoch") || m != nil {
		t.Fatalf("Train returned %v and error %v", m, err)
	}
	t.Log(err)
}

// TestConcurrentTrain: runs in parallel goroutines share nothing (run it
// with -race) and each gives the model a lone run gives.
func TestConcurrentTrain(t *testing.T) {
	theta, x := linearGaussian(300, 0.5, 9)
	spec := gaussianSpec(t)
	spec.Hidden = 8
	opts := Options{Seed: 1, MaxEpochs: 3}
	want, err := Train(context.Background(), spec, theta, x, opts)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([]*models.Model, 3)
	for i := range got {
		wg.Go(func() {
			m, err := Train(context.Background(), spec, theta, x, opts)
			if err != nil {
				t.Error(err)
			}
			got[i] = m
		})
	}
	wg.Wait()
	for i, m := range got {
		if m != nil && weightDiff(m, want) != 0 {
			t.Errorf("concurrent run %d differs from a lone run", i)
		}
	}
}

// TestResumeVersion1: a checkpoint written before learning-rate schedules
// existed resumes as a run with a constant rate.
func TestResumeVersion1(t *testing.T) {
	theta, x := linearGaussian(300, 0.5, 8)
	spec := gaussianSpec(t)
	spec.Hidden = 8
	path := filepath.Join(t.TempDir(), "run.ckpt")
	opts := Options{Seed: 4, BatchSize: 64, MaxEpochs: 3}
	want, err := Train(context.Background(), spec, theta, x, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.CheckpointPath = path
	if _, err := Train(newCancelAfter(6), spec, theta, x, opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run returned %v", err)
	}
	f, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := decodeCheckpoint(f)
	if err != nil {
		t.Fatal(err)
	}
	// Version 1 files were bare gob, without the checksum header.
	c.Version, c.LRPatience, c.LR, c.PlateauBad = 1, 0, 0, 0
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(c); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	opts.Resume = true
	got, err := Train(context.Background(), spec, theta, x, opts)
	if err != nil {
		t.Fatal(err)
	}
	if d := weightDiff(got, want); d != 0 {
		t.Errorf("resumed weights differ by %g", d)
	}
}

// TestCheckpointDamaged: a checkpoint with a flipped bit or cut short is
// refused, naming the damage, instead of resumed with altered weights.
func TestCheckpointDamaged(t *testing.T) {
	theta, x, spec, opts := checkpointed(t)
	path := opts.CheckpointPath
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A flip that gob still decodes, into other numbers: without the
	// checksum it would resume silently.
	if !bytes.HasPrefix(good, checkpointMagic) {
		t.Fatal("the checkpoint does not start with its checksum header")
	}
	flipped := bytes.Clone(good)
	payload := flipped[len(checkpointMagic)+checkpointHeader:]
	for i := len(payload) / 2; ; i++ {
		payload[i] ^= 1
		var c checkpointFile
		if gob.NewDecoder(bytes.NewReader(payload)).Decode(&c) == nil {
			break
		}
		payload[i] ^= 1
	}
	for _, c := range []struct {
		name string
		file []byte
		want string
	}{
		{"bit flip", flipped, "checksum"},
		{"truncated", good[:len(good)-100], "truncated"},
		{"header only", good[:len(checkpointMagic)+4], "truncated"},
	} {
		if err := os.WriteFile(path, c.file, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Train(context.Background(), spec, theta, x, opts)
		if !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %v naming %q", c.name, err, ErrCheckpoint, c.want)
		}
	}
	// The intact file still resumes.
	if err := os.WriteFile(path, good, 0o644); err != nil {
		t.Fatal(err)
	}
	opts.MaxEpochs = 2
	if _, err := Train(context.Background(), spec, theta, x, opts); err != nil {
		t.Errorf("intact checkpoint: %v", err)
	}
}

// TestClipOptions: any negative clip means off, as one value (so that a
// checkpoint compares it), zero takes sbi's 5, and NaN is refused.
func TestClipOptions(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{{0, 5}, {-3, NoClip}, {NoClip, NoClip}, {2, 2}} {
		o, err := Options{ClipMaxNorm: c.in}.withDefaults(models.MethodNPE)
		if err != nil || o.ClipMaxNorm != c.want {
			t.Errorf("clip %v: %v, %v; want %v", c.in, o.ClipMaxNorm, err, c.want)
		}
	}
	if _, err := (Options{ClipMaxNorm: math.NaN()}).withDefaults(models.MethodNPE); err == nil {
		t.Error("clip NaN accepted")
	}
}
