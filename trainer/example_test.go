package trainer_test

import (
	"context"
	"fmt"
	"log"
	"math"
	"math/rand/v2"

	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/models/eager"
	"github.com/amortize/amortize/trainer"
	"gonum.org/v1/gonum/mat"
)

// Train a Gaussian posterior estimator on θ ~ N(0, 1), x = θ + N(0, ½²),
// whose exact posterior mean is x/1.25, and sample it at x = 1.
func ExampleTrain() {
	const n = 2000
	rng := rand.New(rand.NewPCG(1, 2))
	theta, x := mat.NewDense(n, 1, nil), mat.NewDense(n, 1, nil)
	for i := range n {
		t := rng.NormFloat64()
		theta.Set(i, 0, t)
		x.Set(i, 0, t+0.5*rng.NormFloat64())
	}
	spec, err := models.DefaultSpec("gaussian", 1, 1)
	if err != nil {
		log.Fatal(err)
	}
	m, err := trainer.Train(context.Background(), spec, theta, x, trainer.Options{Seed: 1})
	if err != nil {
		log.Fatal(err)
	}

	// Draw from q(θ | x = 1) with the pure-Go evaluator.
	o, e, err := eager.FromModel(m)
	if err != nil {
		log.Fatal(err)
	}
	const draws = 5000
	noise, xo := mat.NewDense(draws, 1, nil), mat.NewDense(draws, 1, nil)
	for i := range draws {
		noise.Set(i, 0, rng.NormFloat64())
		xo.Set(i, 0, 1)
	}
	samples, _ := m.Sample(o, e, noise, xo)
	mean := mat.Sum(eager.Dense(samples)) / draws
	fmt.Println("stopped early:", m.Summary.Epochs < math.MaxInt32)
	fmt.Println("posterior mean within 0.1 of 0.8:", math.Abs(mean-0.8) < 0.1)
	// Output:
	// stopped early: true
	// posterior mean within 0.1 of 0.8: true
}
