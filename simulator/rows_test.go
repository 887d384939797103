package simulator_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/simulator"
)

// shift is x = (θ₁ + θ₂ + N(0, 0.1²), θ₁), failing (nil) when θ₁ > 0.9. It
// scribbles over its θ, which must not reach the dataset.
var shift = simulator.PerRow(2, 2, func(theta []float64, rng *rand.Rand) []float64 {
	if theta[0] > 0.9 {
		return nil
	}
	x := []float64{theta[0] + theta[1] + 0.1*rng.NormFloat64(), theta[0]}
	theta[0], theta[1] = -1, -1
	return x
})

func TestPerRow(t *testing.T) {
	sim := func(workers int) *simulator.Result {
		res, err := simulator.Simulate(context.Background(), box{2}, shift, 2500, simulator.Options{Seed: 3, Workers: workers, ChunkSize: 100})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	one, four := sim(1), sim(4)
	if !sameBits(one.Data.Theta, four.Data.Theta) || !sameBits(one.Data.X, four.Data.X) {
		t.Error("1 and 4 workers simulate different data for the same seed")
	}
	if one.Dropped == 0 || one.Dropped > 400 || one.Data.Len()+one.Dropped != 2500 {
		t.Errorf("dropped %d of 2500, kept %d, want about 10%% dropped", one.Dropped, one.Data.Len())
	}
	var resid []float64
	for i := range one.Data.Len() {
		th, x := one.Data.Theta.RawRowView(i), one.Data.X.RawRowView(i)
		if th[0] > 0.9 || x[1] != th[0] {
			t.Fatalf("row %d: θ = %v, x = %v: θ was altered or a failed row kept", i, th, x)
		}
		resid = append(resid, x[0]-th[0]-th[1])
	}
	var ss float64
	for _, r := range resid {
		ss += r * r
	}
	if sd := math.Sqrt(ss / float64(len(resid))); math.Abs(sd-0.1) > 0.01 {
		t.Errorf("noise sd %.4f, want 0.1", sd)
	}
}

func TestPerRowErrors(t *testing.T) {
	ctx := context.Background()
	short := simulator.PerRow(3, 2, func(theta []float64, rng *rand.Rand) []float64 { return theta[:1] })
	_, err := simulator.Simulate(ctx, box{3}, short, 10, simulator.Options{Seed: 1})
	if !errors.Is(err, simulator.ErrShape) {
		t.Errorf("x of the wrong length: %v, want ErrShape", err)
	}
	// The prior has 3 dimensions, the simulator expects 2.
	_, err = simulator.Simulate(ctx, box{3}, shift, 10, simulator.Options{Seed: 1})
	if !errors.Is(err, simulator.ErrShape) {
		t.Errorf("θ of the wrong dimension: %v, want ErrShape", err)
	}
	for _, tc := range []struct {
		name     string
		x, theta *mat.Dense
		src      rand.Source
	}{
		{"nil x", nil, mat.NewDense(3, 2, nil), rand.NewPCG(1, 1)},
		{"rows", mat.NewDense(2, 2, nil), mat.NewDense(3, 2, nil), rand.NewPCG(1, 1)},
		{"nil source", mat.NewDense(3, 2, nil), mat.NewDense(3, 2, nil), nil},
	} {
		if err := shift.Simulate(tc.x, tc.theta, tc.src); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	neg := simulator.PerRow(-1, 1, func([]float64, *rand.Rand) []float64 { return nil })
	if err := neg.Simulate(mat.NewDense(1, 1, nil), mat.NewDense(1, 1, nil), rand.NewPCG(1, 1)); !errors.Is(err, simulator.ErrShape) {
		t.Errorf("negative θ dimension: %v, want ErrShape", err)
	}
}

func ExamplePerRow() {
	// x = θ₁ + θ₂ + noise, one parameter set at a time.
	sim := simulator.PerRow(2, 1, func(theta []float64, rng *rand.Rand) []float64 {
		return []float64{theta[0] + theta[1] + 0.1*rng.NormFloat64()}
	})
	res, err := simulator.Simulate(context.Background(), box{2}, sim, 1000, simulator.Options{Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	var sum float64
	for i := range res.Data.Len() {
		sum += res.Data.X.At(i, 0)
	}
	fmt.Printf("%d simulations, mean x %.2f\n", res.Data.Len(), sum/float64(res.Data.Len()))
	// Output:
	// 1000 simulations, mean x 0.99
}
