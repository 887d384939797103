package tasks

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/simulator"
)

// zTol is the number of standard errors a statistic may deviate before a
// test fails; at 4.5 a correct implementation fails with probability ~7e-6
// per check (and the seeds are fixed, so results are deterministic).
const zTol = 4.5

func checkZ(t *testing.T, what string, got, want, se float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > zTol*se {
		t.Errorf("%s = %.6g, want %.6g ± %.2g (%.1f se)", what, got, want, zTol*se, (got-want)/se)
	}
}

func mustGet(t testing.TB, name string) *Task {
	t.Helper()
	task, err := Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// simulateFixed simulates n times at one θ.
func simulateFixed(t testing.TB, task *Task, theta []float64, n int, seed uint64) *mat.Dense {
	t.Helper()
	th := mat.NewDense(n, len(theta), nil)
	for i := range n {
		th.SetRow(i, theta)
	}
	x := mat.NewDense(n, task.Simulator.XDim(), nil)
	if err := task.Simulator.Simulate(x, th, rand.NewPCG(seed, 1)); err != nil {
		t.Fatal(err)
	}
	return x
}

// simulatePrior draws n θ from the prior and simulates them.
func simulatePrior(t testing.TB, task *Task, n int, seed uint64) (theta, x *mat.Dense) {
	t.Helper()
	theta = mat.NewDense(n, task.Prior.Dim(), nil)
	task.Prior.Sample(theta, rand.NewPCG(seed, 0))
	x = mat.NewDense(n, task.Simulator.XDim(), nil)
	if err := task.Simulator.Simulate(x, theta, rand.NewPCG(seed, 1)); err != nil {
		t.Fatal(err)
	}
	return theta, x
}

func TestNames(t *testing.T) {
	want := []string{
		"bernoulli_glm", "gaussian_linear", "gaussian_linear_3d", "gaussian_mixture",
		"lotka_volterra", "sinusoid_1d", "sir", "slcp", "two_moons",
	}
	if got := Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
}

func TestGetUnknown(t *testing.T) {
	_, err := Get("three_moons")
	if !errors.Is(err, ErrUnknownTask) {
		t.Fatalf("Get(three_moons) error = %v, want ErrUnknownTask", err)
	}
	for _, name := range Names() {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not list %s", err, name)
		}
	}
}

func TestTaskConsistency(t *testing.T) {
	wantDims := map[string][2]int{
		"gaussian_linear": {10, 10}, "two_moons": {2, 2}, "slcp": {5, 8}, "gaussian_mixture": {2, 2},
		"bernoulli_glm": {10, 10}, "gaussian_linear_3d": {3, 3}, "sinusoid_1d": {1, 1},
		"lotka_volterra": {4, 20}, "sir": {2, 10},
	}
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			task := mustGet(t, name)
			d, xd := task.Prior.Dim(), task.Simulator.XDim()
			if got := [2]int{d, xd}; got != wantDims[name] {
				t.Errorf("dims (θ, x) = %v, want %v", got, wantDims[name])
			}
			if task.Name != name || task.Description == "" {
				t.Errorf("Name = %q, Description = %q", task.Name, task.Description)
			}
			low, high := task.Prior.Bounds()
			if len(task.ThetaNames) != d || len(task.XNames) != xd || len(low) != d || len(high) != d {
				t.Errorf("%d θ names, %d x names, %d/%d bounds for dims %d, %d",
					len(task.ThetaNames), len(task.XNames), len(low), len(high), d, xd)
			}
			seen := map[string]bool{}
			for _, n := range append(slices.Clone(task.ThetaNames), task.XNames...) {
				if n == "" || seen[n] {
					t.Errorf("empty or duplicate name %q", n)
				}
				seen[n] = true
			}
		})
	}
}

// TestPriorPredictive runs every task on prior draws: the outputs must be
// finite (the ODE tasks may drop a tiny fraction of extreme draws) and
// reproducible from the seed.
func TestPriorPredictive(t *testing.T) {
	const n = 500
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			task := mustGet(t, name)
			theta, x := simulatePrior(t, task, n, 7)
			failed := 0
			for i := range n {
				if slices.ContainsFunc(x.RawRowView(i), func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }) {
					failed++
				}
			}
			if failed > n/100 {
				t.Errorf("%d of %d simulations not finite", failed, n)
			}

			again := mat.NewDense(n, task.Simulator.XDim(), nil)
			if err := task.Simulator.Simulate(again, theta, rand.NewPCG(7, 1)); err != nil {
				t.Fatal(err)
			}
			if !equalNaN(x.RawMatrix().Data, again.RawMatrix().Data) {
				t.Error("same seed gave different simulations")
			}
			if err := task.Simulator.Simulate(again, theta, rand.NewPCG(8, 1)); err != nil {
				t.Fatal(err)
			}
			if equalNaN(x.RawMatrix().Data, again.RawMatrix().Data) {
				t.Error("different seeds gave identical simulations")
			}
		})
	}
}

func equalNaN(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(u, v float64) bool { return u == v || (math.IsNaN(u) && math.IsNaN(v)) })
}

// TestNoPerRowAllocation checks that a Simulate call allocates the same for
// 10 rows as for 1000.
func TestNoPerRowAllocation(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			task := mustGet(t, name)
			allocs := func(n int) float64 {
				theta := mat.NewDense(n, task.Prior.Dim(), nil)
				task.Prior.Sample(theta, rand.NewPCG(1, 2))
				x := mat.NewDense(n, task.Simulator.XDim(), nil)
				src := rand.NewPCG(3, 4)
				return testing.AllocsPerRun(3, func() {
					if err := task.Simulator.Simulate(x, theta, src); err != nil {
						t.Fatal(err)
					}
				})
			}
			if small, large := allocs(10), allocs(1000); large > small {
				t.Errorf("Simulate allocates %v times for 10 rows but %v for 1000", small, large)
			}
		})
	}
}

func TestSimulateErrors(t *testing.T) {
	task := mustGet(t, "slcp")
	src := rand.NewPCG(1, 1)
	for _, tc := range []struct {
		name     string
		x, theta *mat.Dense
		src      rand.Source
	}{
		{"theta columns", mat.NewDense(3, 8, nil), mat.NewDense(3, 4, nil), src},
		{"x columns", mat.NewDense(3, 2, nil), mat.NewDense(3, 5, nil), src},
		{"rows", mat.NewDense(2, 8, nil), mat.NewDense(3, 5, nil), src},
		{"nil x", nil, mat.NewDense(3, 5, nil), src},
		{"nil source", mat.NewDense(3, 8, nil), mat.NewDense(3, 5, nil), nil},
	} {
		if err := task.Simulator.Simulate(tc.x, tc.theta, tc.src); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	err := task.Simulator.Simulate(mat.NewDense(3, 8, nil), mat.NewDense(3, 4, nil), src)
	if !errors.Is(err, simulator.ErrShape) {
		t.Errorf("shape error %v is not simulator.ErrShape", err)
	}
}
