package simulator

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// ErrShape is returned by the simulators of Rows and PerRow for matrices
// that do not match their dimensions, and by PerRow's for a function that
// returns x of the wrong length.
var ErrShape = errors.New("dimension mismatch")

// Kernel simulates one parameter set in place: it writes the x of theta,
// drawing all randomness from rng. It must not modify theta. A failed
// simulation writes NaN, and the runner drops the row.
type Kernel func(x, theta []float64, rng *rand.Rand)

// Rows returns a Simulator that runs a kernel over each row of a batch, in
// order, all rows drawing from one generator over the batch's source; the
// runner gives each chunk its own source, so the draws depend on the seed
// and chunk size and not on the number of workers. newKernel is called
// once per batch, so that a kernel may own scratch space without
// allocating per row. Use PerRow when allocating per row does not matter.
func Rows(thetaDim, xDim int, newKernel func() Kernel) Simulator {
	return rows{thetaDim, xDim, func() rowFunc {
		k := newKernel()
		return func(x, theta []float64, rng *rand.Rand) error { k(x, theta, rng); return nil }
	}}
}

// PerRow returns a Simulator that calls f once per parameter set: f gets a
// copy of one θ (thetaDim values) and returns its x (xDim values), drawing
// all randomness from rng; a nil x marks a failed simulation, which the
// runner drops. This is the shortest way to bring your own simulator:
//
//	sim := simulator.PerRow(2, 1, func(theta []float64, rng *rand.Rand) []float64 {
//		return []float64{theta[0] + theta[1]*rng.NormFloat64()}
//	})
//
// The draws are reproducible as Rows describes. f is called from several
// goroutines at once by Simulate, each with its own rng.
func PerRow(thetaDim, xDim int, f func(theta []float64, rng *rand.Rand) []float64) Simulator {
	return rows{thetaDim, xDim, func() rowFunc {
		th := make([]float64, thetaDim) // f gets a copy: the dataset's θ stays intact whatever f does
		return func(x, theta []float64, rng *rand.Rand) error {
			copy(th, theta)
			out := f(th, rng)
			if out == nil {
				for i := range x {
					x[i] = math.NaN()
				}
				return nil
			}
			if len(out) != len(x) {
				return fmt.Errorf("%w: the simulator returned %d values of x, want %d", ErrShape, len(out), len(x))
			}
			copy(x, out)
			return nil
		}
	}}
}

// rowFunc is a kernel that can fail.
type rowFunc func(x, theta []float64, rng *rand.Rand) error

type rows struct {
	thetaDim, xDim int
	newKernel      func() rowFunc
}

func (s rows) XDim() int { return s.xDim }

func (s rows) Simulate(x, theta *mat.Dense, src rand.Source) error {
	if x == nil || theta == nil {
		return fmt.Errorf("%w: nil matrix", ErrShape)
	}
	if src == nil {
		return errors.New("simulator: nil random source")
	}
	n, d := theta.Dims()
	xn, xd := x.Dims()
	if d != s.thetaDim || xd != s.xDim || xn != n {
		return fmt.Errorf("%w: theta is %d×%d and x is %d×%d, want n×%d and n×%d",
			ErrShape, n, d, xn, xd, s.thetaDim, s.xDim)
	}
	rng := rand.New(src)
	kernel := s.newKernel()
	for i := range n {
		if err := kernel(x.RawRowView(i), theta.RawRowView(i), rng); err != nil {
			return fmt.Errorf("row %d of the batch: %w", i+1, err)
		}
	}
	return nil
}
