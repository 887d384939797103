package prior_test

import (
	"fmt"
	"log"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/prior"
)

func ExampleNewBoxUniform() {
	p, err := prior.NewBoxUniform([]float64{0, -1}, []float64{1, 1})
	if err != nil {
		log.Fatal(err)
	}
	theta := mat.NewDense(3, p.Dim(), nil)
	p.Sample(theta, rand.NewPCG(1, 2))
	fmt.Printf("%.4f\n", mat.Formatted(theta))
	fmt.Printf("%.4f\n", p.LogProb([]float64{0.5, 0})) // −log(1·2)
	fmt.Printf("%.4f\n", p.LogProb([]float64{0.5, 1})) // the box is closed
	fmt.Println(p.LogProb([]float64{1.5, 0}))
	// Output:
	// ⎡ 0.6765  -0.0772⎤
	// ⎢ 0.5085  -0.1404⎥
	// ⎣ 0.7978  -0.2233⎦
	// -0.6931
	// -0.6931
	// -Inf
}

func ExampleMarshal() {
	p, err := prior.NewIndependent([]prior.Marginal{
		{Family: "normal", Params: []float64{0, 0.1}},
		{Family: "gamma", Params: []float64{2, 0.5}},
	})
	if err != nil {
		log.Fatal(err)
	}
	data, err := prior.Marshal(p)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(data))

	q, err := prior.Unmarshal(data)
	if err != nil {
		log.Fatal(err)
	}
	theta := []float64{0.05, 3}
	fmt.Println(q.LogProb(theta) == p.LogProb(theta))
	// Output:
	// {"type":"independent","marginals":[{"family":"normal","params":[0,0.1]},{"family":"gamma","params":[2,0.5]}]}
	// true
}

func ExampleValidate() {
	p, err := prior.NewIndependent([]prior.Marginal{
		{Family: "uniform", Params: []float64{0, 1}},
		{Family: "beta", Params: []float64{2, 2}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(prior.Validate(p, []float64{0.5, 0.5}))
	fmt.Println(prior.Validate(p, []float64{0.5, 1}))
	fmt.Println(prior.Validate(p, []float64{2, 0.5}))
	// Output:
	// <nil>
	// prior: θ outside the support: θ[1] = 1 is an excluded end point of (0, 1)
	// prior: θ outside the support: θ[0] = 2 is above the upper bound 1
}
