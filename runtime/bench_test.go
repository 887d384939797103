package runtime_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/runtime/runtimetest"
)

// The benchmarks use sbi's default sizes (hidden 50, 5 transforms, 10
// bins) on the two-moons shape: θ and x of dimension 2.
var benchKinds = []string{"maf", "nsf"}

func benchModel(b *testing.B, kind string) *models.Model {
	return runtimetest.RandomModel(b, kind, 2, 2, 0, 1)
}

// macs counts the multiply-adds of one pass through every weight matrix of
// m's estimator, per row: its matrix products dominate the arithmetic.
func macs(b *testing.B, m *models.Model) int {
	e, err := m.Estimator()
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, p := range e.Params() {
		if strings.HasSuffix(p.Name, ".w") {
			n += p.Rows * p.Cols
		}
	}
	return n
}

func BenchmarkOpen(b *testing.B) {
	for _, kind := range benchKinds {
		data := runtimetest.Bytes(b, benchModel(b, kind))
		runtimetest.OpenBytes(b, data, runtime.Options{}) // load the library outside the timing
		b.Run(kind, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m, err := runtime.OpenBytes(data, runtime.Options{})
				if err != nil {
					b.Fatal(err)
				}
				m.Close()
			}
			b.ReportMetric(float64(len(data)), "file-bytes")
		})
	}
}

// BenchmarkRun times the hot loop a service runs: noise drawn into a
// reused buffer and the graph evaluated into a reused Output.
//
// sample10k+logprob10k against sample10k and logprob10k shows that a path
// fed no rows costs nothing: its time is the sum of the other two.
func BenchmarkRun(b *testing.B) {
	cases := []struct {
		name               string
		obs, nTheta, nSamp int
		whole              bool // one onnxruntime call, not pieces of DefaultChunkRows
	}{
		{"sample1", 1, 0, 1, false},
		{"sample1+logprob1", 1, 1, 1, false},
		{"sample10k", 1, 0, 10_000, false},
		{"sample10k/whole", 1, 0, 10_000, true},
		{"batch100x1k", 100, 0, 1000, false},
		{"batch100x1k/whole", 100, 0, 1000, true},
		{"logprob1", 1, 1, 0, false},
		{"logprob10k", 1, 10_000, 0, false},
		{"sample10k+logprob10k", 1, 10_000, 10_000, false},
	}
	for _, kind := range benchKinds {
		mod := benchModel(b, kind)
		chunked := runtimetest.Open(b, mod, runtime.Options{})
		whole := runtimetest.Open(b, mod, runtime.Options{ChunkRows: -1})
		perRow := macs(b, mod)
		for _, c := range cases {
			m := chunked
			if c.whole {
				m = whole
			}
			b.Run(kind+"/"+c.name, func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				x := make([]float32, c.obs*m.XDim())
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				theta := make([]float32, c.obs*c.nTheta*m.ThetaDim())
				for i := range theta {
					theta[i] = float32(rng.NormFloat64())
				}
				var noise []float32
				var out runtime.Output
				src := rand.NewPCG(3, 4)
				// Latency targets are medians: the mean of ns/op also
				// carries the odd call the scheduler or a neighbour delays.
				times := make([]time.Duration, 0, 1<<16)
				b.ReportAllocs()
				for b.Loop() {
					t0 := time.Now()
					noise = m.Noise(noise, c.obs*c.nSamp, src)
					if _, err := m.Run(x, c.obs, theta, c.nTheta, noise, c.nSamp, &out); err != nil {
						b.Fatal(err)
					}
					if len(times) < cap(times) {
						times = append(times, time.Since(t0))
					}
				}
				slices.Sort(times)
				b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns/op")
				rows := float64(c.obs * (c.nTheta + c.nSamp))
				b.ReportMetric(rows*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
				b.ReportMetric(float64(perRow), "MAC/row-pass")
			})
		}
	}
}
