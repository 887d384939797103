package posterior_test

import (
	"context"
	"fmt"
	"log"
	"math"
	"math/rand/v2"

	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/prior"
	"gonum.org/v1/gonum/stat"
)

// MCMC over a potential written by hand: θ ~ N(0, 1) and one observation
// x ~ N(θ, 0.5²), whose posterior is N(0.8·x, 0.2).
func ExampleMCMC() {
	pr, err := prior.NewIndependent([]prior.Marginal{{Family: "normal", Params: []float64{0, 1}}})
	if err != nil {
		log.Fatal(err)
	}
	pot := posterior.PotentialFunc{Dim: 1, XLen: 1, F: func(theta, x []float64) float64 {
		r := (x[0] - theta[0]) / 0.5
		return pr.LogProb(theta) - r*r/2
	}}
	post, err := posterior.NewMCMC(pot, pr, posterior.MCMCOptions{Method: posterior.MethodSlice, NumChains: 10})
	if err != nil {
		log.Fatal(err)
	}
	s, err := post.Sample(context.Background(), []float64{1}, 4000, rand.NewPCG(1, 2))
	if err != nil {
		log.Fatal(err)
	}
	mean, sd := stat.MeanStdDev(s.Theta.RawMatrix().Data, nil)
	fmt.Printf("posterior mean %.1f, sd %.1f (exact 0.8 and %.1f)\n", mean, sd, math.Sqrt(0.2))
	fmt.Println("converged:", s.Convergence.Warning == "")
	// Output:
	// posterior mean 0.8, sd 0.4 (exact 0.8 and 0.4)
	// converged: true
}
