package diagnostics_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/diagnostics"
)

// C2ST scores how well a classifier tells posterior samples from reference
// samples: 0.5 for a perfect approximation, 1 for a useless one.
func ExampleC2ST() {
	r := rand.New(rand.NewPCG(1, 2))
	draw := func(n int, shift float64) *mat.Dense {
		m := mat.NewDense(n, 2, nil)
		for i := range n {
			m.Set(i, 0, shift+r.NormFloat64())
			m.Set(i, 1, r.NormFloat64())
		}
		return m
	}
	reference := draw(1000, 0)
	exact := draw(1000, 0)
	biased := draw(1000, 4)

	ctx := context.Background()
	for _, s := range []struct {
		name    string
		samples *mat.Dense
	}{{"exact", exact}, {"shifted by 4 sd", biased}} {
		score, err := diagnostics.C2ST(ctx, reference, s.samples, diagnostics.C2STOptions{})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: C2ST %.1f\n", s.name, score)
	}
	// Output:
	// exact: C2ST 0.5
	// shifted by 4 sd: C2ST 1.0
}
