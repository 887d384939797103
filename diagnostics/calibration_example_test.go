package diagnostics_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/diagnostics"
	"github.com/amortize/amortize/simulator"
	"github.com/amortize/amortize/simulator/tasks"
)

// ExampleSBC checks the exact posterior of the tutorial task
// gaussian_linear_3d. A model file's posterior.Direct is a Sampler as it
// is; here a function wraps the task's exact sampler. Posterior standard
// deviation 0.1 on a prior of width 4: the posterior has contracted almost
// to a point.
func ExampleSBC() {
	ctx := context.Background()
	task, _ := tasks.Get("gaussian_linear_3d")
	sims, _ := simulator.Simulate(ctx, task.Prior, task.Simulator, 500, simulator.Options{Seed: 1})
	exact := diagnostics.SamplerFunc(func(_ context.Context, xs *mat.Dense, n int, src rand.Source) ([]*mat.Dense, error) {
		rows, _ := xs.Dims()
		out := make([]*mat.Dense, rows)
		for i := range rows {
			var err error
			if out[i], err = task.Posterior(xs.RawRowView(i), n, src); err != nil {
				return nil, err
			}
		}
		return out, nil
	})
	res, err := diagnostics.SBC(ctx, exact, sims.Data.Theta, sims.Data.X, diagnostics.CheckOptions{Draws: 200})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("calibrated:", res.Calibrated)
	fmt.Printf("contraction of theta_1: %.2f\n", res.Contraction[0])
	// Output:
	// calibrated: true
	// contraction of theta_1: 0.99
}
