package trainer

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/models/eager"
	"gorgonia.org/tensor"
)

// TestNLEGradients checks the NLE loss, −Σ wᵢ log q(xᵢ|θᵢ), and its
// gradient for every density estimator against finite differences of the
// eager reference.
func TestNLEGradients(t *testing.T) {
	for i, kind := range models.Kinds() {
		t.Run(kind, func(t *testing.T) {
			spec, _ := models.DefaultSpec(kind, 2, 3)
			spec.Method, spec.Hidden = models.MethodNLE, 12
			e, err := models.New(spec)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(14, uint64(i)))
			values := models.InitParams(e, rng)
			theta, x, w := batch(rng, 7, 2, 3)
			checkGradient(t, e, values, theta, x, w, 3, rng)
			checkFloat32(t, e, values, theta, x, w, 1e-5)
		})
	}
}

// nreLoss is a classifier's batch loss by package eager: −Σ wᵢ objᵢ plus
// λ(Σ wᵢ balᵢ)² for BNRE, for pairs laid out as the trainer feeds them.
func nreLoss(t testing.TB, c models.Classifier, l models.Loss, values map[string][]float64, theta, x, w []float64) float64 {
	t.Helper()
	o, err := eager.New(c, values)
	if err != nil {
		t.Fatal(err)
	}
	s, rows, cols := c.Spec(), len(w), l.Columns()
	logits := c.Logit(o, eager.Matrix(rows*cols, s.ThetaDim, theta), eager.Matrix(rows*cols, s.XDim, x))
	obj, bal := l.Objective(o, o.Reshape(logits, cols))
	var loss, m float64
	for i, v := range eager.Dense(obj).RawMatrix().Data {
		loss -= w[i] * v
		if bal != nil {
			m += w[i] * eager.Dense(bal).At(i, 0)
		}
	}
	return loss + l.Lambda*m*m
}

// TestNREGradients checks every loss of every classifier: the trainer's
// loss against the eager one and its gradient against central differences
// (tolerances as checkGradient's).
func TestNREGradients(t *testing.T) {
	losses := []models.Loss{{Kind: models.LossNREA}, {Kind: models.LossNREB, Atoms: 4}, {Kind: models.LossNREC, Atoms: 3, Gamma: 0.7}, {Kind: models.LossBNRE, Lambda: 3}}
	for ci, kind := range models.ClassifierKinds() {
		for li, l := range losses {
			t.Run(kind+"/"+l.Kind, func(t *testing.T) {
				l, err := l.WithDefaults()
				if err != nil {
					t.Fatal(err)
				}
				spec, _ := models.DefaultSpec(kind, 2, 3)
				if spec.Hidden > 0 {
					spec.Hidden = 10
				}
				c, err := models.NewClassifier(spec)
				if err != nil {
					t.Fatal(err)
				}
				rng := rand.New(rand.NewPCG(uint64(ci), uint64(li)))
				values := models.InitParams(c, rng)
				// Larger output weights, so that the logits and the
				// balance are far from their initial near-constants.
				for j := range values["out.w"] {
					values["out.w"][j] *= 5
				}
				const rows = 6
				cols := l.Columns()
				theta, x := randn(rng, rows*cols*2), randn(rng, rows*cols*3)
				w := make([]float64, rows)
				for i := range rows - 1 {
					w[i] = 1.0 / (rows - 1) // the last row is padding
				}
				n, _ := lossNet[float64](t, c, l, values, theta, x, w)
				if err := n.run(); err != nil {
					t.Fatal(err)
				}
				want := nreLoss(t, c, l, values, theta, x, w)
				if d := math.Abs(n.loss[0] - want); d > 1e-10*math.Max(1, math.Abs(want)) {
					t.Errorf("graph loss %v, eager %v", n.loss[0], want)
				}
				off := 0
				for _, p := range c.Params() {
					v := values[p.Name]
					for range min(4, p.Size()) {
						j := rng.IntN(p.Size())
						orig := v[j]
						h := 1e-5 * math.Max(1, math.Abs(orig))
						v[j] = orig + h
						up := nreLoss(t, c, l, values, theta, x, w)
						v[j] = orig - h
						down := nreLoss(t, c, l, values, theta, x, w)
						v[j] = orig
						fd := (up - down) / (2 * h)
						if got := n.grad[off+j]; math.Abs(got-fd) > 1e-5*math.Max(math.Abs(got), math.Abs(fd))+1e-8 {
							t.Errorf("d loss/d %s[%d] = %.10g, finite difference %.10g", p.Name, j, got, fd)
						}
					}
					off += p.Size()
				}
			})
		}
	}
}

// TestContrasts checks the pairs fed to a classifier: each x with its own
// θ first, then per group distinct θ of other rows of the batch.
func TestContrasts(t *testing.T) {
	l, _ := models.Loss{Kind: models.LossNREC, Atoms: 3}.WithDefaults()
	spec, _ := models.DefaultSpec("linear", 1, 1)
	c, _ := models.NewClassifier(spec)
	const n = 8
	st := &state[float64]{spec: spec, opts: Options{Loss: l}}
	for i := range n {
		st.theta = append(st.theta, float64(i))
		st.x = append(st.x, float64(100+i))
	}
	w, _ := newWeights(c, models.InitParams(c, rand.NewPCG(1, 1)), tensor.Float64)
	net, err := newNet[float64](c, w, 5, true, l)
	if err != nil {
		t.Fatal(err)
	}
	batchRows := []int{6, 2, 5, 0} // one padding row
	all := []int{0, 1, 2, 3, 4, 5, 6, 7}
	st.feed(net, batchRows, all, rand.New(rand.NewPCG(2, 2)))
	cols := l.Columns()
	for i := range 5 {
		r := batchRows[min(i, 3)]
		if i == 4 {
			r = batchRows[0]
		}
		row := net.theta[i*cols : (i+1)*cols]
		if row[0] != float64(r) {
			t.Errorf("row %d: own θ %v, want %d", i, row[0], r)
		}
		for c := range cols {
			if net.x[i*cols+c] != float64(100+r) {
				t.Errorf("row %d pair %d: x %v, want %d", i, c, net.x[i*cols+c], 100+r)
			}
		}
		at := 1
		for _, k := range l.Contrasts() {
			g := slices.Clone(row[at : at+k])
			at += k
			slices.Sort(g)
			if len(slices.Compact(g)) != k {
				t.Errorf("row %d: group %v repeats a θ", i, row)
			}
			for _, v := range g {
				if v == float64(r) || !slices.Contains(batchRows, int(v)) && k <= len(batchRows)-1 {
					t.Errorf("row %d: contrast %v is its own θ or outside the batch", i, v)
				}
			}
		}
	}
}

// TestResumeNLENRE: an NLE and an NRE run stopped mid-epoch and resumed
// from its checkpoint end with the uninterrupted run's weights (the
// contrasting θ depend on the seed, epoch and step only), and a
// checkpoint of another loss is refused.
func TestResumeNLENRE(t *testing.T) {
	theta, x := linearGaussian(500, 0.5, 15)
	for _, c := range []struct {
		kind, method string
		loss         models.Loss
	}{{"maf", models.MethodNLE, models.Loss{}}, {"resnet", models.MethodNRE, models.Loss{Kind: models.LossNREC}}} {
		spec, _ := models.DefaultSpec(c.kind, 2, 2)
		spec.Method, spec.Hidden = c.method, 8
		opts := Options{Seed: 3, BatchSize: 64, MaxEpochs: 3, Loss: c.loss}
		want, err := Train(context.Background(), spec, theta, x, opts)
		if err != nil {
			t.Fatal(err)
		}
		opts.CheckpointPath = filepath.Join(t.TempDir(), "run.ckpt")
		if _, err := Train(newCancelAfter(12), spec, theta, x, opts); !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: cancelled run returned %v", c.method, err)
		}
		opts.Resume = true
		got, err := Train(context.Background(), spec, theta, x, opts)
		if err != nil {
			t.Fatal(err)
		}
		if d := weightDiff(got, want); d != 0 || got.Summary.BestValLoss != want.Summary.BestValLoss {
			t.Errorf("%s: resumed weights differ by %g, best loss %v vs %v", c.method, d, got.Summary.BestValLoss, want.Summary.BestValLoss)
		}
		if got.Method != c.method || (c.method == models.MethodNRE) != (got.Loss != nil && got.Loss.Kind == models.LossNREC) {
			t.Errorf("model method %q, loss %+v", got.Method, got.Loss)
		}
		if c.method == models.MethodNRE {
			opts.Loss = models.Loss{Kind: models.LossNREB}
			if _, err := Train(context.Background(), spec, theta, x, opts); !errors.Is(err, ErrCheckpoint) {
				t.Errorf("resume with another loss: %v", err)
			}
		}
	}
}
