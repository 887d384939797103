package posterior_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/runtime"
)

func minOf(v []float64) float64 {
	m := math.Inf(1)
	for _, x := range v {
		m = math.Min(m, x)
	}
	return m
}

// BenchmarkMCMC times 1,000 posterior samples of each sampler, with sbi's
// tutorial settings (20 chains, thinning 10) and with 100 chains per call,
// on an analytic 2-D potential (the samplers' own cost) and on the NPE
// golden file through the posterior potential (the cost of runtime calls).
func BenchmarkMCMC(b *testing.B) {
	rm, err := runtime.Open("../testdata/golden/nsf.onnx", runtime.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer rm.Close()
	npe, err := posterior.NewPosteriorPotential(rm, rm.Prior())
	if err != nil {
		b.Fatal(err)
	}
	bi := bimodal(b)
	for _, c := range []struct {
		name string
		tg   target
	}{
		{"analytic2d", bi},
		{"nsf", target{prior: rm.Prior(), pot: npe, x: []float64{0.2, -0.4}}},
	} {
		for _, method := range []string{posterior.MethodSlice, posterior.MethodEnsemble} {
			for _, chains := range []int{20, 100} {
				name := c.name + "/" + method + "/chains" + map[int]string{20: "20", 100: "100"}[chains]
				b.Run(name, func(b *testing.B) {
					pot := &countingPotential{Potential: c.tg.pot}
					m, err := posterior.NewMCMC(pot, c.tg.prior, posterior.MCMCOptions{
						Method: method, NumChains: chains, WarmupSteps: 10, Thin: 10,
					})
					if err != nil {
						b.Fatal(err)
					}
					src := rand.NewPCG(1, 1)
					var s *posterior.Samples
					for b.Loop() {
						if s, err = m.Sample(context.Background(), c.tg.x, 1000, src); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "samples/s")
					b.ReportMetric(s.Convergence.EvalsPerStep, "evals/step")
					// Potential calls, the runtime calls of a neural potential:
					// a measure of speed that the machine's load does not change.
					b.ReportMetric(float64(pot.calls.Load())/float64(b.N), "calls/op")
					b.ReportMetric(minOf(s.Convergence.ESS), "min-ESS")
				})
			}
		}
	}
}
