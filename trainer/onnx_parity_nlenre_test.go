package trainer

import (
	"math/rand/v2"
	"testing"

	"github.com/amortize/amortize/models"
)

// TestONNXParityNLENRE trains every NLE estimator and NRE classifier
// briefly, exports it, and checks that onnxruntime's log q(x|θ), x draws
// and log r(θ, x) equal the trainer's float32 graph on the same inputs
// (relative 1e-4), for calls of b rows of θ (NLE) or x (NRE) with n values
// each, at several (b, n).
func TestONNXParityNLENRE(t *testing.T) {
	rng, theta, x := parityData(13)
	_, d := theta.Dims()
	_, xd := x.Dims()
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
			m, rm := trainExported(t, spec, theta, x, Options{MaxEpochs: 2, Seed: 1, Loss: c.loss})
			if rm.Method() != c.method {
				t.Fatalf("method %q, want %q", rm.Method(), c.method)
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
				g, input := parityGraph(t, m, net, rows)
				var got []float32
				var err error
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
					parity(t, "log q(x|θ)", rows, got, widen(res[0]), 1e-4)
					parity(t, "x draw", rows, sx, widen(res[1]), 1e-4)
					parity(t, "log q of the draw", rows, slp, widen(res[2]), 1e-4)
					continue
				}
				got, err = rm.LogRatio(ov, b, iv, per)
				if err != nil {
					t.Fatal(err)
				}
				outs = append(outs, m.LogRatio(g, net.(models.Classifier), input(d, iv), input(xd, spread)))
				parity(t, "log r", rows, got, widen(runGraph[float32](t, g, outs...)[0]), 1e-4)
			}
		})
	}
}
