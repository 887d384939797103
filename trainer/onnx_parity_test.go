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
	rng, theta, x := parityData(3)
	n, d := theta.Dims()
	_, xd := x.Dims()
	for _, kind := range []string{"gaussian", "mdn", "maf", "nsf"} {
		t.Run(kind, func(t *testing.T) {
			spec, _ := models.DefaultSpec(kind, d, xd)
			spec.Hidden = 16
			m, rm := trainExported(t, spec, theta, x, Options{MaxEpochs: 3, Seed: 1})
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
				parity(t, "log_prob", rows, out.LogProb, lp, tol)
				parity(t, "sample", rows, out.Sample, st, tol)
				parity(t, "sample_log_prob", rows, out.SampleLogProb, slp, tol)
			}
		})
	}
}

// parityData draws the 600 pairs the parity tests train on: θ = (a, b) ~
// N(0, I), x = (a + 0.3ε₁, ab, 2 + b + 0.1ε₂). The generator goes on to draw
// the test inputs.
func parityData(seed uint64) (rng *rand.Rand, theta, x *mat.Dense) {
	const n = 600
	rng = rand.New(rand.NewPCG(seed, 3))
	theta, x = mat.NewDense(n, 2, nil), mat.NewDense(n, 3, nil)
	for i := range n {
		a, b := rng.NormFloat64(), rng.NormFloat64()
		theta.SetRow(i, []float64{a, b})
		x.SetRow(i, []float64{a + 0.3*rng.NormFloat64(), a * b, 2 + b + 0.1*rng.NormFloat64()})
	}
	return rng, theta, x
}

// trainExported trains spec briefly on parityData, exports the model and
// opens the file with onnxruntime on one thread, closed with the test; it
// skips the test where the library is missing, unless on CI.
func trainExported(t *testing.T, spec models.Spec, theta, x *mat.Dense, opts Options) (*models.Model, *runtime.Model) {
	t.Helper()
	m, err := Train(context.Background(), spec, theta, x, opts)
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
	t.Cleanup(func() { rm.Close() })
	return m, rm
}

// parityGraph is the trainer's float32 graph of net on m's weights, with a
// function that feeds it an input of rows × cols values.
func parityGraph(t *testing.T, m *models.Model, net models.Network, rows int) (*graph, func(cols int, data []float32) models.Tensor) {
	t.Helper()
	values := make(map[string][]float64)
	for k, w := range m.Weights {
		values[k] = widen(w)
	}
	w, err := newWeights(net, values, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	g := newGraph(w)
	return g, func(cols int, data []float32) models.Tensor {
		n, v := g.Input(rows, cols)
		copy(v.Data().([]float32), data)
		return n
	}
}

// parity fails the test unless onnxruntime's values got equal the trainer's
// want within the relative tolerance tol.
func parity(t *testing.T, name string, rows int, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows: %s has %d values, want %d", rows, name, len(got), len(want))
	}
	for i := range want {
		if diff := math.Abs(float64(got[i]) - want[i]); !(diff <= tol*math.Max(1, math.Abs(want[i]))) {
			t.Fatalf("%d rows: %s[%d]: onnxruntime %v, trainer %v", rows, name, i, got[i], want[i])
		}
	}
}

// graphOutputs evaluates the model's raw-unit log-prob and sample paths on
// the trainer's float32 graph.
func graphOutputs(t *testing.T, m *models.Model, e models.Estimator, rows int, xs, ts, noise []float32) (lp, st, slp []float64) {
	t.Helper()
	g, input := parityGraph(t, m, e, rows)
	nn, nu := e.Noise()
	xt := input(m.Spec.XDim, xs)
	logProb := m.LogProb(g, e, input(m.Spec.ThetaDim, ts), xt)
	sample, sampleLP := m.Sample(g, e, input(nn+nu, noise), xt)
	res := runGraph[float32](t, g, logProb, sample, sampleLP)
	return widen(res[0]), widen(res[1]), widen(res[2])
}
