package tasks

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat"
)

func TestExactPosterior(t *testing.T) {
	for _, c := range []struct {
		task   string
		x      []float64
		mean   func(x float64) float64
		sd     float64
		lo, hi float64
	}{
		{"gaussian_linear_3d", []float64{0.5, 1, 2.5}, func(x float64) float64 { return x - 1 }, 0.1, -2, 2},
		{"gaussian_linear", []float64{0.1, -0.3, 0.2, 0, 0.5, -0.1, 0.2, 0.3, -0.4, 0}, func(x float64) float64 { return x / 2 }, math.Sqrt(0.05), math.Inf(-1), math.Inf(1)},
	} {
		task, err := Get(c.task)
		if err != nil {
			t.Fatal(err)
		}
		const n = 20000
		s, err := task.Posterior(c.x, n, rand.NewPCG(1, 2))
		if err != nil {
			t.Fatal(err)
		}
		for j, x := range c.x {
			col := make([]float64, n)
			for i := range n {
				col[i] = s.At(i, j)
				if col[i] < c.lo || col[i] > c.hi {
					t.Fatalf("%s: sample %v outside the prior", c.task, col[i])
				}
			}
			m, sd := stat.MeanStdDev(col, nil)
			if se := c.sd / math.Sqrt(n); math.Abs(m-c.mean(x)) > 5*se {
				t.Errorf("%s dim %d: mean %v, want %v", c.task, j, m, c.mean(x))
			}
			if math.Abs(sd-c.sd) > 5*c.sd/math.Sqrt(2*n) {
				t.Errorf("%s dim %d: sd %v, want %v", c.task, j, sd, c.sd)
			}
		}
	}
	task, _ := Get("gaussian_linear_3d")
	if _, err := task.Posterior([]float64{1, 1}, 10, rand.NewPCG(1, 1)); err == nil {
		t.Error("posterior for x of the wrong dimension")
	}
	if _, err := task.Posterior([]float64{10, 1, 1}, 10, rand.NewPCG(1, 1)); err == nil {
		t.Error("posterior for x far outside what the prior can produce")
	}
}
