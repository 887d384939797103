package posterior_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/amortize/amortize/diagnostics"
	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/runtime"
	"gonum.org/v1/gonum/mat"
)

// Every posterior serves the calibration checks.
var (
	_ diagnostics.Posterior = (*posterior.MCMC)(nil)
	_ diagnostics.Posterior = (*posterior.Direct)(nil)
)

// golden is a golden file's reference call: inputs and the log output.
type golden struct {
	X, Theta []float32
	B, S     int
	LogProb  []float32 `json:"log_prob"`
}

func openGolden(t *testing.T, name string) (*runtime.Model, golden) {
	t.Helper()
	rm, err := runtime.Open("../testdata/golden/"+name+".onnx", runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rm.Close() })
	b, err := os.ReadFile("../testdata/golden/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return rm, g
}

// A loaded model is each estimator interface, and answers through it as
// its golden file records.
func TestModelEstimators(t *testing.T) {
	near := func(t *testing.T, got, want []float32) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%d values, golden %d", len(got), len(want))
		}
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-4*math.Max(1, math.Abs(float64(want[i]))) {
				t.Fatalf("value %d: %v, golden %v", i, got[i], want[i])
			}
		}
	}
	for _, name := range []string{"nle_maf", "nle_nsf"} {
		rm, g := openGolden(t, name)
		var l posterior.LikelihoodEstimator = rm
		got, err := l.LogLikelihood(g.Theta, g.B, g.X, g.S)
		if err != nil {
			t.Fatal(err)
		}
		near(t, got, g.LogProb)
	}
	rm, g := openGolden(t, "nre_resnet")
	var r posterior.RatioEstimator = rm
	got, err := r.LogRatio(g.X, g.B, g.Theta, g.S)
	if err != nil {
		t.Fatal(err)
	}
	near(t, got, g.LogProb)
	rm, g = openGolden(t, "nsf")
	var q posterior.PosteriorEstimator = rm
	got, err = q.LogProb(g.X, g.B, g.Theta, g.S)
	if err != nil {
		t.Fatal(err)
	}
	near(t, got, g.LogProb)
}

// The NLE and NRE golden files sample through NewModelMCMC: finite draws
// inside the prior support, the same for a seed, SampleEach agreeing with
// SampleBatched, and LogDensityEach the potential: log prior plus the
// summed log-likelihood or log-ratio, −Inf outside the support.
func TestModelMCMCGolden(t *testing.T) {
	ctx := context.Background()
	xs := mat.NewDense(2, 3, []float64{0.1, -0.2, 0.3, -0.5, 0.4, 0.0})
	for _, name := range []string{"nle_maf", "nle_nsf", "nre_resnet"} {
		t.Run(name, func(t *testing.T) {
			rm, _ := openGolden(t, name)
			for _, method := range []string{posterior.MethodSlice, posterior.MethodEnsemble} {
				m, err := posterior.NewModelMCMC(rm, nil, posterior.MCMCOptions{
					Method: method, NumChains: 8, WarmupSteps: 20, Thin: 2, InitCandidates: 500,
				})
				if err != nil {
					t.Fatal(err)
				}
				res, err := m.SampleBatched(ctx, xs, 50, posterior.Source(7))
				if err != nil {
					t.Fatal(err)
				}
				p := rm.Prior()
				for i, r := range res {
					if n, d := r.Theta.Dims(); n != 50 || d != 2 {
						t.Fatalf("%s: %d×%d samples", method, n, d)
					}
					for k := range 50 {
						row := r.Theta.RawRowView(k)
						for _, v := range row {
							if math.IsNaN(v) || math.IsInf(v, 0) {
								t.Fatalf("%s: observation %d draw %d: %v", method, i, k, row)
							}
						}
						if !p.InSupport(row) {
							t.Fatalf("%s: observation %d draw %d %v outside the prior support", method, i, k, row)
						}
					}
					if r.Convergence == nil || len(r.Convergence.RHat) != 2 {
						t.Fatalf("%s: no convergence summary", method)
					}
				}
				each, err := m.SampleEach(ctx, xs, 50, posterior.Source(7))
				if err != nil {
					t.Fatal(err)
				}
				for i := range res {
					if !mat.Equal(each[i], res[i].Theta) {
						t.Errorf("%s: observation %d: SampleEach differs from SampleBatched for one seed", method, i)
					}
				}
				again, err := m.SampleEach(ctx, xs, 50, posterior.Source(8))
				if err != nil {
					t.Fatal(err)
				}
				if mat.Equal(again[0], each[0]) {
					t.Errorf("%s: seeds 7 and 8 gave the same draws", method)
				}
			}

			// The potential by hand at the draws of a run and at a θ
			// outside the support.
			m, err := posterior.NewModelMCMC(rm, nil, posterior.MCMCOptions{InitCandidates: 500})
			if err != nil {
				t.Fatal(err)
			}
			theta := []*mat.Dense{
				mat.NewDense(3, 2, []float64{0.5, -1, 2, 2.5, 4, 0}),
				mat.NewDense(1, 2, []float64{-0.25, 1.5}),
			}
			lp, err := m.LogDensityEach(ctx, xs, theta)
			if err != nil {
				t.Fatal(err)
			}
			for i, th := range theta {
				r, _ := th.Dims()
				for k := range r {
					row := th.RawRowView(k)
					want := math.Inf(-1)
					if rm.Prior().InSupport(row) {
						t32 := []float32{float32(row[0]), float32(row[1])}
						x32 := []float32{float32(xs.At(i, 0)), float32(xs.At(i, 1)), float32(xs.At(i, 2))}
						var v []float32
						if rm.Method() == "nle" {
							v, err = rm.LogLikelihood(t32, 1, x32, 1)
						} else {
							v, err = rm.LogRatio(x32, 1, t32, 1)
						}
						if err != nil {
							t.Fatal(err)
						}
						want = rm.Prior().LogProb(row) + float64(v[0])
					}
					if got := lp[i][k]; got != want && math.Abs(got-want) > 1e-5*math.Max(1, math.Abs(want)) {
						t.Errorf("observation %d θ %v: log density %v, by hand %v", i, row, got, want)
					}
				}
			}
			if _, err := m.LogDensityEach(ctx, xs, theta[:1]); err == nil {
				t.Error("one θ set for two observations: no error")
			}
			if _, err := m.LogDensityEach(ctx, xs, []*mat.Dense{mat.NewDense(1, 3, nil), theta[1]}); err == nil {
				t.Error("θ of dimension 3: no error")
			}
		})
	}
}

// EvalsPerStep counts the steps' evaluations alone: the ensemble's is
// one per walker and step, whatever the SIR candidates cost.
func TestEvalsPerStepLeavesOutInit(t *testing.T) {
	rm, _ := openGolden(t, "nle_maf")
	m, err := posterior.NewModelMCMC(rm, nil, posterior.MCMCOptions{
		Method: posterior.MethodEnsemble, NumChains: 8, WarmupSteps: 4, Thin: 1, InitCandidates: 2000,
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Sample(context.Background(), []float64{0.1, 0.2, 0.3}, 16, posterior.Source(1))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Convergence.EvalsPerStep; got != 1 {
		t.Errorf("ensemble: %v evaluations per step, want 1", got)
	}
}
