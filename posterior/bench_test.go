package posterior_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/runtime/runtimetest"
	"gonum.org/v1/gonum/mat"
)

// benchDirect is the direct posterior of an estimator with sbi's default
// sizes on the two-moons shape (θ and x of dimension 2). Random weights
// spread a MAF's mass far wider than training would, so the prior is a
// box wide enough to accept nearly every draw, as for a trained model: the
// benchmarks time the sampler, not the leakage of an untrained estimator.
func benchDirect(b *testing.B, kind string) *posterior.Direct {
	rm := runtimetest.Open(b, runtimetest.RandomModel(b, kind, 2, 2, 0, 1), runtime.Options{})
	wide, err := prior.NewBoxUniform([]float64{-1000, -1000}, []float64{1000, 1000})
	if err != nil {
		b.Fatal(err)
	}
	d, err := posterior.NewDirect(rm, posterior.DirectOptions{Prior: wide})
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func BenchmarkDirect(b *testing.B) {
	ctx := context.Background()
	x := []float64{0.3, -0.2}
	for _, kind := range []string{"maf", "nsf"} {
		d := benchDirect(b, kind)
		for _, n := range []int{1, 10_000} {
			name := map[int]string{1: "sample1", 10_000: "sample10k"}[n]
			b.Run(kind+"/"+name, func(b *testing.B) {
				src := rand.NewPCG(1, 1)
				b.ReportAllocs()
				var acc float64
				for b.Loop() {
					s, err := d.Sample(ctx, x, n, src)
					if err != nil {
						b.Fatal(err)
					}
					acc = s.Acceptance
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "samples/s")
				b.ReportMetric(acc, "acceptance")
			})
		}
		b.Run(kind+"/batched100x1k", func(b *testing.B) {
			xs := mat.NewDense(100, 2, nil)
			rng := rand.New(rand.NewPCG(2, 2))
			for i := range 100 {
				xs.SetRow(i, []float64{rng.NormFloat64(), rng.NormFloat64()})
			}
			src := rand.NewPCG(1, 1)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.SampleBatched(ctx, xs, 1000, src); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(100*1000*b.N)/b.Elapsed().Seconds(), "samples/s")
		})
		b.Run(kind+"/logprob10k", func(b *testing.B) {
			theta := mat.NewDense(10_000, 2, nil)
			rng := rand.New(rand.NewPCG(3, 3))
			for i := range 10_000 {
				theta.SetRow(i, []float64{rng.NormFloat64(), rng.NormFloat64()})
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.LogProb(context.Background(), theta, x); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(10_000*b.N)/b.Elapsed().Seconds(), "evals/s")
		})
		b.Run(kind+"/map", func(b *testing.B) {
			src := rand.NewPCG(4, 4)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.MAP(ctx, x, posterior.MAPOptions{}, src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
