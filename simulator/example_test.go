package simulator_test

import (
	"context"
	"fmt"
	"log"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/simulator"
)

// box is the uniform prior on [0, 1)^dim. Package prior provides ready-made
// priors; any type with these methods will do.
type box struct{ dim int }

func (b box) Dim() int { return b.dim }

func (b box) Sample(dst *mat.Dense, src rand.Source) {
	rnd := rand.New(src)
	r, c := dst.Dims()
	for i := range r {
		for j := range c {
			dst.Set(i, j, rnd.Float64())
		}
	}
}

func (b box) InSupport(theta []float64) bool {
	for _, v := range theta {
		if !(v >= 0 && v < 1) {
			return false
		}
	}
	return len(theta) == b.dim
}

func (b box) LogProb(theta []float64) float64 {
	if b.InSupport(theta) {
		return 0
	}
	return math.Inf(-1)
}

func (b box) Bounds() (low, high []float64) {
	low, high = make([]float64, b.dim), make([]float64, b.dim)
	for i := range high {
		high[i] = 1
	}
	return low, high
}

func ExampleSimulate() {
	// x = θ₁ + θ₂ + noise, which fails (NaN) when θ₁ > 0.9.
	sim := simulator.Func(1, func(x, theta *mat.Dense, src rand.Source) error {
		rnd := rand.New(src)
		for i := range x.RawMatrix().Rows {
			t := theta.RawRowView(i)
			v := t[0] + t[1] + 0.1*rnd.NormFloat64()
			if t[0] > 0.9 {
				v = math.NaN()
			}
			x.Set(i, 0, v)
		}
		return nil
	})
	res, err := simulator.Simulate(context.Background(), box{2}, sim, 10000, simulator.Options{Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("simulated:", res.Simulated, "dropped:", res.Dropped, "kept:", res.Data.Len())
	th, x := res.Data.Names()
	fmt.Println("columns:", th, x)
	fmt.Printf("first: θ = %.4f, x = %.4f\n", res.Data.Theta.RawRowView(0), res.Data.X.RawRowView(0))
	// Output:
	// simulated: 10000 dropped: 1052 kept: 8948
	// columns: [theta_1 theta_2] [x_1]
	// first: θ = [0.3182 0.1808], x = [0.3786]
}
