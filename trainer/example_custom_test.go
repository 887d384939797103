package trainer_test

import (
	"bytes"
	"fmt"
	"log"
	"math"
	"math/rand/v2"

	"github.com/amortize/amortize/export"
	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/trainer"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// Training loops of one's own, as in sbi's training-interface tutorial:
// an NPE, an NLE and an NRE on θ ~ N(0, 1), x = θ + N(0, ½²), each built
// from the data, stepped on its per-row losses, then sampled or exported.
func ExampleBuild() {
	const n = 2000
	rng := rand.New(rand.NewPCG(1, 2))
	theta, x := mat.NewDense(n, 1, nil), mat.NewDense(n, 1, nil)
	for i := range n {
		t := rng.NormFloat64()
		theta.Set(i, 0, t)
		x.Set(i, 0, t+0.5*rng.NormFloat64())
	}
	batch := func(step int) (th, xs *mat.Dense) { // 200 rows, in turn
		lo := step % 10 * 200
		return theta.Slice(lo, lo+200, 0, 1).(*mat.Dense), x.Slice(lo, lo+200, 0, 1).(*mat.Dense)
	}
	loop := func(e *trainer.Estimator, nle bool) {
		opt := e.Adam(trainer.AdamOptions{LearningRate: 3e-3})
		for step := range 300 {
			th, xs := batch(step)
			input, condition := th, xs
			if nle {
				input, condition = xs, th
			}
			if _, err := e.Loss(input, condition); err != nil {
				log.Fatal(err)
			}
			if err := opt.Step(); err != nil {
				log.Fatal(err)
			}
		}
	}

	// NPE: q(θ | x) from an NSF; the exact posterior at x = 1 has mean 0.8.
	spec, _ := models.DefaultSpec("nsf", 1, 1)
	npe, err := trainer.Build(spec, theta, x, trainer.BuildOptions{Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	loop(npe, false)
	post, _ := npe.Sample([]float64{1}, 4000, rand.NewPCG(3, 3))
	fmt.Println("NPE posterior mean within 0.1 of 0.8:", math.Abs(stat.Mean(post.RawMatrix().Data, nil)-0.8) < 0.1)

	// NLE: q(x | θ) from a MAF, a surrogate simulator: x | θ = 1 has mean 1.
	spec, _ = models.DefaultSpec("maf", 1, 1)
	spec.Method = models.MethodNLE
	nle, _ := trainer.Build(spec, theta, x, trainer.BuildOptions{Seed: 1})
	loop(nle, true)
	xs, _ := nle.Sample([]float64{1}, 4000, rand.NewPCG(4, 4))
	fmt.Println("NLE mean of x | θ = 1 within 0.1 of 1:", math.Abs(stat.Mean(xs.RawMatrix().Data, nil)-1) < 0.1)

	// NRE: a ResNet classifier with NRE-B; exported and run by onnxruntime,
	// the ratio at x = 1 prefers θ = 1 to θ = −1 (exactly by e⁸).
	spec, _ = models.DefaultSpec("resnet", 1, 1)
	nre, _ := trainer.Build(spec, theta, x, trainer.BuildOptions{Seed: 1, Loss: models.Loss{Kind: models.LossNREB}})
	loop(nre, false)
	m := nre.Model()
	m.ThetaNames, m.XNames = []string{"theta"}, []string{"x"}
	var file bytes.Buffer
	if err := export.Write(m, &file); err != nil {
		log.Fatal(err)
	}
	rm, err := runtime.OpenBytes(file.Bytes(), runtime.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer rm.Close()
	lr, _ := rm.LogRatio([]float32{1}, 1, []float32{1, -1}, 2)
	fmt.Println("NRE log r(1, 1) − log r(−1, 1) within 2 of 8:", math.Abs(float64(lr[0]-lr[1])-8) < 2)
	// Output:
	// NPE posterior mean within 0.1 of 0.8: true
	// NLE mean of x | θ = 1 within 0.1 of 1: true
	// NRE log r(1, 1) − log r(−1, 1) within 2 of 8: true
}
