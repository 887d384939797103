package tasks

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// BenchmarkTwoMoons1M simulates 10⁶ two_moons draws per op in chunks of
// 10,000 on two goroutines, each chunk with its own PCG source.
func BenchmarkTwoMoons1M(b *testing.B) {
	const n, chunk, workers = 1_000_000, 10_000, 2
	task := mustGet(b, "two_moons")
	theta := mat.NewDense(n, 2, nil)
	task.Prior.Sample(theta, rand.NewPCG(1, 1))
	x := mat.NewDense(n, 2, nil)
	b.ResetTimer()
	for range b.N {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for {
					c := int(next.Add(1) - 1)
					if c*chunk >= n {
						return
					}
					lo, hi := c*chunk, min((c+1)*chunk, n)
					xs := x.Slice(lo, hi, 0, 2).(*mat.Dense)
					ts := theta.Slice(lo, hi, 0, 2).(*mat.Dense)
					if err := task.Simulator.Simulate(xs, ts, rand.NewPCG(2, uint64(c))); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}

// BenchmarkSimulate runs each task single-threaded on batches of prior draws.
func BenchmarkSimulate(b *testing.B) {
	const n = 1000
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			task := mustGet(b, name)
			theta := mat.NewDense(n, task.Prior.Dim(), nil)
			task.Prior.Sample(theta, rand.NewPCG(1, 1))
			x := mat.NewDense(n, task.Simulator.XDim(), nil)
			src := rand.NewPCG(2, 2)
			b.ResetTimer()
			for range b.N {
				if err := task.Simulator.Simulate(x, theta, src); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sim")
		})
	}
}
