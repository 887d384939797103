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

// TestONNXParityNLENRE trains every NLE estimator and NRE classifier
// briefly, exports it, and checks that onnxruntime's log q(x|θ), x draws
// and log r(θ, x) equal the trainer's float32 graph on the same inputs
// (relative 1e-4), for calls of b rows of θ (NLE) or x (NRE) with n values
// each, at several (b, n).
func TestONNXParityNLENRE(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 3))
	const n, d, xd = 600, 2, 3
	theta, x := mat.NewDense(n, d, nil), mat.NewDense(n, xd, nil)
	for i := range n {
		a, b := rng.NormFloat64(), rng.NormFloat64()
		theta.SetRow(i, []float64{a, b})
		x.SetRow(i, []float64{a + 0.3*rng.NormFloat64(), a * b, 2 + b + 0.1*rng.NormFloat64()})
	}
	type tc struct {
		kind, method string
		loss         models.Loss
	}
	var cases []tc
	for _, k := range models.Kinds() {
		cases = append(cases, tc{k, models.MethodNLE, models.Loss{}})
	}
	for i, k := range models.ClassifierKinds() {
		l := []string{models.LossNREB, models.LossNREA, models.LossBNRE}[i%3]
		cases = append(cases, tc{k, models.MethodNRE, models.Loss{Kind: l}})
	}
	shapes := [][2]int{{1, 1}, {3, 7}, {700, 1}, {5, 900}}
	for _, c := range cases {
		t.Run(c.method+"_"+c.kind, func(t *testing.T) {
			spec, _ := models.DefaultSpec(c.kind, d, xd)
			spec.Method = c.method
			if spec.Hidden > 0 {
				spec.Hidden = 16
			}
			m, err := Train(context.Background(), spec, theta, x, Options{MaxEpochs: 2, Seed: 1, Loss: c.loss})
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
			if rm.Method() != c.method {
				t.Fatalf("method %q, want %q", rm.Method(), c.method)
			}
			values := make(map[string][]float64)
			for k, w := range m.Weights {
				values[k] = widen(w)
			}
			net, _ := m.Network()
			for _, sh := range shapes {
				b, per := sh[0], sh[1]
				rows := b * per
				// The per-row input (θ for NLE, x for NRE), and the values
				// scored against it, spread to one pair per row for the graph.
				outer, inner := d, xd
				if c.method == models.MethodNRE {
					outer, inner = xd, d
				}
				ov, iv := make([]float32, b*outer), make([]float32, rows*inner)
				for i := range ov {
					ov[i] = float32(rng.NormFloat64())
				}
				for i := range iv {
					iv[i] = float32(1.5 * rng.NormFloat64())
				}
				spread := make([]float32, 0, rows*outer)
				for i := range b {
					for range per {
						spread = append(spread, ov[i*outer:(i+1)*outer]...)
					}
				}
				w, err := NewWeights(net, values, tensor.Float32)
				if err != nil {
					t.Fatal(err)
				}
				g := NewGraph(w)
				input := func(cols int, data []float32) models.Tensor {
					n, v := g.Input(rows, cols)
					copy(v.Data().([]float32), data)
					return n
				}
				var got []float32
				var outs []models.Tensor
				if c.method == models.MethodNLE {
					e := net.(models.Estimator)
					got, err = rm.LogLikelihood(ov, b, iv, per)
					if err != nil {
						t.Fatal(err)
					}
					th := input(d, spread)
					outs = append(outs, m.LogProb(g, e, th, input(xd, iv)))
					sx, slp, err := rm.SampleX(ov, b, per, rand.NewPCG(uint64(rows), 2))
					if err != nil {
						t.Fatal(err)
					}
					noise := rm.Noise(nil, rows, rand.NewPCG(uint64(rows), 2))
					gs, glp := m.Sample(g, e, input(rm.Metadata().Noise.Dim(), noise), th)
					outs = append(outs, gs, glp)
					res := runGraph[float32](t, g, outs...)
					parity(t, "log q(x|θ)", rows, got, res[0])
					parity(t, "x draw", rows, sx, res[1])
					parity(t, "log q of the draw", rows, slp, res[2])
					continue
				}
				got, err = rm.LogRatio(ov, b, iv, per)
				if err != nil {
					t.Fatal(err)
				}
				outs = append(outs, m.LogRatio(g, net.(models.Classifier), input(d, iv), input(xd, spread)))
				parity(t, "log r", rows, got, runGraph[float32](t, g, outs...)[0])
			}
		})
	}
}

func parity(t *testing.T, name string, rows int, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows: %s has %d values, want %d", rows, name, len(got), len(want))
	}
	for i := range want {
		if diff := math.Abs(float64(got[i]) - float64(want[i])); !(diff <= 1e-4*math.Max(1, math.Abs(float64(want[i])))) {
			t.Fatalf("%d rows: %s[%d]: onnxruntime %v, trainer %v", rows, name, i, got[i], want[i])
		}
	}
}
