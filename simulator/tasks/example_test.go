package tasks_test

import (
	"fmt"
	"log"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/simulator/tasks"
)

// Draw parameters from a task's prior and simulate data for them.
func ExampleGet() {
	task, err := tasks.Get("two_moons")
	if err != nil {
		log.Fatal(err)
	}
	const n = 5
	theta := mat.NewDense(n, task.Prior.Dim(), nil)
	task.Prior.Sample(theta, rand.NewPCG(1, 1))
	x := mat.NewDense(n, task.Simulator.XDim(), nil)
	if err := task.Simulator.Simulate(x, theta, rand.NewPCG(1, 2)); err != nil {
		log.Fatal(err)
	}
	r, c := x.Dims()
	fmt.Println(task.ThetaNames, "→", task.XNames, r, "×", c)
	// Output:
	// [theta_1 theta_2] → [x_1 x_2] 5 × 2
}

// Load sbibm's reference posterior for one observation.
func ExampleTask_Reference() {
	task, err := tasks.Get("slcp")
	if err != nil {
		log.Fatal(err)
	}
	ref, err := task.Reference(tasks.BenchmarkData(), 1)
	if err != nil {
		log.Fatal(err)
	}
	r, c := ref.Samples.Dims()
	fmt.Println(len(ref.Observation), len(ref.TrueTheta), r, c)
	// Output:
	// 8 5 10000 5
}
