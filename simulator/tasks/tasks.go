// Package tasks provides built-in simulation-based-inference benchmark tasks:
// a prior, a simulator and names for θ and x.
//
// The sbibm tasks gaussian_linear, two_moons, slcp, gaussian_mixture,
// bernoulli_glm, lotka_volterra and sir follow the definitions of the sbibm
// benchmark (github.com/sbi-benchmark/sbibm); the first five are specified in
// the TASKS.md file that ships with the reference data. gaussian_linear_3d and
// sinusoid_1d are small tasks used by the tutorials. Reference posterior
// samples are loaded with Task.Reference.
//
// Simulators are vectorised over the batch: one Simulate call allocates a
// constant amount, independent of the number of rows. A Task and its
// simulator hold no random state and are safe for concurrent use; each
// concurrent Simulate call needs its own rand.Source.
package tasks

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/simulator"
)

var (
	// ErrUnknownTask is returned by Get for a name that is not registered.
	ErrUnknownTask = errors.New("tasks: unknown task")
	// ErrShape is returned when file dimensions or an observation do not
	// match a task; a simulator reports simulator.ErrShape.
	ErrShape = errors.New("tasks: dimension mismatch")
	// ErrNoReference is returned when reference files are missing.
	ErrNoReference = errors.New("tasks: no reference data")
)

// Task is a benchmark problem: a prior over θ and a simulator θ → x.
type Task struct {
	Name       string
	Prior      prior.Prior
	Simulator  simulator.Simulator
	ThetaNames []string
	XNames     []string
	// Description says in a few sentences what the task simulates.
	Description string
	// Posterior, when not nil, draws n samples (rows) from the exact
	// posterior p(θ | x): tasks whose posterior is known in closed form.
	Posterior func(x []float64, n int, src rand.Source) (*mat.Dense, error)
}

var registry = map[string]func() (*Task, error){
	"gaussian_linear":    gaussianLinear,
	"two_moons":          twoMoons,
	"slcp":               slcp,
	"gaussian_mixture":   gaussianMixture,
	"bernoulli_glm":      bernoulliGLM,
	"gaussian_linear_3d": gaussianLinear3D,
	"sinusoid_1d":        sinusoid1D,
	"lotka_volterra":     lotkaVolterra,
	"sir":                sir,
}

// Names returns the names of all tasks, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for name := range registry {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Get returns a new instance of the named task.
func Get(name string) (*Task, error) {
	build, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownTask, name, strings.Join(Names(), ", "))
	}
	t, err := build()
	if err != nil {
		return nil, fmt.Errorf("tasks: building %s: %w", name, err)
	}
	return t, nil
}

// stateless wraps a kernel that needs no scratch space.
func stateless(f simulator.Kernel) func() simulator.Kernel {
	return func() simulator.Kernel { return f }
}

// numbered returns prefix_1 … prefix_n.
func numbered(prefix string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s_%d", prefix, i+1)
	}
	return names
}

// constant returns a slice of n copies of v.
func constant(n int, v float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = v
	}
	return s
}

var nan = math.NaN()

// setNaN marks a failed simulation; the runner drops such rows.
func setNaN(x []float64) {
	for i := range x {
		x[i] = nan
	}
}
