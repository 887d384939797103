package runtime_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/runtime/runtimetest"
)

// openCUDA opens the golden NSF on the GPU, or skips with the reason.
func openCUDA(tb testing.TB, data []byte) *runtime.Model {
	tb.Helper()
	m, err := runtime.OpenBytes(data, runtime.Options{Device: runtime.CUDA})
	runtimetest.SkipNoLibrary(tb, err)
	if err != nil {
		tb.Skipf("no CUDA device (scripts/gpu-check.sh runs these on a GPU): %v", err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

// On a GPU, log-probabilities and samples from the same noise agree with
// the CPU within 1e-4 (relative for log-probabilities).
func TestCUDAParity(t *testing.T) {
	data := runtimetest.Bytes(t, runtimetest.RandomModel(t, "nsf", 2, 2, 0, 1))
	gpu := openCUDA(t, data)
	cpu := runtimetest.OpenBytes(t, data, runtime.Options{})
	const obs, n = 7, 1000
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, obs*2)
	theta := make([]float32, obs*n*2)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for i := range theta {
		theta[i] = float32(rng.NormFloat64())
	}
	noise := cpu.Noise(nil, obs*n, rand.NewPCG(5, 6))
	want, err := cpu.Run(x, obs, theta, n, noise, n, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := gpu.Run(x, obs, theta, n, noise, n, nil)
	if err != nil {
		t.Fatal(err)
	}
	worst := func(a, b []float32, rel bool) float64 {
		w := 0.0
		for i := range a {
			d := math.Abs(float64(a[i] - b[i]))
			if rel {
				d /= math.Max(1, math.Abs(float64(b[i])))
			}
			w = math.Max(w, d)
		}
		return w
	}
	for _, c := range []struct {
		name     string
		got, ref []float32
		rel      bool
	}{
		{"log_prob", got.LogProb, want.LogProb, true},
		{"sample", got.Sample, want.Sample, false},
		{"sample_log_prob", got.SampleLogProb, want.SampleLogProb, true},
	} {
		w := worst(c.got, c.ref, c.rel)
		t.Logf("%s: largest CUDA−CPU difference %.3g", c.name, w)
		if w > 1e-4 {
			t.Errorf("%s differs by %.3g > 1e-4", c.name, w)
		}
	}
}

// BenchmarkDevice draws from an sbi-sized NSF on each device: an SBC-sized
// call (1,000 draws for each of 1,000 observations) and 10,000 draws for one.
// scripts/gpu-check.sh runs it on a GPU; without one the cuda cases skip.
func BenchmarkDevice(b *testing.B) {
	data := runtimetest.Bytes(b, runtimetest.RandomModel(b, "nsf", 2, 2, 0, 1))
	for _, dev := range []runtime.Device{runtime.CPU, runtime.CUDA} {
		b.Run(dev.String(), func(b *testing.B) {
			var m *runtime.Model
			if dev == runtime.CUDA {
				m = openCUDA(b, data)
			} else {
				m = runtimetest.OpenBytes(b, data, runtime.Options{})
			}
			for _, c := range []struct{ obs, n int }{{1000, 1000}, {1, 10_000}} {
				b.Run(fmt.Sprintf("%dx%d", c.obs, c.n), func(b *testing.B) {
					x := make([]float32, c.obs*2)
					noise := m.Noise(nil, c.obs*c.n, rand.NewPCG(1, 2))
					var out *runtime.Output
					var err error
					for b.Loop() {
						if out, err = m.Run(x, c.obs, nil, 0, noise, c.n, out); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(c.obs*c.n)*float64(b.N)/b.Elapsed().Seconds(), "draws/s")
				})
			}
		})
	}
}
