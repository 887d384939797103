package trainer

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/amortize/amortize/export"
	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/runtime"
	"gonum.org/v1/gonum/mat"
	"gorgonia.org/tensor"
)

// TestONNXParity trains each estimator kind briefly, exports it, and checks
// that onnxruntime's log-probs and samples equal the trainer's own float32
// gorgonia graph on the same θ, x and noise, at batch 1 and 10,000.
func TestONNXParity(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	const n, d, xd = 600, 2, 3
	theta, x := mat.NewDense(n, d, nil), mat.NewDense(n, xd, nil)
	for i := range n {
		a, b := rng.NormFloat64(), rng.NormFloat64()
		theta.SetRow(i, []float64{a, b})
		x.SetRow(i, []float64{a + 0.3*rng.NormFloat64(), a * b, 2 + b + 0.1*rng.NormFloat64()})
	}
	for _, kind := range []string{"gaussian", "mdn", "maf", "nsf"} {
		t.Run(kind, func(t *testing.T) {
			spec, _ := models.DefaultSpec(kind, d, xd)
			spec.Hidden = 16
			m, err := Train(context.Background(), spec, theta, x, Options{MaxEpochs: 3, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			m.ThetaNames, m.XNames = []string{"a", "b"}, []string{"u", "v", "w"}
			var buf bytes.Buffer
			if err := export.Write(m, &buf); err != nil {
				t.Fatal(err)
			}
			rm, err := runtime.OpenBytes(buf.Bytes(), runtime.Options{Threads: 1})
			if errors.Is(err, runtime.ErrNoLibrary) && os.Getenv("CI") == "" {
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer rm.Close()
			e, _ := m.Estimator()
			tol := 1e-4
			if kind == "nsf" {
				tol = 1e-3
			}
			for _, rows := range []int{1, 10000} {
				xs := make([]float32, rows*xd)
				ts := make([]float32, rows*d)
				for i := range rows {
					r := i % n
					for j := range xd {
						xs[i*xd+j] = float32(x.At(r, j))
					}
					for j := range d {
						ts[i*d+j] = float32(theta.At(r, j) + 0.2*rng.NormFloat64())
					}
				}
				noise := rm.Noise(nil, rows, rand.NewPCG(uint64(rows), 1))
				// One observation per row: batch = rows, one θ and one draw each.
				out, err := rm.Run(xs, rows, ts, 1, noise, 1, nil)
				if err != nil {
					t.Fatal(err)
				}
				lp, st, slp := graphOutputs(t, m, e, rows, xs, ts, noise)
				check := func(name string, got []float32, want []float64) {
					for i := range want {
						if diff := math.Abs(float64(got[i]) - want[i]); !(diff <= tol*math.Max(1, math.Abs(want[i]))) {
							t.Fatalf("batch %d: %s[%d]: onnxruntime %v, trainer %v", rows, name, i, got[i], want[i])
						}
					}
				}
				check("log_prob", out.LogProb, lp)
				check("sample", out.Sample, st)
				check("sample_log_prob", out.SampleLogProb, slp)
			}
		})
	}
}

// graphOutputs evaluates the model's raw-unit log-prob and sample paths on
// the trainer's float32 graph.
func graphOutputs(t *testing.T, m *models.Model, e models.Estimator, rows int, xs, ts, noise []float32) (lp, st, slp []float64) {
	t.Helper()
	values := make(map[string][]float64)
	for k, w := range m.Weights {
		values[k] = widen(w)
	}
	w, err := NewWeights(e, values, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	g := NewGraph(w)
	input := func(cols int, data []float32) models.Tensor {
		n, v := g.Input(rows, cols)
		copy(v.Data().([]float32), data)
		return n
	}
	nn, nu := e.Noise()
	xt := input(m.Spec.XDim, xs)
	logProb := m.LogProb(g, e, input(m.Spec.ThetaDim, ts), xt)
	sample, sampleLP := m.Sample(g, e, input(nn+nu, noise), xt)
	res := runGraph[float32](t, g, logProb, sample, sampleLP)
	return widen(res[0]), widen(res[1]), widen(res[2])
}
