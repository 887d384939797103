package trainer

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/amortize/amortize/models"
)

// BenchmarkStep times one training step (forward, gradient, Adam) of every
// kind with sbi's default sizes on two_moons-shaped data (θ and x of two
// dimensions), in float32 as training runs.
func BenchmarkStep(b *testing.B) {
	setThreads(1) // as Train does by default
	for _, kind := range models.Kinds() {
		for _, rows := range []int{50, 200} {
			b.Run(fmt.Sprintf("%s/batch=%d", kind, rows), func(b *testing.B) {
				spec, err := models.DefaultSpec(kind, 2, 2)
				if err != nil {
					b.Fatal(err)
				}
				e, err := models.New(spec)
				if err != nil {
					b.Fatal(err)
				}
				rng := rand.New(rand.NewPCG(1, 1))
				theta, x, w := batch(rng, rows, 2, 2)
				n, wts := trainNet[float32](b, e, models.InitParams(e, rng), theta, x, w)
				opt := newAdam[float32](len(n.grad), 5e-4, 5)
				params := wts.flat.([]float32)
				b.ReportAllocs()
				start, cpu := time.Now(), cpuTime()
				for b.Loop() {
					if err := n.run(); err != nil {
						b.Fatal(err)
					}
					opt.step(params, n.grad)
				}
				perStep := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(b.N) }
				b.ReportMetric(perStep(time.Since(start)), "ms/step")
				if c := cpuTime(); c > 0 {
					b.ReportMetric(perStep(c-cpu), "cpu-ms/step")
				}
			})
		}
	}
}
